// Call lowering of the SPIR-V generator: barriers, subgroup shuffles (with the IR's
// group width), bit reinterpretation, and float math through GLSL.std.450 (f16 math runs
// in f32, as the LLVM backends do; tanh and erf are the LLVM backends' formulas).
#include <cmath>

#include "codegen/spirv/codegen_spirv_impl.h"
#include "runtime/error.h"

namespace mlcc::codegen::spirv {

using namespace ir;
using spv::Op;

namespace {
Lanes widen(Lanes l, size_t n) {
  if (l.size() == 1 && n > 1) l.assign(n, l[0]);
  return l;
}
}  // namespace

// ---- Calls ------------------------------------------------------------------------------

Lanes CodeGenSpirv::emit_call(const CallNode* op) {
  DataType t = op->dtype;
  switch (op->op) {
    case Intrinsic::kReinterpret:
      return reinterpret(op);
    case Intrinsic::kSyncThreads: {
      // As __syncthreads: workgroup execution barrier ordering workgroup memory and, for
      // kernels that exchange data through global scratch within a block, buffer memory.
      uint32_t sem = static_cast<uint32_t>(spv::MemorySemanticsMask::AcquireRelease) |
                     static_cast<uint32_t>(spv::MemorySemanticsMask::WorkgroupMemory) |
                     static_cast<uint32_t>(spv::MemorySemanticsMask::UniformMemory);
      uint32_t wg = b_.c_u32(static_cast<uint32_t>(spv::Scope::Workgroup));
      b_.op_void(Op::OpControlBarrier, {wg, wg, b_.c_u32(sem)});
      return {};
    }
    case Intrinsic::kWarpShuffleXor:
    case Intrinsic::kWarpShuffleDown: {
      if (op->args.size() != 3) fail("warp shuffle takes (value, lane, width)");
      Lanes v = emit(op->args[0]);
      uint32_t lane = convert(emit_scalar(op->args[1]), op->args[1].dtype(), DataType::u32());
      uint32_t width = convert(emit_scalar(op->args[2]), op->args[2].dtype(), DataType::u32());
      Lanes r;
      for (uint32_t x : v) r.push_back(shuffle_lane(op, x, lane, width));
      return r;
    }
    case Intrinsic::kMmaSync:
      fail(
          "uses mma_m16n8k16, a tensor-core warp matrix multiply that only CUDA targets (sm_80 "
          "or newer) have; schedule it without tensor cores for this target");
    case Intrinsic::kDotI16Pairs:
      fail(
          "uses dot_i16_pairs, a CPU dot product of 16-bit integer pairs; schedule it without it "
          "for this target");
    case Intrinsic::kThreadAllReduce:
      fail(
          "thread_allreduce must be lowered by lower_cross_thread_reduction before code "
          "generation");
    default:
      break;
  }
  if (!t.is_float() || t.is_bfloat())
    fail(std::string(intrinsic_name(op->op)) + " of " + to_string(t));
  // Half-precision math runs in f32 (GLSL.std.450 precision is defined there).
  DataType et = t.element_of();
  std::vector<Lanes> args;
  for (const Expr& a : op->args) args.push_back(widen(emit(a), t.lanes));
  Lanes r;
  for (int i = 0; i < t.lanes; ++i) {
    std::vector<uint32_t> xs;
    for (size_t j = 0; j < args.size(); ++j)
      xs.push_back(convert(args[j][i], op->args[j].dtype().element_of(), DataType::f32()));
    r.push_back(convert(math_lane(op->op, xs), DataType::f32(), et));
  }
  return r;
}

uint32_t CodeGenSpirv::math_lane(Intrinsic op, const std::vector<uint32_t>& a) {
  uint32_t f = b_.t_float(32);
  switch (op) {
    case Intrinsic::kExp:
      return b_.ext(f, GLSLstd450Exp, {a[0]});
    case Intrinsic::kLog:
      return b_.ext(f, GLSLstd450Log, {a[0]});
    case Intrinsic::kSqrt:
      return b_.ext(f, GLSLstd450Sqrt, {a[0]});
    case Intrinsic::kRsqrt:
      return b_.ext(f, GLSLstd450InverseSqrt, {a[0]});
    case Intrinsic::kTanh:
      return tanh_lane(a[0]);
    case Intrinsic::kFabs:
      return b_.ext(f, GLSLstd450FAbs, {a[0]});
    case Intrinsic::kFloor:
      return b_.ext(f, GLSLstd450Floor, {a[0]});
    case Intrinsic::kCeil:
      return b_.ext(f, GLSLstd450Ceil, {a[0]});
    case Intrinsic::kPow:
      return b_.ext(f, GLSLstd450Pow, {a[0], a[1]});
    case Intrinsic::kFma:
      return b_.ext(f, GLSLstd450Fma, {a[0], a[1], a[2]});
    case Intrinsic::kErf:
      return erf_lane(a[0]);
    default:
      fail(std::string("unsupported call ") + intrinsic_name(op));
  }
}

namespace {
// coeffs from the highest power down.
uint32_t horner(SpirvBuilder& b, uint32_t t, std::initializer_list<double> coeffs) {
  uint32_t f = b.t_float(32), acc = 0;
  for (double c : coeffs) {
    uint32_t k = b.c_float(f, 32, c);
    acc = acc ? b.op(Op::OpFAdd, f, {b.op(Op::OpFMul, f, {acc, t}), k}) : k;
  }
  return acc;
}
}  // namespace

// tanh(x) = x + x^3 P(x^2) for |x| < 0.625 (Cephes tanhf), else sign(x) (1 - 2/(e^{2|x|}+1)),
// which saturates to ±1 where GLSL's Tanh may divide inf by inf.
uint32_t CodeGenSpirv::tanh_lane(uint32_t x) {
  uint32_t f = b_.t_float(32), tb = b_.t_bool();
  auto k = [&](double v) { return b_.c_float(f, 32, v); };
  uint32_t ax = b_.ext(f, GLSLstd450FAbs, {x});
  uint32_t z = b_.op(Op::OpFMul, f, {x, x});
  uint32_t p = horner(b_, z,
                      {-5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1,
                       -3.33332819422e-1});
  uint32_t small =
      b_.op(Op::OpFAdd, f, {x, b_.op(Op::OpFMul, f, {b_.op(Op::OpFMul, f, {x, z}), p})});
  uint32_t e = b_.ext(f, GLSLstd450Exp, {b_.op(Op::OpFMul, f, {ax, k(2.0)})});
  uint32_t big = b_.op(Op::OpFSub, f,
                       {k(1.0), b_.op(Op::OpFDiv, f, {k(2.0), b_.op(Op::OpFAdd, f, {e, k(1.0)})})});
  uint32_t neg = b_.op(Op::OpFOrdLessThan, tb, {x, k(0.0)});
  big = b_.op(Op::OpSelect, f, {neg, b_.op(Op::OpFNegate, f, {big}), big});
  return b_.op(Op::OpSelect, f, {b_.op(Op::OpFOrdLessThan, tb, {ax, k(0.625)}), small, big});
}

// erf(x) = sign(x) (1 - erfc(|x|)) with the Numerical Recipes erfc (fractional error below
// 1.2e-7), as the LLVM backends.
uint32_t CodeGenSpirv::erf_lane(uint32_t x) {
  uint32_t f = b_.t_float(32), tb = b_.t_bool();
  auto k = [&](double v) { return b_.c_float(f, 32, v); };
  uint32_t z = b_.ext(f, GLSLstd450FAbs, {x});
  uint32_t t = b_.op(Op::OpFDiv, f,
                     {k(1.0), b_.op(Op::OpFAdd, f, {k(1.0), b_.op(Op::OpFMul, f, {z, k(0.5)})})});
  uint32_t poly = horner(b_, t,
                         {0.17087277, -0.82215223, 1.48851587, -1.13520398, 0.27886807, -0.18628806,
                          0.09678418, 0.37409196, 1.00002368, -1.26551223});
  uint32_t arg = b_.op(Op::OpFSub, f, {poly, b_.op(Op::OpFMul, f, {z, z})});
  uint32_t erfc = b_.op(Op::OpFMul, f, {t, b_.ext(f, GLSLstd450Exp, {arg})});
  uint32_t r = b_.op(Op::OpFSub, f, {k(1.0), erfc});
  uint32_t neg = b_.op(Op::OpFOrdLessThan, tb, {x, k(0.0)});
  return b_.op(Op::OpSelect, f, {neg, b_.op(Op::OpFNegate, f, {r}), r});
}

// Subgroup shuffles (SPIR-V 1.3 GroupNonUniform). Bool lanes travel as u32.
uint32_t CodeGenSpirv::shuffle_lane(const CallNode* op, uint32_t value, uint32_t lane,
                                    uint32_t width) {
  DataType t = op->dtype.element_of();
  uint32_t u32 = b_.t_int(32, false), tb = b_.t_bool();
  if (t.is_bool()) {
    uint32_t bits = b_.op(Op::OpSelect, u32, {value, b_.c_u32(1), b_.c_u32(0)});
    return b_.op(Op::OpINotEqual, tb, {shuffle_lane_bits(op, bits, u32, lane, width), b_.c_u32(0)});
  }
  return shuffle_lane_bits(op, value, reg_type(t), lane, width);
}

uint32_t CodeGenSpirv::shuffle_lane_bits(const CallNode* op, uint32_t value, uint32_t type,
                                         uint32_t lane, uint32_t width) {
  b_.capability(spv::Capability::GroupNonUniform);
  uint32_t scope = b_.c_u32(static_cast<uint32_t>(spv::Scope::Subgroup));
  uint32_t u32 = b_.t_int(32, false), tb = b_.t_bool();
  if (op->op == Intrinsic::kWarpShuffleXor) {
    // lane_mask < width keeps the partner inside the group, so no guard is needed.
    b_.capability(spv::Capability::GroupNonUniformShuffle);
    return b_.op(Op::OpGroupNonUniformShuffleXor, type, {scope, value, lane});
  }
  b_.capability(spv::Capability::GroupNonUniformShuffleRelative);
  uint32_t r = b_.op(Op::OpGroupNonUniformShuffleDown, type, {scope, value, lane});
  // Past the end of its group of `width` lanes a lane keeps its own value.
  uint32_t me = b_.op(Op::OpLoad, u32, {builtin(spv::BuiltIn::SubgroupLocalInvocationId, false)});
  uint32_t in_group =
      b_.op(Op::OpBitwiseAnd, u32, {me, b_.op(Op::OpISub, u32, {width, b_.c_u32(1)})});
  uint32_t ok = b_.op(Op::OpULessThan, tb, {b_.op(Op::OpIAdd, u32, {in_group, lane}), width});
  return b_.op(Op::OpSelect, type, {ok, r, value});
}

// Bit reinterpretation: lane by lane when the lane counts match, else through one SPIR-V
// vector of at most 4 components (u32 <-> f16x2 and the like).
Lanes CodeGenSpirv::reinterpret(const CallNode* op) {
  DataType from = op->args[0].dtype(), to = op->dtype;
  if (from.is_bool() || to.is_bool()) fail("reinterpret of bool values");
  if (from.bits * from.lanes != to.bits * to.lanes)
    fail("reinterpret from " + to_string(from) + " to " + to_string(to) + " changes the size");
  Lanes v = emit(op->args[0]), r;
  if (reg_dtype(from) != from || reg_dtype(to) != to) {
    // f16 kept in f32 registers (-f16=0): GLSL's half packing is exact for these bits.
    uint32_t f32 = b_.t_float(32), v2 = b_.t_vector(f32, 2), u32 = b_.t_int(32, false);
    bool to_half = reg_dtype(to) != to;
    DataType other = to_half ? from : to;
    if (!other.is_integer() || (other.bits != 32 && other.bits != 16))
      fail("reinterpret from " + to_string(from) + " to " + to_string(to) + " with -f16=0");
    if (to_half) {  // u32 -> f16x2 or u16 -> f16
      uint32_t word = convert(v[0], from.element_of(), DataType::u32());
      uint32_t pair = b_.ext(v2, GLSLstd450UnpackHalf2x16, {word});
      for (int i = 0; i < to.lanes; ++i)
        r.push_back(b_.op(Op::OpCompositeExtract, f32, {pair, static_cast<uint32_t>(i)}));
      return r;
    }
    uint32_t hi = from.lanes == 2 ? v[1] : b_.c_float(f32, 32, 0.0);
    uint32_t word =
        b_.ext(u32, GLSLstd450PackHalf2x16, {b_.op(Op::OpCompositeConstruct, v2, {v[0], hi})});
    return {convert(word, DataType::u32(), to)};
  }
  if (from.lanes == to.lanes) {
    for (uint32_t x : v) r.push_back(b_.op(Op::OpBitcast, reg_type(to), {x}));
    return r;
  }
  if (from.lanes > 4 || to.lanes > 4)
    fail("reinterpret from " + to_string(from) + " to " + to_string(to) + " (more than 4 lanes)");
  auto vec_type = [&](DataType t) {
    return t.lanes == 1 ? reg_type(t) : b_.t_vector(reg_type(t), t.lanes);
  };
  uint32_t src = from.lanes == 1 ? v[0] : b_.op(Op::OpCompositeConstruct, vec_type(from), v);
  uint32_t cast = b_.op(Op::OpBitcast, vec_type(to), {src});
  if (to.lanes == 1) return {cast};
  for (int i = 0; i < to.lanes; ++i)
    r.push_back(b_.op(Op::OpCompositeExtract, reg_type(to), {cast, static_cast<uint32_t>(i)}));
  return r;
}

}  // namespace mlcc::codegen::spirv
