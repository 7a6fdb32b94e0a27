// The interpreter's evaluation machine: statements, expressions, buffer accesses with
// bounds checks, allocations, and the entry point interpret().
#include "ir/interpreter.h"

#include <sys/mman.h>
#include <unistd.h>

#include "ir/interpreter_impl.h"
#include "ir/printer.h"

namespace mlcc::ir {

namespace interp {

namespace {

const Value& lookup(Frame& fr, const VarNode* v) {
  for (Frame* f = &fr; f; f = f->parent) {
    auto it = f->vars.find(v);
    if (it != f->vars.end()) return it->second;
  }
  throw Error("variable '" + v->name + "' is used but not defined");
}

Storage& find_storage(Frame& fr, const Buffer& b) {
  for (Frame* f = &fr; f; f = f->parent) {
    auto it = f->buffers.find(b.get());
    if (it != f->buffers.end()) return *it->second;
  }
  throw Error("buffer '" + b->name + "' is neither a parameter nor allocated here");
}

std::string join(const std::vector<int64_t>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s;
}

// Removes a buffer binding when its Allocate ends, also when an error unwinds through it.
struct BufferScope {
  Frame& frame;
  const BufferNode* buffer;
  ~BufferScope() { frame.buffers.erase(buffer); }
};

}  // namespace

Machine::Machine(const PrimFunc& f, const InterpreterOptions& options)
    : func_(f), options_(options) {
  if (options_.warp_size < 1) throw Error("warp_size must be positive");
  page_bytes_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  stack_map_bytes_ =
      (options_.fiber_stack_bytes + page_bytes_ - 1) / page_bytes_ * page_bytes_ + page_bytes_;
}

Machine::~Machine() {
  for (char* s : stacks_) munmap(s, stack_map_bytes_);
}

char* Machine::fiber_stack(int i) {
  while (static_cast<int>(stacks_.size()) <= i) {
    void* p = mmap(nullptr, stack_map_bytes_, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) throw Error("cannot reserve a fiber stack for the interpreter");
    // The lowest page stays inaccessible, so an overflow faults instead of corrupting.
    mprotect(p, page_bytes_, PROT_NONE);
    stacks_.push_back(static_cast<char*>(p));
  }
  return stacks_[i] + page_bytes_;
}

void Machine::run(const std::vector<HostBuffer>& buffers, const std::vector<ScalarValue>& scalars) {
  if (buffers.size() != func_.buffers.size())
    throw Error("expected " + std::to_string(func_.buffers.size()) + " buffers, got " +
                std::to_string(buffers.size()));
  if (scalars.size() != func_.scalars.size())
    throw Error("expected " + std::to_string(func_.scalars.size()) + " scalars, got " +
                std::to_string(scalars.size()));
  Frame root;
  for (size_t i = 0; i < scalars.size(); ++i) {
    const Var& v = func_.scalars[i];
    DataType t = v.dtype();
    if (t.is_float()) {
      double d = scalars[i].is_float ? scalars[i].f : static_cast<double>(scalars[i].i);
      root.vars[v.get()] = Value::of_float(t, round_float(t, d));
    } else if (!scalars[i].is_float && (t.is_integer() || t.is_bool())) {
      root.vars[v.get()] = Value::of_int(t, wrap_int(t, scalars[i].i));
    } else {
      throw Error("scalar '" + v.name() + "' of type " + to_string(t) + " was given a " +
                  (scalars[i].is_float ? "float" : "integer"));
    }
  }
  std::vector<std::unique_ptr<Storage>> params;
  for (size_t i = 0; i < buffers.size(); ++i) {
    const Buffer& b = func_.buffers[i];
    auto st = make_storage(b, root);
    st->owned.reset();
    st->data = static_cast<uint8_t*>(buffers[i].data);
    st->bytes = buffers[i].data ? buffers[i].bytes : 0;
    root.buffers[b.get()] = st.get();
    params.push_back(std::move(st));
  }
  exec(func_.body, root);
}

std::unique_ptr<Storage> Machine::make_storage(const Buffer& b, Frame& fr) {
  if (!b->dtype.is_scalar())
    throw Error("buffer '" + b->name + "' has vector element type " + to_string(b->dtype) +
                ", which the interpreter does not support");
  auto st = std::make_unique<Storage>();
  st->name = b->name;
  st->dtype = b->dtype;
  for (const Expr& e : b->shape) {
    st->shape.push_back(eval_int(e, fr));
    if (st->shape.back() < 0)
      throw Error("buffer '" + b->name + "' has negative shape [" + join(st->shape) + "]");
  }
  int64_t elems = 1;
  if (b->strides.empty()) {
    st->strides.assign(st->shape.size(), 1);
    for (size_t a = st->shape.size(); a-- > 1;) st->strides[a - 1] = st->strides[a] * st->shape[a];
    for (int64_t d : st->shape) elems *= d;
  } else {
    for (const Expr& e : b->strides) st->strides.push_back(eval_int(e, fr));
    for (size_t a = 0; a < st->shape.size(); ++a) {
      if (st->shape[a] == 0) elems = 0;
      if (elems) elems += (st->shape[a] - 1) * st->strides[a];
    }
  }
  st->bytes = static_cast<size_t>(elems) * b->dtype.bytes();
  if (st->bytes > (size_t{1} << 36))
    throw Error("buffer '" + b->name + "' of " + std::to_string(st->bytes) + " bytes is too large");
  return st;
}

void Machine::exec(const Stmt& s, Frame& fr) {
  switch (s.kind()) {
    case NodeKind::kFor:
      return exec_for(static_cast<const ForNode*>(s.get()), s, fr);
    case NodeKind::kBufferStore:
      return exec_store(static_cast<const BufferStoreNode*>(s.get()), fr);
    case NodeKind::kAllocate:
      return exec_allocate(static_cast<const AllocateNode*>(s.get()), fr);
    case NodeKind::kIfThenElse: {
      const auto* n = static_cast<const IfThenElseNode*>(s.get());
      if (eval_int(n->cond, fr))
        exec(n->then_case, fr);
      else if (n->else_case.defined())
        exec(n->else_case, fr);
      return;
    }
    case NodeKind::kLetStmt: {
      const auto* n = static_cast<const LetStmtNode*>(s.get());
      Value v = eval(n->value, fr);
      fr.vars[n->var.get()] = std::move(v);
      return exec(n->body, fr);
    }
    case NodeKind::kSeq:
      for (const Stmt& c : static_cast<const SeqNode*>(s.get())->seq) exec(c, fr);
      return;
    case NodeKind::kEvaluate:
      eval(static_cast<const EvaluateNode*>(s.get())->value, fr);
      return;
    default:
      MLCC_CHECK(false, "not a statement");
  }
}

void Machine::exec_for(const ForNode* n, const Stmt& self, Frame& fr) {
  DataType vt = n->var.dtype();
  if (n->for_kind == ForKind::kThreadBinding && is_thread_axis(n->thread_axis)) {
    if (!fr.thread) return ThreadBlock(*this, fr, self).run();
    // Already inside the block: the loop selects this thread's index on its axis.
    int axis = static_cast<int>(n->thread_axis) - static_cast<int>(ThreadAxis::kThreadX);
    int64_t mn = eval_int(n->min, fr), ext = eval_int(n->extent, fr);
    if (ext > fr.thread->block->dim(axis))
      throw Error(std::string("loop over '") + n->var.name() + "' bound to " +
                  thread_axis_name(n->thread_axis) + " has extent " + std::to_string(ext) +
                  " inside a block of only " + std::to_string(fr.thread->block->dim(axis)) +
                  " threads on that axis");
    int64_t idx = fr.thread->idx[axis];
    if (idx >= ext) return;
    fr.vars[n->var.get()] = Value::of_int(vt, wrap_int(vt, mn + idx));
    fr.thread->axis_of_var[n->var.get()] = axis;
    return exec(n->body, fr);
  }
  if (n->for_kind == ForKind::kThreadBinding && fr.thread)
    throw Error(std::string("loop over '") + n->var.name() + "' bound to " +
                thread_axis_name(n->thread_axis) + " inside a threadIdx loop");
  int64_t mn = eval_int(n->min, fr), ext = eval_int(n->extent, fr);
  Value& slot = fr.vars[n->var.get()];
  slot = Value::of_int(vt, 0);
  int block_axis = is_block_axis(n->thread_axis)
                       ? static_cast<int>(n->thread_axis) - static_cast<int>(ThreadAxis::kBlockX)
                       : -1;
  for (int64_t k = 0; k < ext; ++k) {
    slot[0].i = wrap_int(vt, mn + k);
    if (block_axis >= 0) block_index[block_axis] = k;
    exec(n->body, fr);
  }
  if (block_axis >= 0) block_index[block_axis] = 0;
}

void Machine::exec_store(const BufferStoreNode* n, Frame& fr) {
  Storage& st = find_storage(fr, n->buffer);
  Value v = eval(n->value, fr);
  int lanes = v.lanes();
  int64_t small[16];
  std::unique_ptr<int64_t[]> big;
  int64_t* off = lanes <= 16 ? small : (big.reset(new int64_t[lanes]), big.get());
  address(st, n->indices, lanes, fr, off, "store to", nullptr);
  int eb = st.dtype.bytes();
  try {
    for (int k = 0; k < lanes; ++k) store_lane(st.dtype, st.data + off[k] * eb, v[k]);
  } catch (const OpError& e) {
    throw Error(e.msg + " in store to buffer '" + st.name + "'");
  }
}

void Machine::exec_allocate(const AllocateNode* n, Frame& fr) {
  const Buffer& b = n->buffer;
  if (b->scope == MemScope::kShared && fr.thread)
    throw Error("shared allocation '" + b->name +
                "' executed inside a thread loop; shared allocations must enclose the "
                "thread loops");
  std::unique_ptr<Storage> st = make_storage(b, fr);
  st->owned.reset(new uint8_t[st->bytes ? st->bytes : 1]);
  st->data = st->owned.get();
  size_t elems = st->bytes / b->dtype.bytes();
  try {
    poison(b->dtype, st->data, elems);
  } catch (const OpError& e) {
    throw Error(e.msg + " in allocation of '" + b->name + "'");
  }
  fr.buffers[b.get()] = st.get();
  BufferScope scope{fr, b.get()};
  exec(n->body, fr);
}

void Machine::address(const Storage& st, const std::vector<Expr>& indices, int lanes, Frame& fr,
                      int64_t* off, const char* access, const Expr* load) {
  size_t rank = indices.size();
  if (rank != st.shape.size())
    throw Error("buffer '" + st.name + "' has rank " + std::to_string(st.shape.size()) +
                " but was accessed with " + std::to_string(rank) + " indices");
  Value inline_idx[4];
  std::vector<Value> heap_idx;
  Value* idx = inline_idx;
  if (rank > 4) heap_idx.resize(rank), idx = heap_idx.data();
  for (size_t a = 0; a < rank; ++a) {
    idx[a] = eval(indices[a], fr);
    if (idx[a].lanes() != 1 && idx[a].lanes() != lanes)
      throw Error("index " + to_string(indices[a]) + " of buffer '" + st.name + "' has " +
                  std::to_string(idx[a].lanes()) + " lanes, the access has " +
                  std::to_string(lanes));
  }
  int64_t eb = st.dtype.bytes();
  for (int k = 0; k < lanes; ++k) {
    int64_t o = 0;
    bool ok = true;
    for (size_t a = 0; a < rank; ++a) {
      int64_t i = idx[a].i(k);
      ok = ok && i >= 0 && i < st.shape[a];
      o += i * st.strides[a];
    }
    bool in_bytes = ok && static_cast<uint64_t>((o + 1) * eb) <= st.bytes;
    if (!ok || !in_bytes) {
      std::vector<int64_t> tuple;
      for (size_t a = 0; a < rank; ++a) tuple.push_back(idx[a].i(k));
      std::string lane = lanes > 1 ? " (lane " + std::to_string(k) + ")" : "";
      std::string why = !ok ? "outside its shape [" + join(st.shape) + "]"
                            : "past the " + std::to_string(st.bytes) + " bytes given (shape [" +
                                  join(st.shape) + "])";
      throw Error(std::string("out-of-bounds ") + access + " buffer '" + st.name + "': index [" +
                  join(tuple) + "]" + lane + " is " + why +
                  (load ? " in `" + to_string(*load) + "`" : std::string()));
    }
    off[k] = o;
  }
}

Value Machine::eval_load(const BufferLoadNode* n, const Expr& self, Frame& fr) {
  Storage& st = find_storage(fr, n->buffer);
  int lanes = n->dtype.lanes;
  int64_t small[16];
  std::unique_ptr<int64_t[]> big;
  int64_t* off = lanes <= 16 ? small : (big.reset(new int64_t[lanes]), big.get());
  address(st, n->indices, lanes, fr, off, "load of", &self);
  Value r(st.dtype.with_lanes(lanes));
  int eb = st.dtype.bytes();
  try {
    for (int k = 0; k < lanes; ++k) load_lane(st.dtype, st.data + off[k] * eb, &r[k]);
  } catch (const OpError& e) {
    throw Error(e.msg + " in load of buffer '" + st.name + "'");
  }
  return r;
}

int64_t Machine::eval_int(const Expr& e, Frame& fr) {
  Value v = eval(e, fr);
  if (!v.type().is_scalar() || !(v.type().is_integer() || v.type().is_bool()))
    throw Error("expected a scalar integer, got " + to_string(v.type()) + " from " + to_string(e));
  return v[0].i;
}

Value Machine::eval(const Expr& e, Frame& fr) {
  const ExprNode* n = e.get();
  try {
    switch (n->kind) {
      case NodeKind::kIntImm:
        return Value::of_int(n->dtype,
                             wrap_int(n->dtype, static_cast<const IntImmNode*>(n)->value));
      case NodeKind::kFloatImm:
        return Value::of_float(n->dtype,
                               round_float(n->dtype, static_cast<const FloatImmNode*>(n)->value));
      case NodeKind::kVar:
        return lookup(fr, static_cast<const VarNode*>(n));
      case NodeKind::kNot:
        return not_op(eval(static_cast<const NotNode*>(n)->a, fr));
      case NodeKind::kSelect: {
        const auto* s = static_cast<const SelectNode*>(n);
        Value c = eval(s->cond, fr);
        Value t = eval(s->true_value, fr);
        return select_op(c, t, eval(s->false_value, fr));
      }
      case NodeKind::kCast:
        return cast_value(n->dtype, eval(static_cast<const CastNode*>(n)->value, fr));
      case NodeKind::kRamp: {
        const auto* r = static_cast<const RampNode*>(n);
        Value base = eval(r->base, fr), stride = eval(r->stride, fr);
        Value out(n->dtype);
        DataType et = n->dtype.element_of();
        for (int k = 0; k < r->lanes; ++k) {
          if (et.is_float())
            out[k].f = round_float(et, base[0].f + k * stride[0].f);
          else
            out[k].i = wrap_int(et, static_cast<int64_t>(static_cast<uint64_t>(base[0].i) +
                                                         static_cast<uint64_t>(k) *
                                                             static_cast<uint64_t>(stride[0].i)));
        }
        return out;
      }
      case NodeKind::kBroadcast: {
        Value v = eval(static_cast<const BroadcastNode*>(n)->value, fr);
        Value out(n->dtype);
        for (int k = 0; k < n->dtype.lanes; ++k) out[k] = v[0];
        return out;
      }
      case NodeKind::kBufferLoad:
        return eval_load(static_cast<const BufferLoadNode*>(n), e, fr);
      case NodeKind::kCall:
        return eval_call(static_cast<const CallNode*>(n), e, fr);
      default: {
        const auto* b = static_cast<const BinaryNode*>(n);
        Value a = eval(b->a, fr);
        return binary_op(n->kind, n->dtype, a, eval(b->b, fr));
      }
    }
  } catch (const OpError& err) {
    throw Error(err.msg + " in `" + to_string(e) + "`");
  }
}

Value Machine::eval_call(const CallNode* n, const Expr& self, Frame& fr) {
  ThreadState* t = fr.thread;
  auto need_thread = [&]() {
    if (!t)
      throw Error(std::string(intrinsic_name(n->op)) + "() outside any threadIdx loop in `" +
                  to_string(self) + "`");
  };
  switch (n->op) {
    case Intrinsic::kReinterpret: {
      if (n->args.size() != 1) throw OpError{"reinterpret takes one argument"};
      return reinterpret_value(n->dtype, eval(n->args[0], fr));
    }
    case Intrinsic::kSyncThreads:
      need_thread();
      t->block->wait(*t, Wait::kBarrier);
      return Value();
    case Intrinsic::kWarpShuffleXor:
    case Intrinsic::kWarpShuffleDown: {
      need_thread();
      if (n->args.size() != 3) throw OpError{"a warp shuffle takes (value, lane, width)"};
      Value v = eval(n->args[0], fr);
      int64_t a1 = eval_int(n->args[1], fr), a2 = eval_int(n->args[2], fr);
      t->in = std::move(v), t->arg1 = a1, t->arg2 = a2;
      t->block->wait(*t,
                     n->op == Intrinsic::kWarpShuffleXor ? Wait::kShuffleXor : Wait::kShuffleDown);
      return std::move(t->out);
    }
    case Intrinsic::kMmaSync: {
      need_thread();
      if (n->args.size() != 3 || n->dtype != DataType::f32(4))
        throw OpError{"mma_m16n8k16 takes (a f16x8, b f16x4, c f32x4) and returns f32x4"};
      int at = 0;
      for (int a = 0; a < 3; ++a) {
        Value v = eval(n->args[a], fr);
        if (v.lanes() != (a == 0 ? 8 : 4))
          throw OpError{"mma_m16n8k16 fragment " + std::to_string(a) + " has " +
                        std::to_string(v.lanes()) + " lanes"};
        for (int k = 0; k < v.lanes(); ++k) t->frag[at++] = v[k].f;
      }
      t->block->wait(*t, Wait::kMma);
      return std::move(t->out);
    }
    case Intrinsic::kDotI16Pairs: {
      if (n->args.size() != 3 ||
          !dot_i16_pairs_types(n->args[0].dtype(), n->args[1].dtype(), n->args[2].dtype()))
        throw OpError{"dot_i16_pairs takes (i16x2N, i16x2N, i32xN)"};
      Value a = eval(n->args[0], fr), b = eval(n->args[1], fr), acc = eval(n->args[2], fr);
      Value r(n->dtype);
      for (int l = 0; l < r.lanes(); ++l)
        r[l].i = wrap_int(n->dtype,
                          acc[l].i + a[2 * l].i * b[2 * l].i + a[2 * l + 1].i * b[2 * l + 1].i);
      return r;
    }
    case Intrinsic::kThreadAllReduce: {
      need_thread();
      int64_t kind = 0;
      if (n->args.size() < 2 || !is_const_int(n->args[1], &kind) || kind < 0 || kind > 2)
        throw OpError{"thread_allreduce takes (value, reduce kind constant, thread vars...)"};
      int mask = 0;
      for (size_t i = 2; i < n->args.size(); ++i) {
        const auto* v = n->args[i].as<VarNode>();
        auto it = v ? t->axis_of_var.find(v) : t->axis_of_var.end();
        if (it == t->axis_of_var.end())
          throw OpError{"thread_allreduce over " + to_string(n->args[i]) +
                        ", which is not a threadIdx-bound loop var of this thread"};
        mask |= 1 << it->second;
      }
      Value v = eval(n->args[0], fr);
      t->in = std::move(v), t->reduce_mask = mask, t->reduce_kind = static_cast<ReduceKind>(kind);
      t->block->wait(*t, Wait::kAllReduce);
      return std::move(t->out);
    }
    default: {
      std::vector<Value> args;
      args.reserve(n->args.size());
      for (const Expr& a : n->args) args.push_back(eval(a, fr));
      return math_op(n->op, n->dtype, args);
    }
  }
}

}  // namespace interp

void interpret(const PrimFunc& f, const std::vector<HostBuffer>& buffers,
               const std::vector<ScalarValue>& scalars, const InterpreterOptions& options) {
  try {
    interp::Machine m(f, options);
    m.run(buffers, scalars);
  } catch (const Error& e) {
    throw Error("interpret " + f.name + ": " + e.what());
  }
}

}  // namespace mlcc::ir
