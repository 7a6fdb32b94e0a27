// Internals of the interpreter shared by its source files: lane values and the operations
// on them (interpreter_value.cc), the evaluation machine (interpreter.cc) and the thread
// blocks run as fibers (interpreter_block.cc). Not part of the public API.
#pragma once

#include <ucontext.h>

#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "ir/expr.h"
#include "ir/interpreter.h"
#include "runtime/error.h"

namespace mlcc::ir::interp {

// One lane: int64 for bool/int/uint types (wrapped to the type's width), double for floats
// (exactly representable in the type).
union Lane {
  int64_t i;
  double f;
};

// A value of a data type: its lanes, stored inline up to kInline lanes.
class Value {
 public:
  Value() { inline_[0].i = 0; }
  explicit Value(DataType t) : t_(t) {
    if (t.lanes > kInline) heap_.reset(new Lane[t.lanes]);
  }
  Value(const Value& o) : t_(o.t_) {
    if (o.heap_) heap_.reset(new Lane[t_.lanes]);
    std::memcpy(data(), o.data(), sizeof(Lane) * t_.lanes);
  }
  Value(Value&& o) noexcept = default;
  Value& operator=(const Value& o) {
    if (this != &o) *this = Value(o);
    return *this;
  }
  Value& operator=(Value&& o) noexcept = default;

  static Value of_int(DataType t, int64_t v) {
    Value r(t);
    for (int k = 0; k < t.lanes; ++k) r[k].i = v;
    return r;
  }
  static Value of_float(DataType t, double v) {
    Value r(t);
    for (int k = 0; k < t.lanes; ++k) r[k].f = v;
    return r;
  }

  DataType type() const { return t_; }
  int lanes() const { return t_.lanes; }
  Lane* data() { return heap_ ? heap_.get() : inline_; }
  const Lane* data() const { return heap_ ? heap_.get() : inline_; }
  Lane& operator[](int k) { return data()[k]; }
  const Lane& operator[](int k) const { return data()[k]; }
  // Lane k, where a scalar stands for all lanes (a scalar operand of a vector operation).
  int64_t i(int k) const { return data()[t_.lanes == 1 ? 0 : k].i; }
  double f(int k) const { return data()[t_.lanes == 1 ? 0 : k].f; }

 private:
  static constexpr int kInline = 8;
  DataType t_ = DataType::void_type();
  Lane inline_[kInline];
  std::unique_ptr<Lane[]> heap_;
};

// Thrown by the value operations; the evaluator adds the expression it happened in.
struct OpError {
  std::string msg;
};

int64_t wrap_int(DataType t, int64_t v);
double round_float(DataType t, double v);
// The operations of the IR on values; the result has type `t`.
Value binary_op(NodeKind k, DataType t, const Value& a, const Value& b);
Value not_op(const Value& a);
Value select_op(const Value& cond, const Value& t, const Value& f);
Value cast_value(DataType t, const Value& v);
Value reinterpret_value(DataType t, const Value& v);
Value math_op(Intrinsic op, DataType t, const std::vector<Value>& args);
Value reduce_op(ReduceKind k, const Value& a, const Value& b);

// Memory layout of one element of type `elem` (scalar).
void load_lane(DataType elem, const uint8_t* p, Lane* out);
void store_lane(DataType elem, uint8_t* p, Lane v);
void poison(DataType elem, uint8_t* p, size_t count);

// A buffer's memory as the interpreter sees it: evaluated shape and element strides.
struct Storage {
  std::string name;
  DataType dtype;
  std::vector<int64_t> shape, strides;
  uint8_t* data = nullptr;
  size_t bytes = 0;
  std::unique_ptr<uint8_t[]> owned;
};

struct ThreadState;
class ThreadBlock;

// Variable bindings and buffers of one execution context: the root frame (host and block
// level) or one thread's frame, whose parent is the frame that started the block.
struct Frame {
  Frame* parent = nullptr;
  ThreadState* thread = nullptr;
  std::unordered_map<const VarNode*, Value> vars;
  std::unordered_map<const BufferNode*, Storage*> buffers;
};

// What a thread waits at; kNone means runnable.
enum class Wait : uint8_t { kNone, kBarrier, kShuffleXor, kShuffleDown, kAllReduce, kMma, kDone };
constexpr int kWaitKinds = static_cast<int>(Wait::kDone) + 1;

// One GPU thread run as a fiber, with what it contributes to its pending synchronisation.
struct ThreadState {
  int idx[3] = {0, 0, 0};
  int linear = 0;
  ThreadBlock* block = nullptr;
  Frame frame;
  std::unordered_map<const VarNode*, int> axis_of_var;  // thread-bound loop vars
  ucontext_t context;
  Wait wait = Wait::kNone;
  bool cancel = false;
  std::exception_ptr error;
  Value in, out;               // the exchanged value
  double frag[16] = {};        // mma: this lane's a[0..7], b[0..3], c[0..3]
  int64_t arg1 = 0, arg2 = 0;  // shuffle mask/delta and width
  int reduce_mask = 0;         // bit a: reduced over thread axis a
  ReduceKind reduce_kind = ReduceKind::kSum;
};

class Machine {
 public:
  Machine(const PrimFunc& f, const InterpreterOptions& options);
  ~Machine();
  Machine(const Machine&) = delete;
  Machine& operator=(const Machine&) = delete;

  void run(const std::vector<HostBuffer>& buffers, const std::vector<ScalarValue>& scalars);
  void exec(const Stmt& s, Frame& fr);
  void exec_for(const ForNode* n, const Stmt& self, Frame& fr);
  Value eval(const Expr& e, Frame& fr);
  int64_t eval_int(const Expr& e, Frame& fr);
  const InterpreterOptions& options() const { return options_; }
  // The block being run (blockIdx x, y, z), for messages.
  int64_t block_index[3] = {0, 0, 0};
  // The stack of fiber i, reserved lazily and reused by every block, above a guard page.
  char* fiber_stack(int i);
  size_t fiber_stack_size() const { return stack_map_bytes_ - page_bytes_; }

 private:
  void exec_store(const BufferStoreNode* n, Frame& fr);
  void exec_allocate(const AllocateNode* n, Frame& fr);
  Value eval_load(const BufferLoadNode* n, const Expr& self, Frame& fr);
  Value eval_call(const CallNode* n, const Expr& self, Frame& fr);
  // Per-lane element offsets of an access, bounds-checked; `access` and `load` (the load
  // expression, null for a store) describe it in errors.
  void address(const Storage& st, const std::vector<Expr>& indices, int lanes, Frame& fr,
               int64_t* offsets, const char* access, const Expr* load);
  std::unique_ptr<Storage> make_storage(const Buffer& b, Frame& fr);

  const PrimFunc& func_;
  InterpreterOptions options_;
  std::vector<char*> stacks_;
  size_t stack_map_bytes_ = 0;
  size_t page_bytes_ = 0;
};

// One thread block started by the threadIdx loop `outer`: its shape (per axis, the largest
// extent of the threadIdx loops in outer's subtree), its threads, and the round-robin
// scheduler that resolves their synchronisation points.
class ThreadBlock {
 public:
  ThreadBlock(Machine& m, Frame& parent, const Stmt& outer);
  ~ThreadBlock();
  void run();
  // Called on a thread's fiber: suspends it until its pending synchronisation resolves.
  void wait(ThreadState& t, Wait kind);
  void thread_main(ThreadState& t);
  int dim(int axis) const { return dims_[axis]; }

 private:
  void schedule();
  bool resolve();
  bool resolve_warp(int first, int count);
  void resolve_mma(int first, int count);
  bool resolve_reduce(ThreadState& t, std::vector<bool>& handled);
  void resume(ThreadState& t);
  std::string stuck_message() const;

  Machine& machine_;
  Frame& parent_;
  Stmt outer_;
  int dims_[3] = {1, 1, 1};
  std::vector<std::unique_ptr<ThreadState>> threads_;
  ucontext_t scheduler_;
};

}  // namespace mlcc::ir::interp
