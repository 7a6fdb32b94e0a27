// Thread blocks of the interpreter: each GPU thread runs the block body on its own fiber
// (ucontext), and a round-robin scheduler on the caller's stack resumes them. A fiber that
// reaches a barrier, a warp shuffle, an mma or a thread_allreduce records what it contributes and
// yields; once every participant has arrived the scheduler computes the results and makes
// them runnable again. Nothing runs concurrently, so results are deterministic.
#include <cstdint>

#if defined(__SANITIZE_ADDRESS__)
#define MLCC_ASAN_FIBERS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MLCC_ASAN_FIBERS 1
#endif
#endif
#ifdef MLCC_ASAN_FIBERS
#include <sanitizer/common_interface_defs.h>
#endif

#include "ir/functor.h"
#include "ir/interpreter_impl.h"

namespace mlcc::ir::interp {

namespace {

// Thrown inside a fiber to unwind it when another thread of its block failed.
struct Cancelled {};

int axis_index(ThreadAxis a) {
  return static_cast<int>(a) - static_cast<int>(ThreadAxis::kThreadX);
}

// AddressSanitizer must be told about every stack switch, or it takes the fiber stacks for
// overflows of the thread's stack. Without ASan these do nothing.
#ifdef MLCC_ASAN_FIBERS
thread_local const void* scheduler_stack_bottom = nullptr;
thread_local size_t scheduler_stack_size = 0;
void to_fiber(void** fake, const void* bottom, size_t size) {
  __sanitizer_start_switch_fiber(fake, bottom, size);
}
void arrived_in_fiber(void* fake) {
  __sanitizer_finish_switch_fiber(fake, &scheduler_stack_bottom, &scheduler_stack_size);
}
void to_scheduler(void** fake) {
  __sanitizer_start_switch_fiber(fake, scheduler_stack_bottom, scheduler_stack_size);
}
void arrived_in_scheduler(void* fake) { __sanitizer_finish_switch_fiber(fake, nullptr, nullptr); }
#else
void to_fiber(void**, const void*, size_t) {}
void arrived_in_fiber(void*) {}
void to_scheduler(void**) {}
void arrived_in_scheduler(void*) {}
#endif

void fiber_entry(unsigned hi, unsigned lo) {
  auto* t = reinterpret_cast<ThreadState*>((static_cast<uintptr_t>(hi) << 32) |
                                           static_cast<uintptr_t>(lo));
  arrived_in_fiber(nullptr);
  t->block->thread_main(*t);
  to_scheduler(nullptr);  // null: this fiber's stack is done with
}

// Kept out of line: getcontext returns twice, which would make the caller's locals suspect.
void init_fiber(ThreadState* t, char* stack, size_t size, ucontext_t* link) {
  getcontext(&t->context);
  t->context.uc_stack.ss_sp = stack;
  t->context.uc_stack.ss_size = size;
  t->context.uc_link = link;
  auto bits = reinterpret_cast<uintptr_t>(t);
  makecontext(&t->context, reinterpret_cast<void (*)()>(fiber_entry), 2,
              static_cast<unsigned>(bits >> 32), static_cast<unsigned>(bits & 0xffffffffu));
}

std::string thread_text(const ThreadState& t) {
  return "threadIdx (" + std::to_string(t.idx[0]) + ", " + std::to_string(t.idx[1]) + ", " +
         std::to_string(t.idx[2]) + ")";
}

const char* wait_text(Wait w) {
  switch (w) {
    case Wait::kNone:
      return "running";
    case Wait::kBarrier:
      return "sync_threads()";
    case Wait::kShuffleXor:
      return "warp_shuffle_xor";
    case Wait::kShuffleDown:
      return "warp_shuffle_down";
    case Wait::kAllReduce:
      return "thread_allreduce";
    case Wait::kMma:
      return "mma_m16n8k16";
    case Wait::kDone:
      return "finished";
  }
  return "?";
}

}  // namespace

ThreadBlock::ThreadBlock(Machine& m, Frame& parent, const Stmt& outer)
    : machine_(m), parent_(parent), outer_(outer) {
  // Sibling thread loops (common after lowering) may be wider than the loop that starts
  // the block, so the launch shape covers every threadIdx loop inside it, as a GPU
  // code generator's blockDim does.
  int64_t extents[3] = {0, 0, 0};
  bool used[3] = {false, false, false};
  pre_order_visit(outer, [&](const Node* node) {
    if (node->kind != NodeKind::kFor) return;
    const auto* loop = static_cast<const ForNode*>(node);
    if (loop->for_kind != ForKind::kThreadBinding || !is_thread_axis(loop->thread_axis)) return;
    int axis = axis_index(loop->thread_axis);
    int64_t ext;
    try {
      ext = m.eval_int(loop->extent, parent);
    } catch (const Error& e) {
      throw Error(std::string("the extent of the loop over '") + loop->var.name() + "' bound to " +
                  thread_axis_name(loop->thread_axis) +
                  " must be known when its block starts: " + e.what());
    }
    used[axis] = true;
    extents[axis] = std::max(extents[axis], ext);
  });
  for (int a = 0; a < 3; ++a) {
    if (extents[a] > m.options().max_threads_per_block)
      throw Error(std::string("a block with ") + std::to_string(extents[a]) + " threads on " +
                  thread_axis_name(static_cast<ThreadAxis>(a + int(ThreadAxis::kThreadX))) +
                  " exceeds max_threads_per_block (" +
                  std::to_string(m.options().max_threads_per_block) + ")");
    dims_[a] = used[a] ? static_cast<int>(extents[a]) : 1;
  }
}

ThreadBlock::~ThreadBlock() = default;

void ThreadBlock::run() {
  int64_t n = int64_t{dims_[0]} * dims_[1] * dims_[2];
  if (n == 0) return;
  if (n > machine_.options().max_threads_per_block)
    throw Error("a block of " + std::to_string(dims_[0]) + " x " + std::to_string(dims_[1]) +
                " x " + std::to_string(dims_[2]) + " threads exceeds max_threads_per_block (" +
                std::to_string(machine_.options().max_threads_per_block) + ")");
  threads_.reserve(n);
  for (int l = 0; l < n; ++l) {
    auto t = std::make_unique<ThreadState>();
    t->linear = l;
    t->idx[0] = l % dims_[0];
    t->idx[1] = (l / dims_[0]) % dims_[1];
    t->idx[2] = l / (dims_[0] * dims_[1]);
    t->block = this;
    t->frame.parent = &parent_;
    t->frame.thread = t.get();
    init_fiber(t.get(), machine_.fiber_stack(l), machine_.fiber_stack_size(), &scheduler_);
    threads_.push_back(std::move(t));
  }
  std::exception_ptr error;
  try {
    schedule();
  } catch (...) {
    error = std::current_exception();
  }
  if (error) {
    // Unwind every suspended fiber so that what lives on its stack is destroyed.
    for (auto& t : threads_) {
      if (t->wait == Wait::kDone) continue;
      t->cancel = true;
      resume(*t);
    }
  }
  threads_.clear();
  if (error) std::rethrow_exception(error);
}

void ThreadBlock::thread_main(ThreadState& t) {
  try {
    // Inside the thread context the starting loop is one more thread loop: it runs its body
    // when this thread's index on its axis is below its extent.
    if (!t.cancel) machine_.exec(outer_, t.frame);
  } catch (const Cancelled&) {
  } catch (const Error& e) {
    const int64_t* b = machine_.block_index;
    std::string block = "blockIdx (" + std::to_string(b[0]) + ", " + std::to_string(b[1]) + ", " +
                        std::to_string(b[2]) + "), ";
    t.error =
        std::make_exception_ptr(Error(std::string(e.what()) + " (" + block + thread_text(t) + ")"));
  } catch (...) {
    t.error = std::current_exception();
  }
  t.wait = Wait::kDone;
}

void ThreadBlock::resume(ThreadState& t) {
  void* fake = nullptr;
  to_fiber(&fake, t.context.uc_stack.ss_sp, t.context.uc_stack.ss_size);
  swapcontext(&scheduler_, &t.context);
  arrived_in_scheduler(fake);
}

void ThreadBlock::wait(ThreadState& t, Wait kind) {
  t.wait = kind;
  void* fake = nullptr;
  to_scheduler(&fake);
  swapcontext(&t.context, &scheduler_);
  arrived_in_fiber(fake);
  if (t.cancel) throw Cancelled{};
}

void ThreadBlock::schedule() {
  for (;;) {
    for (auto& t : threads_) {
      if (t->wait != Wait::kNone) continue;
      resume(*t);
      if (t->error) std::rethrow_exception(t->error);
    }
    bool all_done = true;
    for (auto& t : threads_) all_done = all_done && t->wait == Wait::kDone;
    if (all_done) return;
    if (!resolve()) throw Error(stuck_message());
  }
}

bool ThreadBlock::resolve() {
  bool progress = false;
  int n = static_cast<int>(threads_.size());
  int ws = machine_.options().warp_size;
  for (int first = 0; first < n; first += ws)
    progress |= resolve_warp(first, std::min(ws, n - first));
  std::vector<bool> handled(n, false);
  for (auto& t : threads_)
    if (t->wait == Wait::kAllReduce && !handled[t->linear]) progress |= resolve_reduce(*t, handled);
  bool all_at_barrier = true;
  for (auto& t : threads_) all_at_barrier = all_at_barrier && t->wait == Wait::kBarrier;
  if (all_at_barrier) {
    for (auto& t : threads_) t->wait = Wait::kNone;
    progress = true;
  }
  return progress;
}

bool ThreadBlock::resolve_warp(int first, int count) {
  Wait kind = threads_[first]->wait;
  if (kind != Wait::kShuffleXor && kind != Wait::kShuffleDown && kind != Wait::kMma) return false;
  for (int i = 0; i < count; ++i)
    if (threads_[first + i]->wait != kind) return false;
  if (kind == Wait::kMma) {
    resolve_mma(first, count);
    return true;
  }
  int ws = machine_.options().warp_size;
  for (int lane = 0; lane < count; ++lane) {
    ThreadState& t = *threads_[first + lane];
    int64_t width = t.arg2, a = t.arg1, src = lane;
    if (width < 1 || width > ws || (width & (width - 1)) != 0)
      throw Error(std::string(wait_text(kind)) + " width " + std::to_string(width) +
                  " must be a power of two no larger than the warp size " + std::to_string(ws) +
                  " (" + thread_text(t) + ")");
    if (kind == Wait::kShuffleXor) {
      if (a >= 0 && ((lane ^ a) / width) == lane / width) src = lane ^ a;
    } else if (a >= 0 && lane % width + a < width) {
      src = lane + a;
    }
    if (src >= count) src = lane;  // a partial last warp: the lane does not exist
    t.out = threads_[first + src]->in;
  }
  for (int i = 0; i < count; ++i) threads_[first + i]->wait = Wait::kNone;
  return true;
}

// D = A B + C over the fragments of the warp's 32 lanes (the layout of Intrinsic::kMmaSync,
// ir/expr.h). Each lane's `frag` holds a[0..7], b[0..3], c[0..3].
void ThreadBlock::resolve_mma(int first, int count) {
  if (count != 32 || machine_.options().warp_size != 32)
    throw Error("mma_m16n8k16 needs a full warp of 32 threads; this one has " +
                std::to_string(count) + " (warp size " +
                std::to_string(machine_.options().warp_size) + ", " +
                thread_text(*threads_[first]) + ")");
  double A[16][16], B[16][8], C[16][8];
  for (int l = 0; l < 32; ++l) {
    const double* v = threads_[first + l]->frag;
    int g = l / 4, t = l % 4;
    for (int i = 0; i < 8; ++i) A[g + 8 * ((i / 2) % 2)][2 * t + i % 2 + 8 * (i / 4)] = v[i];
    for (int i = 0; i < 4; ++i) B[2 * t + i % 2 + 8 * (i / 2)][g] = v[8 + i];
    for (int i = 0; i < 4; ++i) C[g + 8 * (i / 2)][2 * t + i % 2] = v[12 + i];
  }
  for (int l = 0; l < 32; ++l) {
    ThreadState& th = *threads_[first + l];
    int g = l / 4, t = l % 4;
    Value d(DataType::f32(4));
    for (int i = 0; i < 4; ++i) {
      int r = g + 8 * (i / 2), c = 2 * t + i % 2;
      double sum = C[r][c];
      for (int kk = 0; kk < 16; ++kk) sum += A[r][kk] * B[kk][c];
      d[i].f = round_float(DataType::f32(), sum);
    }
    th.out = std::move(d);
  }
  for (int i = 0; i < count; ++i) threads_[first + i]->wait = Wait::kNone;
}

bool ThreadBlock::resolve_reduce(ThreadState& t, std::vector<bool>& handled) {
  std::vector<ThreadState*> group;
  bool ready = true;
  for (auto& u : threads_) {
    bool same = true;
    for (int a = 0; a < 3; ++a)
      if (!(t.reduce_mask & (1 << a)) && u->idx[a] != t.idx[a]) same = false;
    if (!same) continue;
    handled[u->linear] = true;
    group.push_back(u.get());
    ready = ready && u->wait == Wait::kAllReduce && u->reduce_mask == t.reduce_mask &&
            u->reduce_kind == t.reduce_kind;
  }
  if (!ready) return false;
  Value acc = group[0]->in;
  try {
    for (size_t i = 1; i < group.size(); ++i) acc = reduce_op(t.reduce_kind, acc, group[i]->in);
  } catch (const OpError& e) {
    throw Error(e.msg + " in thread_allreduce");
  }
  for (ThreadState* u : group) u->out = acc, u->wait = Wait::kNone;
  return true;
}

std::string ThreadBlock::stuck_message() const {
  int count[kWaitKinds] = {};
  const ThreadState* example[kWaitKinds] = {};
  for (auto& t : threads_) {
    int w = static_cast<int>(t->wait);
    if (!count[w]++) example[w] = t.get();
  }
  int n = static_cast<int>(threads_.size());
  int done = count[static_cast<int>(Wait::kDone)];
  int barrier = count[static_cast<int>(Wait::kBarrier)];
  if (barrier > 0 && done > 0)
    return "divergent barrier: " + std::to_string(done) + " of " + std::to_string(n) +
           " threads finished without reaching sync_threads() while " + std::to_string(barrier) +
           " wait at it (" + thread_text(*example[static_cast<int>(Wait::kDone)]) + " finished, " +
           thread_text(*example[static_cast<int>(Wait::kBarrier)]) + " waits)";
  std::string msg = "the threads of a block wait at different synchronisation points:";
  for (int w = 1; w < kWaitKinds; ++w)
    if (count[w])
      msg += " " + std::to_string(count[w]) + " " + wait_text(static_cast<Wait>(w)) + " (e.g. " +
             thread_text(*example[w]) + ");";
  msg.back() = ' ';
  return msg +
         "(every thread of a warp must reach a shuffle or mma together, and every thread of a "
         "reduction group its thread_allreduce)";
}

}  // namespace mlcc::ir::interp
