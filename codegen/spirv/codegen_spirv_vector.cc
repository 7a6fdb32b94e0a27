// Vector memory access of the SPIR-V generator. The IR's contiguous vector loads become
// one uvec2/uvec4 load per 8 or 16 bytes instead of one load per lane, as the LLVM
// generators' aligned vector loads do: through a second, uvec-typed variable on the binding
// of a storage buffer the kernel only reads, and, for workgroup arrays that are only ever
// accessed in whole aligned pieces, by declaring the array as uvecs.
#include <bit>

#include "codegen/access_alignment.h"
#include "codegen/spirv/codegen_spirv_impl.h"
#include "ir/functor.h"

namespace mlcc::codegen::spirv {

using namespace ir;
using spv::Op;

namespace {

// Elements that split out of 32-bit words: 32-bit ones and f16 pairs.
bool word_splittable(DataType mem) {
  if (mem.bits == 32) return !mem.is_bool();
  return mem.bits == 16 && mem.is_float() && !mem.is_bfloat();
}

}  // namespace

DataType CodeGenSpirv::memory_dtype(const Buffer& b) const {
  DataType et = b->dtype.element_of();
  return buffer_info(b).sc == spv::StorageClass::Workgroup ? reg_dtype(et) : et;
}

int CodeGenSpirv::piece_bytes(const Buffer& b, const Expr& index) const {
  const auto* ramp = index.as<RampNode>();
  DataType mem = memory_dtype(b);
  if (!ramp || !is_const_int(ramp->stride, 1) || !word_splittable(mem)) return 0;
  int bytes = ramp->lanes * mem.bytes();
  int align = access_alignment(b, ramp->base, mem.bytes());
  for (int piece : {16, 8})
    if (bytes % piece == 0 && align % piece == 0) return piece;
  return 0;
}

int CodeGenSpirv::vector_piece(const Buffer& b, const Expr& index) const {
  const BufferInfo& info = buffer_info(b);
  if (info.sc == spv::StorageClass::Workgroup) return info.vector_bytes;
  if (info.sc == spv::StorageClass::StorageBuffer && !stored_.count(b.get()))
    return piece_bytes(b, index);
  return 0;
}

int CodeGenSpirv::shared_vector_bytes(const Buffer& b, const Stmt& body) const {
  int piece = 16;
  pre_order_visit(body, [&](const Node* n) {
    const Expr* index = nullptr;
    if (n->kind == NodeKind::kBufferLoad) {
      const auto* l = static_cast<const BufferLoadNode*>(n);
      if (l->buffer.get() == b.get()) index = &l->indices[0];
    } else if (n->kind == NodeKind::kBufferStore) {
      const auto* s = static_cast<const BufferStoreNode*>(n);
      if (s->buffer.get() == b.get()) index = &s->indices[0];
    }
    if (index) piece = std::min(piece, piece_bytes(b, *index));
  });
  return piece;
}

uint32_t CodeGenSpirv::piece_ptr(const Buffer& b, int words, uint32_t index) {
  const BufferInfo& info = buffer_info(b);
  uint32_t vec = b_.t_vector(b_.t_int(32, false), words);
  uint32_t ptr = b_.t_pointer(info.sc, vec);
  if (info.sc == spv::StorageClass::Workgroup)
    return b_.op(Op::OpAccessChain, ptr, {info.var, index});
  uint32_t& view = vector_views_[{b.get(), words}];
  if (view == 0) {
    // Vulkan lets several variables of one binding differ in type; the kernel never writes
    // this buffer, so reading it through a second variable cannot miss a write.
    uint32_t block = b_.t_block({b_.t_runtime_array(vec, static_cast<uint32_t>(4 * words))}, {0});
    view = b_.global_variable(b_.t_pointer(info.sc, block), info.sc);
    b_.decorate(view, spv::Decoration::DescriptorSet, {0});
    b_.decorate(view, spv::Decoration::Binding, {info.binding});
    b_.decorate(view, spv::Decoration::NonWritable);
    b_.name(view, b->name + "_v" + std::to_string(words));
  }
  return b_.op(Op::OpAccessChain, ptr, {view, b_.c_i32(0), index});
}

// Piece p of the access starting at element `base`: the base is a multiple of the elements
// per piece (piece_bytes checked its alignment), so the shift is exact.
static uint32_t first_piece(SpirvBuilder& b, uint32_t base, int elems_per_piece) {
  uint32_t shift = static_cast<uint32_t>(std::countr_zero(static_cast<unsigned>(elems_per_piece)));
  return b.op(Op::OpShiftRightArithmetic, b.t_int(32, true), {base, b.c_i32(shift)});
}

Lanes CodeGenSpirv::load_vector(const BufferLoadNode* op, int piece) {
  const auto* ramp = op->indices[0].as<RampNode>();
  DataType et = op->buffer->dtype.element_of(), mem = memory_dtype(op->buffer);
  int words = piece / 4, per_piece = piece / mem.bytes();
  uint32_t u32 = b_.t_int(32, false), i32 = b_.t_int(32, true), reg = reg_type(et);
  uint32_t vec = b_.t_vector(u32, words);
  uint32_t first = first_piece(
      b_, convert(emit_scalar(ramp->base), ramp->base.dtype(), DataType::i32()), per_piece);
  Lanes r;
  for (int p = 0; p < ramp->lanes / per_piece; ++p) {
    uint32_t index = p == 0 ? first : b_.op(Op::OpIAdd, i32, {first, b_.c_i32(p)});
    uint32_t v = b_.op(Op::OpLoad, vec, {piece_ptr(op->buffer, words, index)});
    for (int w = 0; w < words; ++w) {
      uint32_t word = b_.op(Op::OpCompositeExtract, u32, {v, static_cast<uint32_t>(w)});
      if (mem.bits == 32) {
        r.push_back(reg == u32 ? word : b_.op(Op::OpBitcast, reg, {word}));
        continue;
      }
      // f16 pairs: into f16 registers by bitcast, into f32 ones (-f16=0) by unpacking.
      uint32_t pair = reg_dtype(et) == et
                          ? b_.op(Op::OpBitcast, b_.t_vector(reg, 2), {word})
                          : b_.ext(b_.t_vector(reg, 2), GLSLstd450UnpackHalf2x16, {word});
      for (uint32_t h = 0; h < 2; ++h) r.push_back(b_.op(Op::OpCompositeExtract, reg, {pair, h}));
    }
  }
  return r;
}

// Only vector workgroup arrays take vector stores: they hold register values, so f16 pairs
// are f16 registers (memory_dtype) and go in by bitcast.
void CodeGenSpirv::store_vector(const BufferStoreNode* op) {
  const BufferInfo& info = buffer_info(op->buffer);
  const auto* ramp = op->indices[0].as<RampNode>();
  DataType et = op->buffer->dtype.element_of(), mem = memory_dtype(op->buffer);
  int words = info.vector_bytes / 4, per_piece = info.vector_bytes / mem.bytes();
  uint32_t u32 = b_.t_int(32, false), i32 = b_.t_int(32, true), reg = reg_type(et);
  uint32_t vec = b_.t_vector(u32, words);
  Lanes val = emit(op->value);
  if (val.size() == 1) val.assign(ramp->lanes, val[0]);
  uint32_t first = first_piece(
      b_, convert(emit_scalar(ramp->base), ramp->base.dtype(), DataType::i32()), per_piece);
  for (int p = 0; p < ramp->lanes / per_piece; ++p) {
    std::vector<uint32_t> parts;
    for (int w = 0; w < words; ++w) {
      if (mem.bits == 32) {
        uint32_t x = val[p * per_piece + w];
        parts.push_back(reg == u32 ? x : b_.op(Op::OpBitcast, u32, {x}));
        continue;
      }
      size_t at = static_cast<size_t>(p * per_piece + 2 * w);
      uint32_t pair = b_.op(Op::OpCompositeConstruct, b_.t_vector(reg, 2), {val[at], val[at + 1]});
      parts.push_back(b_.op(Op::OpBitcast, u32, {pair}));
    }
    uint32_t index = p == 0 ? first : b_.op(Op::OpIAdd, i32, {first, b_.c_i32(p)});
    b_.op_void(Op::OpStore,
               {piece_ptr(op->buffer, words, index), b_.op(Op::OpCompositeConstruct, vec, parts)});
  }
}

}  // namespace mlcc::codegen::spirv
