// SPIR-V code generation for Vulkan, kernel side: the interface (storage buffers, the
// push-constant block, builtins, LocalSize), statements in structured control flow,
// workgroup and function memory, and the launch extents. The ABI is in codegen_spirv.h.
#include "codegen/spirv/codegen_spirv.h"

#include <algorithm>

#include "codegen/launch_extents.h"
#include "codegen/spirv/codegen_spirv_impl.h"
#include "ir/functor.h"
#include "runtime/error.h"

namespace mlcc::codegen {

using namespace ir;
using spv::Op;

namespace spirv {

namespace {

int64_t constant_elements(const Buffer& b) {
  int64_t n = 1;
  for (const Expr& d : b->shape) {
    int64_t v;
    if (!is_const_int(d, &v)) return -1;
    n *= v;
  }
  return n;
}

// Loops of at most this many iterations marked kUnrolled are emitted unrolled; longer
// ones become loops with the Unroll hint.
constexpr int64_t kMaxEmittedUnroll = 64;

}  // namespace

SpirvKernel CodeGenSpirv::build(const PrimFunc& f) {
  func_name_ = f.name;
  compute_launch_extents(f);
  SpirvKernel k;
  k.name = f.name;
  int64_t threads = 1;
  for (int a = 0; a < 3; ++a) {
    k.grid[a] = grid_[a].defined() ? grid_[a] : Expr(1);
    int64_t n = 1;
    if (block_[a].defined() && !is_const_int(block_[a], &n))
      fail(std::string("the extent of threadIdx.") + "xyz"[a] +
           " is symbolic; the workgroup size (LocalSize) must be a constant");
    k.block[a] = static_cast<int>(n);
    threads *= n;
  }
  if (threads > target_.max_threads_per_block)
    fail("workgroup of " + std::to_string(threads) +
         " invocations exceeds the target's -max-threads=" +
         std::to_string(target_.max_threads_per_block));
  b_.capability(spv::Capability::Shader);

  pre_order_visit(f.body, [&](const Node* n) {
    if (n->kind == NodeKind::kBufferStore)
      stored_.insert(static_cast<const BufferStoreNode*>(n)->buffer.get());
  });
  // Storage buffers: set 0, binding = parameter index.
  for (size_t i = 0; i < f.buffers.size(); ++i) {
    const Buffer& buf = f.buffers[i];
    DataType et = buf->dtype.element_of();
    bool packed = et.bits == 16 && !et.is_bfloat() && !target_.storage_16bit;
    uint32_t elem = packed ? b_.t_int(32, false) : storage_type(et);
    uint32_t arr = b_.t_runtime_array(elem, packed ? 4 : static_cast<uint32_t>(et.bytes()));
    uint32_t block = b_.t_block({arr}, {0});
    uint32_t var = b_.global_variable(b_.t_pointer(spv::StorageClass::StorageBuffer, block),
                                      spv::StorageClass::StorageBuffer);
    b_.decorate(var, spv::Decoration::DescriptorSet, {0});
    b_.decorate(var, spv::Decoration::Binding, {static_cast<uint32_t>(i)});
    b_.name(var, buf->name);
    // Lets the driver read through its read-only caches.
    if (!stored_.count(buf.get())) b_.decorate(var, spv::Decoration::NonWritable);
    buffers_[buf.get()] = {var, spv::StorageClass::StorageBuffer, elem, packed,
                           static_cast<uint32_t>(i)};
    for (const Expr& d : buf->shape)
      if (const auto* v = d.as<VarNode>()) non_negative_vars_.insert(v);
  }
  k.num_buffers = static_cast<int>(f.buffers.size());

  uint32_t i32 = b_.t_int(32, true);
  uint32_t push = 0;
  if (!f.scalars.empty()) {
    std::vector<uint32_t> members(f.scalars.size(), i32), offsets;
    for (size_t j = 0; j < f.scalars.size(); ++j) offsets.push_back(static_cast<uint32_t>(4 * j));
    uint32_t block = b_.t_block(members, offsets);
    push = b_.global_variable(b_.t_pointer(spv::StorageClass::PushConstant, block),
                              spv::StorageClass::PushConstant);
    b_.name(push, "scalars");
    k.push_constant_bytes = static_cast<int>(4 * f.scalars.size());
  }

  uint32_t fn = b_.begin_function(b_.t_void(), b_.t_function(b_.t_void()));
  uint32_t ptr_i32 = b_.t_pointer(spv::StorageClass::PushConstant, i32);
  for (size_t j = 0; j < f.scalars.size(); ++j) {
    const Var& v = f.scalars[j];
    uint32_t raw =
        b_.op(Op::OpLoad, i32,
              {b_.op(Op::OpAccessChain, ptr_i32, {push, b_.c_i32(static_cast<int32_t>(j))})});
    DataType t = v.dtype();
    uint32_t val;
    if (t.is_float() && t.bits == 32)
      val = b_.op(Op::OpBitcast, reg_type(t), {raw});
    else if (t.is_integer() || t.is_bool())
      val = convert(raw, DataType::i32(), t);
    else
      fail("scalar parameter '" + v.name() + "' of type " + to_string(t) +
           " cannot travel in the 32-bit push constants");
    vars_[v.get()] = {val};
  }
  emit_stmt(f.body);
  b_.op_void(Op::OpReturn, {});
  b_.end_function();
  // One module per kernel, so the entry point is always "main" (the runtime device's
  // convention); the function keeps the kernel's name for disassembly.
  b_.name(fn, f.name);
  b_.entry_point(fn, kSpirvEntryPoint, interface_, k.block[0], k.block[1], k.block[2]);
  k.shared_bytes = shared_bytes_;
  if (shared_bytes_ > target_.max_shared_memory)
    fail("workgroup memory of " + std::to_string(shared_bytes_) +
         " bytes exceeds the target's -shared-memory=" + std::to_string(target_.max_shared_memory));
  k.words = b_.finish();
  return k;
}

void CodeGenSpirv::compute_launch_extents(const PrimFunc& f) {
  LaunchExtents e = collect_launch_extents(f, "vulkan");
  grid_ = e.grid;
  block_ = e.block;
}

uint32_t CodeGenSpirv::builtin(spv::BuiltIn which, bool vec3) {
  auto key = static_cast<uint32_t>(which);
  auto it = builtins_.find(key);
  if (it != builtins_.end()) return it->second;
  uint32_t u32 = b_.t_int(32, false);
  uint32_t type = vec3 ? b_.t_vector(u32, 3) : u32;
  uint32_t var =
      b_.global_variable(b_.t_pointer(spv::StorageClass::Input, type), spv::StorageClass::Input);
  b_.decorate(var, spv::Decoration::BuiltIn, {key});
  interface_.push_back(var);
  builtins_[key] = var;
  return var;
}

// ---- Statements -------------------------------------------------------------------------

void CodeGenSpirv::emit_stmt(const Stmt& s) {
  if (!s.defined()) return;
  if (const auto* n = s.as<ForNode>()) return emit_for(n);
  if (const auto* n = s.as<BufferStoreNode>()) return emit_store(n);
  if (const auto* n = s.as<AllocateNode>()) return emit_allocate(n);
  if (const auto* n = s.as<SeqNode>()) {
    for (const Stmt& c : n->seq) emit_stmt(c);
    return;
  }
  if (const auto* n = s.as<EvaluateNode>()) {
    emit(n->value);
    return;
  }
  if (const auto* n = s.as<LetStmtNode>()) {
    vars_[n->var.get()] = emit(n->value);
    if (non_negative(n->value)) non_negative_vars_.insert(n->var.get());
    emit_stmt(n->body);
    return;
  }
  if (const auto* n = s.as<IfThenElseNode>()) {
    uint32_t cond = emit_scalar(n->cond);
    SpirvBuilder::If branch = b_.begin_if(cond, n->else_case.defined());
    emit_stmt(n->then_case);
    if (n->else_case.defined()) {
      b_.begin_else(branch);
      emit_stmt(n->else_case);
    }
    b_.end_if(branch);
    return;
  }
  fail(std::string("unsupported statement ") + kind_name(s.kind()));
}

void CodeGenSpirv::emit_for(const ForNode* op) {
  if (op->for_kind == ForKind::kThreadBinding) return emit_thread_binding(op);
  DataType t = op->var.dtype();
  if (!t.is_integer()) fail("loop variable '" + op->var.name() + "' is not an integer");
  uint32_t ty = reg_type(t);
  uint32_t begin = emit_scalar(op->min);
  if (non_negative(op->min)) non_negative_vars_.insert(op->var.get());
  int64_t extent = 0, min = 0;
  if (op->for_kind == ForKind::kUnrolled && is_const_int(op->extent, &extent) &&
      extent <= kMaxEmittedUnroll) {
    bool const_min = is_const_int(op->min, &min);
    for (int64_t i = 0; i < extent; ++i) {
      uint32_t v = const_min ? b_.c_int(ty, t.bits, min + i)
                             : b_.op(Op::OpIAdd, ty, {begin, b_.c_int(ty, t.bits, i)});
      vars_[op->var.get()] = {v};
      emit_stmt(op->body);
    }
    return;
  }
  uint32_t end =
      b_.op(Op::OpIAdd, ty, {begin, convert(emit_scalar(op->extent), op->extent.dtype(), t)});
  SpirvBuilder::Loop loop = b_.begin_loop(ty, t.is_int(), begin, end, b_.c_int(ty, t.bits, 1),
                                          op->for_kind == ForKind::kUnrolled);
  vars_[op->var.get()] = {loop.var};
  emit_stmt(op->body);
  b_.end_loop(loop);
}

void CodeGenSpirv::emit_thread_binding(const ForNode* op) {
  bool block = is_block_axis(op->thread_axis);
  int axis = launch_axis_index(op->thread_axis);
  uint32_t u32 = b_.t_int(32, false);
  uint32_t ids =
      b_.op(Op::OpLoad, b_.t_vector(u32, 3),
            {builtin(block ? spv::BuiltIn::WorkgroupId : spv::BuiltIn::LocalInvocationId, true)});
  uint32_t id = b_.op(Op::OpCompositeExtract, u32, {ids, static_cast<uint32_t>(axis)});
  DataType t = op->var.dtype();
  uint32_t idv = convert(id, DataType::u32(), t);
  uint32_t v =
      is_const_int(op->min, 0) ? idv : b_.op(Op::OpIAdd, reg_type(t), {idv, emit_scalar(op->min)});
  vars_[op->var.get()] = {v};
  if (non_negative(op->min)) non_negative_vars_.insert(op->var.get());
  const Expr& launch = (block ? grid_ : block_)[axis];
  if (same_launch_extent(op->extent, launch)) return emit_stmt(op->body);
  // This loop covers fewer indices than the launch has along the axis: guard.
  uint32_t ext = convert(emit_scalar(op->extent), op->extent.dtype(), t);
  uint32_t in_range =
      b_.op(t.is_uint() ? Op::OpULessThan : Op::OpSLessThan, b_.t_bool(), {idv, ext});
  SpirvBuilder::If guard = b_.begin_if(in_range, false);
  emit_stmt(op->body);
  b_.end_if(guard);
}

// ---- Memory -----------------------------------------------------------------------------

void CodeGenSpirv::emit_allocate(const AllocateNode* op) {
  const Buffer& buf = op->buffer;
  if (buf->scope == MemScope::kGlobal)
    fail("allocates global scratch '" + buf->name + "'; global scratch must be passed as a buffer");
  int64_t n = constant_elements(buf);
  if (n < 0)
    fail("buffer '" + buf->name +
         "' has a symbolic size; shared and local memory must be statically sized");
  uint32_t elem = reg_type(buf->dtype);
  uint32_t arr = b_.t_array(elem, static_cast<uint32_t>(std::max<int64_t>(n, 1)));
  BufferInfo info{0, spv::StorageClass::Function, elem};
  if (buf->scope == MemScope::kShared) {
    info.sc = spv::StorageClass::Workgroup;
    buffers_[buf.get()] = info;  // for shared_vector_bytes
    DataType rt = reg_dtype(buf->dtype.element_of());
    int bytes = static_cast<int>(n) * (rt.is_bool() ? 4 : rt.bytes());
    int piece = shared_vector_bytes(buf, op->body);
    if (piece > 0 && bytes % piece == 0) {
      info.vector_bytes = piece;
      arr = b_.t_array(b_.t_vector(b_.t_int(32, false), piece / 4),
                       static_cast<uint32_t>(bytes / piece));
    }
    info.var = b_.global_variable(b_.t_pointer(info.sc, arr), info.sc);
    shared_bytes_ += bytes;
  } else {
    info.var = b_.local_variable(b_.t_pointer(info.sc, arr));
  }
  b_.name(info.var, buf->name);
  buffers_[buf.get()] = info;
  emit_stmt(op->body);
}

const CodeGenSpirv::BufferInfo& CodeGenSpirv::buffer_info(const Buffer& b) const {
  auto it = buffers_.find(b.get());
  if (it == buffers_.end())
    fail("buffer '" + b->name + "' is neither a parameter nor allocated where it is used");
  if (b.ndim() != 1 || !b->strides.empty()) fail("buffer '" + b->name + "' was not flattened");
  return it->second;
}

uint32_t CodeGenSpirv::element_ptr(const Buffer& b, uint32_t index, DataType index_type) {
  const BufferInfo& info = buffer_info(b);
  // 32-bit indices: no Int64 capability for addressing.
  if (index_type.bits != 32 || index_type.is_uint())
    index = convert(index, index_type, DataType::i32());
  uint32_t ptr = b_.t_pointer(info.sc, info.elem);
  if (info.sc == spv::StorageClass::StorageBuffer)
    return b_.op(Op::OpAccessChain, ptr, {info.var, b_.c_i32(0), index});
  return b_.op(Op::OpAccessChain, ptr, {info.var, index});
}

void CodeGenSpirv::emit_store(const BufferStoreNode* op) {
  if (op->indices.size() != 1)
    fail("store to buffer '" + op->buffer->name + "', which was not flattened");
  const BufferInfo& info = buffer_info(op->buffer);
  if (info.vector_bytes > 0) return store_vector(op);
  DataType et = op->buffer->dtype.element_of();
  int lanes = op->value.dtype().lanes;
  Lanes idx = emit(op->indices[0]), val = emit(op->value);
  if (idx.size() == 1 && lanes > 1) idx.assign(lanes, idx[0]);
  if (val.size() == 1 && idx.size() > 1) val.assign(idx.size(), val[0]);
  DataType it = op->indices[0].dtype().element_of();
  for (size_t i = 0; i < idx.size(); ++i) {
    uint32_t v = val[i];
    if (info.packed) {
      store_packed(op->buffer, idx[i], it, v);
      continue;
    }
    if (info.sc == spv::StorageClass::StorageBuffer && reg_dtype(et) != et)
      v = b_.op(Op::OpFConvert, info.elem, {v});
    b_.op_void(Op::OpStore, {element_ptr(op->buffer, idx[i], it), v});
  }
}

}  // namespace spirv

SpirvKernel build_spirv_kernel(const PrimFunc& f, const Target& target) {
  if (target.kind != TargetKind::kVulkan)
    throw Error("code generation (vulkan): target '" + target.str() + "' is not a vulkan target");
  return spirv::CodeGenSpirv(target).build(f);
}

std::vector<uint32_t> codegen_spirv(const PrimFunc& f, const Target& target) {
  return build_spirv_kernel(f, target).words;
}

}  // namespace mlcc::codegen
