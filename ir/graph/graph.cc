// The graph IR's behaviour: types and their sizes, operator names, attribute access, the
// readable printer, structural equality and the verifier declared in ir/graph/graph.h.
#include "ir/graph/graph.h"

#include <charconv>
#include <set>
#include <sstream>

#include "runtime/error.h"

namespace mlcc::graph {

// ---- types ----------------------------------------------------------------------------

int64_t TensorType::max_elements() const {
  int64_t n = 1;
  for (const Dim& d : shape) n *= d.value;
  return n;
}

int64_t TensorType::max_bytes() const { return max_elements() * dtype.bytes(); }

std::string TensorType::str() const {
  std::string s = ir::to_string(dtype) + "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    if (shape[i].is_symbolic()) s += shape[i].symbol + "<=";
    s += std::to_string(shape[i].value);
  }
  return s + "]";
}

// ---- operators ------------------------------------------------------------------------

const char* op_name(OpKind op) {
  switch (op) {
#define MLCC_GRAPH_OP(name, printed, outputs) \
  case OpKind::k##name:                       \
    return printed;
#include "ir/graph/ops.def"
#undef MLCC_GRAPH_OP
  }
  return "?";
}

int op_num_outputs(OpKind op) {
  switch (op) {
#define MLCC_GRAPH_OP(name, printed, outputs) \
  case OpKind::k##name:                       \
    return outputs;
#include "ir/graph/ops.def"
#undef MLCC_GRAPH_OP
  }
  return 0;
}

// ---- attributes -----------------------------------------------------------------------

namespace {

[[noreturn]] void attr_error(const Node& n, const std::string& key, const char* expected,
                             bool present) {
  throw Error(std::string("graph node ") + op_name(n.op) + ": attribute '" + key + "' " +
              (present ? "has the wrong type" : "is missing") + " (expected " + expected + ")");
}

}  // namespace

int64_t Node::attr_int(const std::string& key) const {
  auto it = attrs.find(key);
  if (it == attrs.end()) attr_error(*this, key, "an integer", false);
  if (auto* v = std::get_if<int64_t>(&it->second)) return *v;
  attr_error(*this, key, "an integer", true);
}

double Node::attr_float(const std::string& key) const {
  auto it = attrs.find(key);
  if (it == attrs.end()) attr_error(*this, key, "a number", false);
  if (auto* v = std::get_if<double>(&it->second)) return *v;
  if (auto* v = std::get_if<int64_t>(&it->second)) return static_cast<double>(*v);
  attr_error(*this, key, "a number", true);
}

const std::string& Node::attr_str(const std::string& key) const {
  auto it = attrs.find(key);
  if (it == attrs.end()) attr_error(*this, key, "a string", false);
  if (auto* v = std::get_if<std::string>(&it->second)) return *v;
  attr_error(*this, key, "a string", true);
}

// ---- functions and modules ------------------------------------------------------------

Value Function::add(Node n) {
  int expected = op_num_outputs(n.op);
  if (expected >= 0 && static_cast<int>(n.outputs.size()) != expected)
    throw Error("graph function '" + name + "': node " + op_name(n.op) + " has " +
                std::to_string(n.outputs.size()) + " output types, expected " +
                std::to_string(expected));
  for (const Value& v : n.inputs) {
    if (v.node < 0 || v.node >= static_cast<int>(nodes.size()) || v.output < 0 ||
        v.output >= static_cast<int>(nodes[static_cast<size_t>(v.node)].outputs.size()))
      throw Error("graph function '" + name + "': input %" + std::to_string(v.node) + "." +
                  std::to_string(v.output) + " of new node " + op_name(n.op) +
                  " does not name an output of an earlier node (the function has " +
                  std::to_string(nodes.size()) + " nodes)");
  }
  nodes.push_back(std::move(n));
  return Value{static_cast<int>(nodes.size()) - 1, 0};
}

const TensorType& Function::type(Value v) const {
  if (v.node < 0 || v.node >= static_cast<int>(nodes.size()))
    throw Error("graph function '" + name + "': no node %" + std::to_string(v.node));
  const Node& n = nodes[static_cast<size_t>(v.node)];
  if (v.output < 0 || v.output >= static_cast<int>(n.outputs.size()))
    throw Error("graph function '" + name + "': node %" + std::to_string(v.node) + " (" +
                op_name(n.op) + ") has no output " + std::to_string(v.output));
  return n.outputs[static_cast<size_t>(v.output)];
}

namespace {

template <typename M>
auto& find_function(M& m, const std::string& name) {
  for (auto& f : m.functions)
    if (f.name == name) return f;
  std::string have;
  for (const auto& f : m.functions) have += (have.empty() ? "" : ", ") + f.name;
  throw Error("graph module has no function '" + name +
              "' (it has: " + (have.empty() ? "none" : have) + ")");
}

}  // namespace

const Function& Module::function(const std::string& name) const {
  return find_function(*this, name);
}
Function& Module::function(const std::string& name) { return find_function(*this, name); }

const ParamInfo& Module::param(const std::string& name) const {
  for (const ParamInfo& p : params)
    if (p.name == name) return p;
  throw Error("graph module has no parameter '" + name + "' (" + std::to_string(params.size()) +
              " parameters)");
}

// ---- printer --------------------------------------------------------------------------

namespace {

std::string value_str(Value v) {
  std::string s = "%" + std::to_string(v.node);
  if (v.output != 0) s += "." + std::to_string(v.output);
  return s;
}

// Doubles always print with a '.' or an exponent so that 10000.0 reads differently from
// the integer 10000; the shortest round-trip form keeps the text exact.
std::string double_str(double d) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), d);
  std::string s(buf, end);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

std::string attr_value_str(const AttrValue& a) {
  if (auto* i = std::get_if<int64_t>(&a)) return std::to_string(*i);
  if (auto* d = std::get_if<double>(&a)) return double_str(*d);
  return "\"" + std::get<std::string>(a) + "\"";
}

void print_node(std::ostringstream& os, const Node& n, int index) {
  os << "  %" << index << " = " << op_name(n.op) << "(";
  for (size_t i = 0; i < n.inputs.size(); ++i) os << (i ? ", " : "") << value_str(n.inputs[i]);
  os << ")";
  if (!n.attrs.empty()) {
    os << " {";
    bool first = true;
    for (const auto& [k, v] : n.attrs) {
      os << (first ? "" : ", ") << k << "=" << attr_value_str(v);
      first = false;
    }
    os << "}";
  }
  os << " : ";
  if (n.outputs.size() == 1) {
    os << n.outputs[0].str();
  } else {
    os << "(";
    for (size_t i = 0; i < n.outputs.size(); ++i) os << (i ? ", " : "") << n.outputs[i].str();
    os << ")";
  }
  os << "\n";
}

}  // namespace

std::string print(const Function& f) {
  std::ostringstream os;
  os << "func " << f.name << " {\n";
  for (size_t i = 0; i < f.nodes.size(); ++i) print_node(os, f.nodes[i], static_cast<int>(i));
  os << "  return ";
  for (size_t i = 0; i < f.results.size(); ++i) os << (i ? ", " : "") << value_str(f.results[i]);
  os << "\n}\n";
  return os.str();
}

std::string print(const Module& m) {
  std::ostringstream os;
  os << "module {\n";
  for (const ParamInfo& p : m.params) os << "  param " << p.name << " : " << p.type.str() << "\n";
  os << "}\n";
  for (const Function& f : m.functions) os << "\n" << print(f);
  return os.str();
}

// ---- structural equality --------------------------------------------------------------

// Nodes are compared position by position: two functions built in the same order with the
// same wiring are equal whatever their names. Function names matter only inside modules,
// where they are how the runtime finds entry points.
bool structural_equal(const Function& a, const Function& b) {
  if (a.nodes.size() != b.nodes.size() || a.results != b.results) return false;
  for (size_t i = 0; i < a.nodes.size(); ++i) {
    const Node& x = a.nodes[i];
    const Node& y = b.nodes[i];
    if (x.op != y.op || x.inputs != y.inputs || x.outputs != y.outputs || x.attrs != y.attrs)
      return false;
  }
  return true;
}

bool structural_equal(const Module& a, const Module& b) {
  if (a.params != b.params || a.functions.size() != b.functions.size()) return false;
  for (size_t i = 0; i < a.functions.size(); ++i) {
    if (a.functions[i].name != b.functions[i].name) return false;
    if (!structural_equal(a.functions[i], b.functions[i])) return false;
  }
  return true;
}

// ---- verifier -------------------------------------------------------------------------

namespace {

void verify_function(const Module& m, const Function& f, std::vector<std::string>& out) {
  auto where = [&](size_t i) {
    return "function '" + f.name + "', node %" + std::to_string(i) + " (" + op_name(f.nodes[i].op) +
           "): ";
  };
  auto valid = [&](Value v, size_t before) {
    return v.node >= 0 && static_cast<size_t>(v.node) < before && v.output >= 0 &&
           static_cast<size_t>(v.output) < f.nodes[static_cast<size_t>(v.node)].outputs.size();
  };
  std::set<std::string> input_names;
  for (size_t i = 0; i < f.nodes.size(); ++i) {
    const Node& n = f.nodes[i];
    int expected = op_num_outputs(n.op);
    if (expected >= 0 && static_cast<int>(n.outputs.size()) != expected)
      out.push_back(where(i) + std::to_string(n.outputs.size()) + " outputs, expected " +
                    std::to_string(expected));
    for (const Value& v : n.inputs)
      if (!valid(v, i))
        out.push_back(where(i) + "input " + value_str(v) + " is not an output of an earlier node");
    bool leaf = n.op == OpKind::kInput || n.op == OpKind::kParam || n.op == OpKind::kKVCache;
    if (leaf && !n.inputs.empty()) out.push_back(where(i) + "a leaf must have no inputs");
    auto str_attr = [&](const char* key) -> const std::string* {
      auto it = n.attrs.find(key);
      if (it == n.attrs.end() || !std::holds_alternative<std::string>(it->second)) {
        out.push_back(where(i) + "needs a string attribute '" + key + "'");
        return nullptr;
      }
      return &std::get<std::string>(it->second);
    };
    if (n.op == OpKind::kInput) {
      if (const std::string* name = str_attr("name"))
        if (!input_names.insert(*name).second)
          out.push_back(where(i) + "a second input named '" + *name + "'");
    } else if (n.op == OpKind::kParam) {
      if (const std::string* name = str_attr("name")) {
        const ParamInfo* p = nullptr;
        for (const ParamInfo& q : m.params)
          if (q.name == *name) p = &q;
        if (!p)
          out.push_back(where(i) + "parameter '" + *name + "' is not in the module's list");
        else if (n.outputs.size() == 1 && !(n.outputs[0] == p->type))
          out.push_back(where(i) + "parameter '" + *name + "' has type " + n.outputs[0].str() +
                        " but the module lists " + p->type.str());
      }
    } else if (n.op == OpKind::kKVCache) {
      auto it = n.attrs.find("layer");
      if (it == n.attrs.end() || !std::holds_alternative<int64_t>(it->second))
        out.push_back(where(i) + "needs an integer attribute 'layer'");
    } else if (n.op == OpKind::kCall) {
      str_attr("kernel");
    }
  }
  if (f.results.empty()) out.push_back("function '" + f.name + "': no results");
  for (const Value& v : f.results)
    if (!valid(v, f.nodes.size()))
      out.push_back("function '" + f.name + "': result " + value_str(v) +
                    " is not an output of a node");
}

}  // namespace

std::vector<std::string> verify(const Module& m) {
  std::vector<std::string> out;
  std::set<std::string> names;
  for (const ParamInfo& p : m.params)
    if (!names.insert(p.name).second) out.push_back("parameter '" + p.name + "' listed twice");
  names.clear();
  for (const Function& f : m.functions) {
    if (f.name.empty()) out.push_back("a function without a name");
    if (!names.insert(f.name).second) out.push_back("function '" + f.name + "' defined twice");
    verify_function(m, f, out);
  }
  return out;
}

}  // namespace mlcc::graph
