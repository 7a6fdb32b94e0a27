// Bytecode validation and execution of the register VM.
#include "runtime/vm.h"

#include <algorithm>

#include "runtime/device.h"
#include "runtime/error.h"
#include "runtime/library_format.h"

namespace mlcc {
namespace {

// Operand words after the opcode, for the fixed-size instructions.
int fixed_operands(int64_t op) {
  switch (op) {
    case vm::kArg:
    case vm::kScalar:
    case vm::kParam:
    case vm::kKVCache:
    case vm::kConst:
      return 2;
    case vm::kView:
      return 3;
    case vm::kBinary:
      return 4;
    default:
      return -1;
  }
}

const char* opcode_name(int64_t op) {
  switch (op) {
    case vm::kArg:
      return "kArg";
    case vm::kScalar:
      return "kScalar";
    case vm::kParam:
      return "kParam";
    case vm::kKVCache:
      return "kKVCache";
    case vm::kView:
      return "kView";
    case vm::kConst:
      return "kConst";
    case vm::kBinary:
      return "kBinary";
    case vm::kCall:
      return "kCall";
    case vm::kResult:
      return "kResult";
    default:
      return "unknown opcode";
  }
}

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a % b < 0) != (b < 0))) ? q - 1 : q;
}

enum class RegKind : uint8_t { kUnset, kTensor, kScalar };

// Walks one function's code keeping the kind each register holds; every failure names the
// instruction it is in.
class Validator {
 public:
  Validator(const Manifest& m, const FunctionInfo& f, const std::string& origin)
      : m_(m), f_(f), origin_(origin), kinds_(static_cast<size_t>(f.num_registers)) {}

  void run(size_t* max_buffers, size_t* max_scalars) {
    const auto& code = f_.code;
    bool has_result = false;
    while (pc_ < code.size()) {
      start_ = pc_;
      op_ = code[pc_++];
      if (has_result) fail("an instruction after kResult; kResult must come last");
      if (int n = fixed_operands(op_); n > 0) need(n);
      switch (op_) {
        case vm::kArg:
          index(word(1), f_.inputs.size(), "input", "inputs of the function");
          define(word(0), RegKind::kTensor);
          break;
        case vm::kScalar:
          index(word(1), f_.scalars.size(), "scalar", "scalars of the function");
          define(word(0), RegKind::kScalar);
          break;
        case vm::kParam:
          index(word(1), m_.params.size(), "parameter", "params in the manifest");
          define(word(0), RegKind::kTensor);
          break;
        case vm::kKVCache:
          index(word(1), static_cast<size_t>(m_.kv_cache.num_layers), "layer",
                "KV cache layers (kv_cache.num_layers)");
          define(word(0), RegKind::kTensor);
          break;
        case vm::kView: {
          int64_t s = word(1), offset = word(2);
          index(s, m_.storages.size(), "storage", "storages in the manifest");
          if (offset < 0 || offset > m_.storages[s])
            fail("view offset " + std::to_string(offset) + " lies outside storage " +
                 std::to_string(s) + " of " + std::to_string(m_.storages[s]) + " bytes");
          define(word(0), RegKind::kTensor);
          break;
        }
        case vm::kConst:
          define(word(0), RegKind::kScalar);
          break;
        case vm::kBinary:
          if (word(1) < vm::kAdd || word(1) > vm::kMax)
            fail("binary operator " + std::to_string(word(1)) + " is not a BinaryOp (0..6)");
          use(word(2), RegKind::kScalar);
          use(word(3), RegKind::kScalar);
          define(word(0), RegKind::kScalar);
          break;
        case vm::kCall: {
          need(2);
          int64_t k = word(0), nb = word(1);
          index(k, m_.kernels.size(), "kernel", "kernels in the manifest");
          const KernelInfo& kernel = m_.kernels[k];
          if (nb != kernel.num_buffers)
            fail("passes " + std::to_string(nb) + " buffers to kernel '" + kernel.name +
                 "', which takes " + std::to_string(kernel.num_buffers));
          need(2 + nb + 1);
          for (int64_t i = 0; i < nb; ++i) use(word(2 + i), RegKind::kTensor);
          int64_t ns = word(2 + nb);
          if (ns != kernel.num_scalars)
            fail("passes " + std::to_string(ns) + " scalars to kernel '" + kernel.name +
                 "', which takes " + std::to_string(kernel.num_scalars));
          need(3 + nb + ns);
          for (int64_t i = 0; i < ns; ++i) use(word(3 + nb + i), RegKind::kScalar);
          *max_buffers = std::max(*max_buffers, static_cast<size_t>(nb));
          *max_scalars = std::max(*max_scalars, static_cast<size_t>(ns));
          pc_ = start_ + 1 + 3 + nb + ns;
          break;
        }
        case vm::kResult: {
          need(1);
          int64_t n = word(0);
          if (n != static_cast<int64_t>(f_.outputs.size()))
            fail("returns " + std::to_string(n) + " tensors, but the function has " +
                 std::to_string(f_.outputs.size()) + " outputs");
          need(1 + n);
          for (int64_t i = 0; i < n; ++i) use(word(1 + i), RegKind::kTensor);
          pc_ = start_ + 1 + 1 + n;
          has_result = true;
          break;
        }
        default:
          fail("unknown opcode " + std::to_string(op_) + "; expected 1..9 (library_format.h)");
      }
      if (int n = fixed_operands(op_); n > 0) pc_ = start_ + 1 + n;
    }
    if (!has_result && !f_.outputs.empty())
      throw Error(where() + "the code ends without kResult; the function has " +
                  std::to_string(f_.outputs.size()) + " outputs");
  }

 private:
  std::string where() const { return "library '" + origin_ + "': function '" + f_.name + "': "; }
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(where() + "code[" + std::to_string(start_) + "] (" + opcode_name(op_) +
                "): " + what);
  }
  // Operand i of the current instruction (0 = the word after the opcode).
  int64_t word(int64_t i) const { return f_.code[start_ + 1 + i]; }
  void need(int64_t operands) const {
    if (start_ + 1 + operands > f_.code.size())
      fail("needs " + std::to_string(operands) + " operand words, but the code ends after " +
           std::to_string(f_.code.size() - start_ - 1));
  }
  void index(int64_t i, size_t count, const char* what, const char* of) const {
    if (i < 0 || static_cast<size_t>(i) >= count)
      fail(std::string(what) + " index " + std::to_string(i) + " is out of range; there are " +
           std::to_string(count) + " " + of);
  }
  void reg(int64_t r) const {
    if (r < 0 || r >= f_.num_registers)
      fail("register " + std::to_string(r) + " is out of range; the function has " +
           std::to_string(f_.num_registers) + " registers (num_registers)");
  }
  void define(int64_t r, RegKind kind) {
    reg(r);
    kinds_[r] = kind;
  }
  void use(int64_t r, RegKind kind) const {
    reg(r);
    if (kinds_[r] == RegKind::kUnset)
      fail("reads register " + std::to_string(r) + " before anything is written to it");
    if (kinds_[r] != kind)
      fail("uses register " + std::to_string(r) + " as a " +
           (kind == RegKind::kTensor ? "tensor" : "scalar") + ", but it holds a " +
           (kind == RegKind::kTensor ? "scalar" : "tensor"));
  }

  const Manifest& m_;
  const FunctionInfo& f_;
  const std::string& origin_;
  std::vector<RegKind> kinds_;
  size_t pc_ = 0, start_ = 0;
  int64_t op_ = 0;
};

// A register: a device pointer or an int64 scalar (the validator keeps them apart).
union Reg {
  void* ptr;
  int64_t value;
};

}  // namespace

VirtualMachine::VirtualMachine(const Manifest& manifest, std::string origin)
    : manifest_(manifest), origin_(std::move(origin)) {
  for (const auto& [name, f] : manifest_.functions)
    Validator(manifest_, f, origin_).run(&max_call_buffers_, &max_call_scalars_);
}

void VirtualMachine::validate(const Manifest& manifest, const FunctionInfo& f,
                              const std::string& origin) {
  size_t nb = 0, ns = 0;
  Validator(manifest, f, origin).run(&nb, &ns);
}

std::vector<void*> VirtualMachine::run(const FunctionInfo& f, const VMEnv& env,
                                       std::span<void* const> inputs,
                                       std::span<const int64_t> scalars) const {
  auto where = [&] { return "library '" + origin_ + "': function '" + f.name + "': "; };
  if (inputs.size() != f.inputs.size() || scalars.size() != f.scalars.size())
    throw Error(where() + "called with " + std::to_string(inputs.size()) + " inputs and " +
                std::to_string(scalars.size()) + " scalars; it takes " +
                std::to_string(f.inputs.size()) + " and " + std::to_string(f.scalars.size()));
  MLCC_CHECK(env.device != nullptr && env.params.size() == manifest_.params.size() &&
                 env.storages.size() == manifest_.storages.size() &&
                 env.kv_layers.size() == static_cast<size_t>(manifest_.kv_cache.num_layers),
             "VM environment does not match the manifest");
  std::vector<Reg> regs(static_cast<size_t>(f.num_registers), Reg{nullptr});
  std::vector<void*> buffers(max_call_buffers_);
  std::vector<int64_t> call_scalars(max_call_scalars_);
  std::vector<void*> result;
  const int64_t* code = f.code.data();
  const size_t size = f.code.size();
  for (size_t pc = 0; pc < size;) {
    const int64_t* w = code + pc + 1;
    switch (code[pc]) {
      case vm::kArg:
        regs[w[0]].ptr = inputs[w[1]];
        pc += 3;
        break;
      case vm::kScalar:
        regs[w[0]].value = scalars[w[1]];
        pc += 3;
        break;
      case vm::kParam:
        regs[w[0]].ptr = env.params[w[1]];
        pc += 3;
        break;
      case vm::kKVCache:
        regs[w[0]].ptr = env.kv_layers[w[1]];
        pc += 3;
        break;
      case vm::kView:
        regs[w[0]].ptr = static_cast<char*>(env.storages[w[1]]) + w[2];
        pc += 4;
        break;
      case vm::kConst:
        regs[w[0]].value = w[1];
        pc += 3;
        break;
      case vm::kBinary: {
        int64_t a = regs[w[2]].value, b = regs[w[3]].value, r = 0;
        switch (w[1]) {
          // Wrapping (unsigned) arithmetic: an overflow must not be undefined behaviour.
          case vm::kAdd:
            r = static_cast<int64_t>(uint64_t(a) + uint64_t(b));
            break;
          case vm::kSub:
            r = static_cast<int64_t>(uint64_t(a) - uint64_t(b));
            break;
          case vm::kMul:
            r = static_cast<int64_t>(uint64_t(a) * uint64_t(b));
            break;
          case vm::kFloorDiv:
          case vm::kFloorMod:
            if (b == 0) throw Error(where() + "code[" + std::to_string(pc) + "] divides by zero");
            r = w[1] == vm::kFloorDiv ? floor_div(a, b) : a - floor_div(a, b) * b;
            break;
          case vm::kMin:
            r = std::min(a, b);
            break;
          default:
            r = std::max(a, b);
            break;
        }
        regs[w[0]].value = r;
        pc += 5;
        break;
      }
      case vm::kCall: {
        int64_t nb = w[1], ns = w[2 + nb];
        for (int64_t i = 0; i < nb; ++i) buffers[i] = regs[w[2 + i]].ptr;
        for (int64_t i = 0; i < ns; ++i) call_scalars[i] = regs[w[3 + nb + i]].value;
        std::span<const int64_t> sc(call_scalars.data(), ns);
        env.device->launch(static_cast<size_t>(w[0]), std::span<void* const>(buffers.data(), nb),
                           sc);
        if (env.kernel_bytes != nullptr) {
          const KernelInfo& k = manifest_.kernels[static_cast<size_t>(w[0])];
          if (k.has_bytes) (*env.kernel_bytes)[static_cast<size_t>(w[0])] += k.bytes.eval(sc);
        }
        pc += 4 + nb + ns;
        break;
      }
      case vm::kResult:
        for (int64_t i = 0; i < w[0]; ++i) result.push_back(regs[w[1 + i]].ptr);
        pc = size;
        break;
      default:
        MLCC_CHECK(false, "opcode passed validation but is unknown");
    }
  }
  return result;
}

}  // namespace mlcc
