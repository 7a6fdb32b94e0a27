// The tensor IR: immutable expression and statement nodes shared by pointer, buffers with
// a memory scope, and PrimFuncs. Node kinds come from ir/node_kinds.def. Integer Div and
// Mod are floor division and floor modulo (as TVM's floordiv/floormod), which keeps index
// arithmetic provable; on floats Div is IEEE division.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ir/dtype.h"
#include "ir/node_kinds.def"

namespace mlcc::ir {

enum class NodeKind : uint8_t {
#define MLCC_X(kind, s) k##kind,
  MLCC_EXPR_KINDS(MLCC_X) MLCC_STMT_KINDS(MLCC_X)
#undef MLCC_X
};
const char* kind_name(NodeKind k);

struct Node {
  const NodeKind kind;
  explicit Node(NodeKind k) : kind(k) {}
  virtual ~Node() = default;
};

struct ExprNode : Node {
  const DataType dtype;
  ExprNode(NodeKind k, DataType t) : Node(k), dtype(t) {}
};
struct StmtNode : Node {
  using Node::Node;
};

// A nullable shared handle to an immutable node. Copies share the node.
template <typename NodeT>
class Ref {
 public:
  Ref() = default;
  explicit Ref(std::shared_ptr<const NodeT> p) : ptr_(std::move(p)) {}
  const NodeT* get() const { return ptr_.get(); }
  const NodeT* operator->() const { return ptr_.get(); }
  explicit operator bool() const { return ptr_ != nullptr; }
  bool defined() const { return ptr_ != nullptr; }
  bool same_as(const Ref& o) const { return ptr_ == o.ptr_; }
  NodeKind kind() const { return ptr_->kind; }
  // The node as struct T, or nullptr when it is another struct.
  template <typename T>
  const T* as() const {
    return ptr_ && T::holds(ptr_->kind) ? static_cast<const T*>(ptr_.get()) : nullptr;
  }
  const std::shared_ptr<const NodeT>& ptr() const { return ptr_; }

 private:
  std::shared_ptr<const NodeT> ptr_;
};

class Expr : public Ref<ExprNode> {
 public:
  using Ref::Ref;
  Expr() = default;
  Expr(int v);      // NOLINT: i32 constant
  Expr(int64_t v);  // NOLINT: i64 constant
  Expr(double v);   // NOLINT: f32 constant
  DataType dtype() const { return get()->dtype; }
};

class Stmt : public Ref<StmtNode> {
 public:
  using Ref::Ref;
};

// ---- Buffers ----------------------------------------------------------------------------

enum class MemScope : uint8_t { kGlobal, kShared, kLocal };
const char* scope_name(MemScope s);

class Var;
struct BufferNode {
  std::string name;
  DataType dtype;
  std::vector<Expr> shape;
  // Element strides per axis; empty means dense row-major. storage_align pads these.
  std::vector<Expr> strides;
  MemScope scope = MemScope::kGlobal;
  int alignment = 64;  // bytes
};

// Identity is the node pointer: two buffers with the same name are different buffers.
class Buffer {
 public:
  Buffer() = default;
  explicit Buffer(std::shared_ptr<const BufferNode> p) : ptr_(std::move(p)) {}
  static Buffer make(std::string name, DataType dtype, std::vector<Expr> shape,
                     MemScope scope = MemScope::kGlobal, std::vector<Expr> strides = {},
                     int alignment = 64);
  const BufferNode* get() const { return ptr_.get(); }
  const BufferNode* operator->() const { return ptr_.get(); }
  explicit operator bool() const { return ptr_ != nullptr; }
  bool same_as(const Buffer& o) const { return ptr_ == o.ptr_; }
  size_t ndim() const { return ptr_->shape.size(); }
  // A load of one element (or of a vector when the last index is a Ramp).
  Expr operator()(std::vector<Expr> indices) const;
  template <typename... Ts>
  Expr operator()(Ts... idx) const {
    return (*this)(std::vector<Expr>{Expr(idx)...});
  }
  // Row-major (or strided) offset of an index tuple, in elements.
  Expr linear_index(const std::vector<Expr>& indices) const;
  const std::shared_ptr<const BufferNode>& ptr() const { return ptr_; }

 private:
  std::shared_ptr<const BufferNode> ptr_;
};

// ---- Expression nodes -------------------------------------------------------------------

#define MLCC_HOLDS_ONE(K) \
  static bool holds(NodeKind k) { return k == NodeKind::K; }

struct IntImmNode : ExprNode {
  const int64_t value;
  IntImmNode(DataType t, int64_t v) : ExprNode(NodeKind::kIntImm, t), value(v) {}
  MLCC_HOLDS_ONE(kIntImm)
};
struct FloatImmNode : ExprNode {
  const double value;
  FloatImmNode(DataType t, double v) : ExprNode(NodeKind::kFloatImm, t), value(v) {}
  MLCC_HOLDS_ONE(kFloatImm)
};
struct VarNode : ExprNode {
  const std::string name;
  VarNode(DataType t, std::string n) : ExprNode(NodeKind::kVar, t), name(std::move(n)) {}
  MLCC_HOLDS_ONE(kVar)
};
struct BinaryNode : ExprNode {
  const Expr a, b;
  BinaryNode(NodeKind k, DataType t, Expr x, Expr y)
      : ExprNode(k, t), a(std::move(x)), b(std::move(y)) {}
  static bool holds(NodeKind k) { return k >= NodeKind::kAdd && k <= NodeKind::kShr; }
};
struct NotNode : ExprNode {
  const Expr a;
  NotNode(DataType t, Expr x) : ExprNode(NodeKind::kNot, t), a(std::move(x)) {}
  MLCC_HOLDS_ONE(kNot)
};
struct SelectNode : ExprNode {
  const Expr cond, true_value, false_value;
  SelectNode(DataType t, Expr c, Expr tv, Expr fv)
      : ExprNode(NodeKind::kSelect, t),
        cond(std::move(c)),
        true_value(std::move(tv)),
        false_value(std::move(fv)) {}
  MLCC_HOLDS_ONE(kSelect)
};
// Value conversion (f32 -> f16 rounds, f32 -> i32 truncates toward zero, as C).
struct CastNode : ExprNode {
  const Expr value;
  CastNode(DataType t, Expr v) : ExprNode(NodeKind::kCast, t), value(std::move(v)) {}
  MLCC_HOLDS_ONE(kCast)
};
// The vector [base, base+stride, ..., base+(lanes-1)*stride].
struct RampNode : ExprNode {
  const Expr base, stride;
  const int lanes;
  RampNode(DataType t, Expr b, Expr s, int l)
      : ExprNode(NodeKind::kRamp, t), base(std::move(b)), stride(std::move(s)), lanes(l) {}
  MLCC_HOLDS_ONE(kRamp)
};
struct BroadcastNode : ExprNode {
  const Expr value;
  const int lanes;
  BroadcastNode(DataType t, Expr v, int l)
      : ExprNode(NodeKind::kBroadcast, t), value(std::move(v)), lanes(l) {}
  MLCC_HOLDS_ONE(kBroadcast)
};
struct BufferLoadNode : ExprNode {
  const Buffer buffer;
  const std::vector<Expr> indices;
  BufferLoadNode(DataType t, Buffer b, std::vector<Expr> idx)
      : ExprNode(NodeKind::kBufferLoad, t), buffer(std::move(b)), indices(std::move(idx)) {}
  MLCC_HOLDS_ONE(kBufferLoad)
};

// Built-in operations. The list lives here and nowhere else; intrinsic_name() spells them.
enum class Intrinsic : uint8_t {
  // Math on floats (element-wise on vectors).
  kExp,
  kLog,
  kSqrt,
  kRsqrt,
  kTanh,
  kFabs,
  kFloor,
  kCeil,
  kPow,
  kFma,
  kErf,
  // Bit reinterpretation to the call's dtype (same total bits).
  kReinterpret,
  // Barrier over the threads of a block (CUDA __syncthreads, SPIR-V OpControlBarrier).
  kSyncThreads,
  // (value, lane_mask i32, width i32): value of lane (lane ^ lane_mask) within groups of
  // `width` lanes of the warp/subgroup.
  kWarpShuffleXor,
  // (value, delta i32, width i32): value of lane (lane + delta), own value past the group.
  kWarpShuffleDown,
  // (value, ReduceKind as i32, thread vars...): before lowering, the reduction of `value`
  // over all threads that differ only in the listed thread-bound loop vars; every such
  // thread receives the result. passes/lower_cross_thread_reduction replaces it.
  kThreadAllReduce,
  // (a f16x8, b f16x4, c f32x4) -> f32x4: the warp-wide D = A B + C of PTX
  // mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 (A 16x16, B 16x8, C and D 16x8), every
  // lane of a full warp of 32 passing its fragments. Lane l = 4g + t (g = l / 4, t = l % 4)
  // holds, for fragment element i:
  //   a[i]: A[g + 8 ((i / 2) % 2)][2t + i % 2 + 8 (i / 4)]
  //   b[i]: B[2t + i % 2 + 8 (i / 2)][g]
  //   c[i], d[i]: C[g + 8 (i / 2)][2t + i % 2]
  // so a lane's pairs (a0, a1), (b0, b1), ... are adjacent along k (one 32-bit register each).
  // Products are exact; the interpreter rounds the sum once to f32, the tensor cores
  // accumulate in an unspecified order (differences of f32 rounding). CUDA sm_80+ only.
  kMmaSync,
  // (a i16x2N, b i16x2N, acc i32xN) -> i32xN: lane l is acc[l] + a[2l] b[2l] + a[2l+1] b[2l+1]
  // in wrapping i32 arithmetic. LLVM targets emit widening multiplies and an even/odd add,
  // which instruction selection turns into x86's vpmaddwd (AVX2, AVX-512) or VNNI's
  // vpdpwssd, or Arm's smull + addp; it is a CPU operation (SPIR-V does not take it).
  kDotI16Pairs,
};
const char* intrinsic_name(Intrinsic op);

enum class ReduceKind : uint8_t { kSum, kMax, kMin };
const char* reduce_name(ReduceKind k);

struct CallNode : ExprNode {
  const Intrinsic op;
  const std::vector<Expr> args;
  CallNode(DataType t, Intrinsic o, std::vector<Expr> a)
      : ExprNode(NodeKind::kCall, t), op(o), args(std::move(a)) {}
  MLCC_HOLDS_ONE(kCall)
};

class Var : public Expr {
 public:
  Var() = default;
  explicit Var(std::string name, DataType t = DataType::i32());
  explicit Var(std::shared_ptr<const VarNode> p) : Expr(std::shared_ptr<const ExprNode>(p)) {}
  const VarNode* get() const { return static_cast<const VarNode*>(Expr::get()); }
  const VarNode* operator->() const { return get(); }
  const std::string& name() const { return get()->name; }
};

// ---- Statement nodes --------------------------------------------------------------------

enum class ForKind : uint8_t { kSerial, kParallel, kVectorized, kUnrolled, kThreadBinding };
const char* for_kind_name(ForKind k);

// GPU launch axes a ForKind::kThreadBinding loop binds its variable to.
enum class ThreadAxis : uint8_t { kNone, kBlockX, kBlockY, kBlockZ, kThreadX, kThreadY, kThreadZ };
const char* thread_axis_name(ThreadAxis a);  // "blockIdx.x", ...
inline bool is_block_axis(ThreadAxis a) {
  return a >= ThreadAxis::kBlockX && a <= ThreadAxis::kBlockZ;
}
inline bool is_thread_axis(ThreadAxis a) { return a >= ThreadAxis::kThreadX; }

struct ForNode : StmtNode {
  const Var var;
  const Expr min, extent;
  const ForKind for_kind;
  const ThreadAxis thread_axis;  // kNone unless for_kind is kThreadBinding
  const Stmt body;
  ForNode(Var v, Expr mn, Expr ext, ForKind k, ThreadAxis ax, Stmt b)
      : StmtNode(NodeKind::kFor),
        var(std::move(v)),
        min(std::move(mn)),
        extent(std::move(ext)),
        for_kind(k),
        thread_axis(ax),
        body(std::move(b)) {}
  MLCC_HOLDS_ONE(kFor)
};
struct BufferStoreNode : StmtNode {
  const Buffer buffer;
  const std::vector<Expr> indices;
  const Expr value;
  BufferStoreNode(Buffer b, std::vector<Expr> idx, Expr v)
      : StmtNode(NodeKind::kBufferStore),
        buffer(std::move(b)),
        indices(std::move(idx)),
        value(std::move(v)) {}
  MLCC_HOLDS_ONE(kBufferStore)
};
// Storage for `buffer` (scope shared or local, or a global scratch) live within `body`.
struct AllocateNode : StmtNode {
  const Buffer buffer;
  const Stmt body;
  AllocateNode(Buffer b, Stmt s)
      : StmtNode(NodeKind::kAllocate), buffer(std::move(b)), body(std::move(s)) {}
  MLCC_HOLDS_ONE(kAllocate)
};
struct IfThenElseNode : StmtNode {
  const Expr cond;
  const Stmt then_case, else_case;  // else_case may be null
  IfThenElseNode(Expr c, Stmt t, Stmt e)
      : StmtNode(NodeKind::kIfThenElse),
        cond(std::move(c)),
        then_case(std::move(t)),
        else_case(std::move(e)) {}
  MLCC_HOLDS_ONE(kIfThenElse)
};
struct LetStmtNode : StmtNode {
  const Var var;
  const Expr value;
  const Stmt body;
  LetStmtNode(Var v, Expr val, Stmt b)
      : StmtNode(NodeKind::kLetStmt),
        var(std::move(v)),
        value(std::move(val)),
        body(std::move(b)) {}
  MLCC_HOLDS_ONE(kLetStmt)
};
struct SeqNode : StmtNode {
  const std::vector<Stmt> seq;
  explicit SeqNode(std::vector<Stmt> s) : StmtNode(NodeKind::kSeq), seq(std::move(s)) {}
  MLCC_HOLDS_ONE(kSeq)
};
struct EvaluateNode : StmtNode {
  const Expr value;
  explicit EvaluateNode(Expr v) : StmtNode(NodeKind::kEvaluate), value(std::move(v)) {}
  MLCC_HOLDS_ONE(kEvaluate)
};
#undef MLCC_HOLDS_ONE

// ---- PrimFunc ---------------------------------------------------------------------------

// A kernel: buffer parameters (global scope), scalar parameters (symbolic shape vars
// first, in order of first appearance in buffer shapes, then any others), and a body.
struct PrimFunc {
  std::string name;
  std::vector<Buffer> buffers;
  std::vector<Var> scalars;
  Stmt body;
  // Global-memory bytes one launch reads and writes, over the scalars, for profiles (GB/s
  // per kernel). Undefined: every buffer parameter once (launch_bytes). Kernels that touch
  // part of a buffer say what they touch: attention reads the paged KV cache of total_len
  // tokens, not the whole pool.
  Expr bytes;
};
// Builds a PrimFunc whose scalar params are the shape vars of `buffers` (in order of first
// appearance) followed by `extra_scalars`.
PrimFunc make_prim_func(std::string name, std::vector<Buffer> buffers, Stmt body,
                        std::vector<Var> extra_scalars = {});

// The bytes of a buffer's elements, as an i64 expression over its shape.
Expr buffer_bytes(const Buffer& b);
// f.bytes, or the sum of buffer_bytes over its buffer parameters.
Expr launch_bytes(const PrimFunc& f);

// ---- Builders ---------------------------------------------------------------------------

Expr make_const(DataType t, double v);  // IntImm for integer/bool types, FloatImm else
Expr make_const(DataType t, int64_t v);
Expr make_zero(DataType t);
bool is_const_int(const Expr& e, int64_t* value = nullptr);
bool is_const_int(const Expr& e, int64_t value);      // e is the integer constant `value`
inline bool is_const_int(const Expr& e, int value) {  // so that a literal 0 is not a pointer
  return is_const_int(e, static_cast<int64_t>(value));
}

// Binary operators. Operand types must match, except that a constant adopts the other
// side's type and a scalar is broadcast to the other side's lanes.
Expr binary(NodeKind k, Expr a, Expr b);
Expr operator+(Expr a, Expr b);
Expr operator-(Expr a, Expr b);
Expr operator*(Expr a, Expr b);
Expr operator/(Expr a, Expr b);  // floor division on integers
Expr operator%(Expr a, Expr b);  // floor modulo on integers
Expr operator-(Expr a);
Expr operator<(Expr a, Expr b);
Expr operator<=(Expr a, Expr b);
Expr operator>(Expr a, Expr b);
Expr operator>=(Expr a, Expr b);
Expr operator&&(Expr a, Expr b);
Expr operator||(Expr a, Expr b);
Expr operator!(Expr a);
Expr operator&(Expr a, Expr b);
Expr operator|(Expr a, Expr b);
Expr operator^(Expr a, Expr b);
Expr operator<<(Expr a, Expr b);
Expr operator>>(Expr a, Expr b);  // logical on unsigned, arithmetic on signed
Expr eq(Expr a, Expr b);
Expr ne(Expr a, Expr b);
Expr min(Expr a, Expr b);
Expr max(Expr a, Expr b);
Expr select(Expr cond, Expr t, Expr f);
Expr cast(DataType t, Expr v);  // returns v itself when it already has type t
Expr ramp(Expr base, Expr stride, int lanes);
Expr broadcast(Expr v, int lanes);
Expr call(DataType t, Intrinsic op, std::vector<Expr> args);
Expr exp(Expr x);
Expr log(Expr x);
Expr sqrt(Expr x);
Expr rsqrt(Expr x);
Expr tanh(Expr x);
Expr fabs(Expr x);
Expr reinterpret(DataType t, Expr x);
// Intrinsic::kMmaSync on one lane's fragments (checks their types).
Expr mma_m16n8k16(Expr a, Expr b, Expr c);
// Intrinsic::kDotI16Pairs (checks the types with dot_i16_pairs_types).
Expr dot_i16_pairs(Expr a, Expr b, Expr acc);
bool dot_i16_pairs_types(DataType a, DataType b, DataType acc);  // (i16x2N, i16x2N, i32xN)
// Identity element of a reduction for type t (0, -inf/lowest, +inf/highest).
Expr reduce_identity(ReduceKind k, DataType t);
Expr reduce_combine(ReduceKind k, Expr a, Expr b);

Stmt for_loop(Var v, Expr min, Expr extent, Stmt body, ForKind kind = ForKind::kSerial,
              ThreadAxis axis = ThreadAxis::kNone);
Stmt thread_loop(Var v, Expr extent, ThreadAxis axis, Stmt body);  // min 0, bound to axis
Stmt store(Buffer b, std::vector<Expr> indices, Expr value);
Stmt allocate(Buffer b, Stmt body);
Stmt if_then_else(Expr cond, Stmt then_case, Stmt else_case = Stmt());
Stmt let_stmt(Var v, Expr value, Stmt body);
Stmt seq(std::vector<Stmt> stmts);  // flattens nested sequences; one statement is returned as is
Stmt evaluate(Expr v);
Stmt sync_threads();

}  // namespace mlcc::ir
