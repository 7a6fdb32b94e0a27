// Lowering to the VM program (runtime/library_format.h): one register per
// value, leaves loaded with kArg / kParam / kKVCache, planned intermediates as
// kView of their storage, each Call as kCall with its buffers in kernel order
// and its scalar arguments (symbolic sizes such as seq_len) taken from the
// caller's scalars by name.
#include <algorithm>
#include <map>

#include "passes/graph/graph_passes.h"
#include "runtime/error.h"
#include "runtime/library_format.h"

namespace mlcc::graph {

namespace {

// The order in which callers pass scalars; a function takes those its kernels
// use.
const std::vector<std::string> kScalarOrder = {"seq_len", "total_seq_len"};

VmFunction lower_function(const Program& p, const Function& f) {
  const FunctionPlan& plan = p.memory.functions.at(f.name);
  std::map<std::string, size_t> kernel_index, param_index;
  for (size_t i = 0; i < p.kernels.size(); ++i) kernel_index[p.kernels[i].name] = i;
  for (size_t i = 0; i < p.module.params.size(); ++i) param_index[p.module.params[i].name] = i;

  // The scalars this function's kernels use.
  VmFunction vm;
  for (const std::string& s : kScalarOrder)
    for (const Node& n : f.nodes)
      if (n.op == OpKind::kCall) {
        const auto& sc = call_kernel(p, n).scalars;
        if (std::any_of(sc.begin(), sc.end(), [&](const ir::Var& v) { return v.name() == s; })) {
          vm.scalars.push_back(s);
          break;
        }
      }

  int64_t next = 0;
  std::vector<int64_t>& code = vm.code;
  std::map<std::string, int64_t> scalar_reg;
  for (size_t i = 0; i < vm.scalars.size(); ++i) {
    scalar_reg[vm.scalars[i]] = next;
    code.insert(code.end(), {vm::kScalar, next++, static_cast<int64_t>(i)});
  }
  std::map<Value, int64_t> reg;
  int64_t inputs = 0;
  for (size_t i = 0; i < f.nodes.size(); ++i) {
    const Node& n = f.nodes[i];
    const int node = static_cast<int>(i);
    switch (n.op) {
      case OpKind::kInput:
        reg[{node, 0}] = next;
        code.insert(code.end(), {vm::kArg, next++, inputs++});
        break;
      case OpKind::kParam:
        reg[{node, 0}] = next;
        code.insert(code.end(),
                    {vm::kParam, next++, static_cast<int64_t>(param_index.at(n.attr_str("name")))});
        break;
      case OpKind::kKVCache:
        reg[{node, 0}] = next;
        code.insert(code.end(), {vm::kKVCache, next++, n.attr_int("layer")});
        break;
      case OpKind::kCall: {
        const ir::PrimFunc& k = call_kernel(p, n);
        std::vector<int64_t> buffers;
        for (Value v : n.inputs) buffers.push_back(reg.at(v));
        if (n.has_attr("inplace")) {
          reg[{node, 0}] = reg.at(n.inputs.at(static_cast<size_t>(n.attr_int("inplace"))));
        } else {
          const Placement& pl = plan.placements.at(node);
          for (size_t o = 0; o < n.outputs.size(); ++o) {
            int64_t r = next++;
            reg[{node, static_cast<int>(o)}] = r;
            buffers.push_back(r);
            code.insert(code.end(), {vm::kView, r, pl.storage,
                                     pl.offset + output_offset(n, static_cast<int>(o))});
          }
        }
        if (buffers.size() != k.buffers.size())
          throw Error("lower_to_vm: call of " + k.name + " in '" + f.name + "' passes " +
                      std::to_string(buffers.size()) + " buffers; the kernel takes " +
                      std::to_string(k.buffers.size()));
        code.insert(code.end(), {vm::kCall, static_cast<int64_t>(kernel_index.at(k.name)),
                                 static_cast<int64_t>(buffers.size())});
        code.insert(code.end(), buffers.begin(), buffers.end());
        code.push_back(static_cast<int64_t>(k.scalars.size()));
        for (const ir::Var& v : k.scalars) {
          auto it = scalar_reg.find(v.name());
          if (it == scalar_reg.end())
            throw Error("lower_to_vm: kernel " + k.name + " takes scalar '" + v.name() +
                        "', which no caller supplies");
          code.push_back(it->second);
        }
        break;
      }
      default:
        throw Error(std::string("lower_to_vm: operator '") + op_name(n.op) + "' in '" + f.name +
                    "' was not legalized");
    }
  }
  code.insert(code.end(), {vm::kResult, static_cast<int64_t>(f.results.size())});
  for (Value r : f.results) code.push_back(reg.at(r));
  vm.num_registers = next;
  return vm;
}

}  // namespace

Program lower_to_vm(Program p) {
  p.vm.clear();
  for (const Function& f : p.module.functions) p.vm[f.name] = lower_function(p, f);
  return p;
}

}  // namespace mlcc::graph
