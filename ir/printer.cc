// Prints the tensor IR as indented text. Binary operators are fully parenthesized so the
// text never depends on precedence rules.
#include "ir/printer.h"

#include <cmath>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

namespace mlcc::ir {

namespace {

const char* binary_symbol(NodeKind k) {
  switch (k) {
    case NodeKind::kAdd:
      return "+";
    case NodeKind::kSub:
      return "-";
    case NodeKind::kMul:
      return "*";
    case NodeKind::kDiv:
      return "/";
    case NodeKind::kMod:
      return "%";
    case NodeKind::kEQ:
      return "==";
    case NodeKind::kNE:
      return "!=";
    case NodeKind::kLT:
      return "<";
    case NodeKind::kLE:
      return "<=";
    case NodeKind::kGT:
      return ">";
    case NodeKind::kGE:
      return ">=";
    case NodeKind::kAnd:
      return "&&";
    case NodeKind::kOr:
      return "||";
    case NodeKind::kBitAnd:
      return "&";
    case NodeKind::kBitOr:
      return "|";
    case NodeKind::kBitXor:
      return "^";
    case NodeKind::kShl:
      return "<<";
    case NodeKind::kShr:
      return ">>";
    default:
      return nullptr;  // min, max print as calls
  }
}

class Printer {
 public:
  std::string expr(const Expr& e) {
    std::ostringstream os;
    print(os, e);
    return os.str();
  }

  void print(std::ostream& os, const Expr& e) {
    if (!e.defined()) {
      os << "<null>";
      return;
    }
    if (const auto* n = e.as<IntImmNode>()) {
      if (n->dtype == DataType::i32())
        os << n->value;
      else if (n->dtype.is_bool())
        os << (n->value ? "true" : "false");
      else
        os << to_string(n->dtype) << "(" << n->value << ")";
    } else if (const auto* n = e.as<FloatImmNode>()) {
      std::ostringstream v;
      v.precision(9);
      v << n->value;
      std::string s = v.str();
      if (std::isfinite(n->value) && s.find_first_of(".e") == std::string::npos) s += ".0";
      if (n->dtype == DataType::f32())
        os << s << "f";
      else
        os << to_string(n->dtype) << "(" << s << ")";
    } else if (const auto* n = e.as<VarNode>()) {
      os << name_of(n);
    } else if (const auto* n = e.as<BinaryNode>()) {
      if (const char* sym = binary_symbol(n->kind)) {
        os << "(";
        print(os, n->a);
        os << " " << sym << " ";
        print(os, n->b);
        os << ")";
      } else {
        os << (n->kind == NodeKind::kMin ? "min(" : "max(");
        print(os, n->a);
        os << ", ";
        print(os, n->b);
        os << ")";
      }
    } else if (const auto* n = e.as<NotNode>()) {
      os << "!";
      print(os, n->a);
    } else if (const auto* n = e.as<SelectNode>()) {
      os << "select(";
      print(os, n->cond);
      os << ", ";
      print(os, n->true_value);
      os << ", ";
      print(os, n->false_value);
      os << ")";
    } else if (const auto* n = e.as<CastNode>()) {
      os << to_string(n->dtype) << "(";
      print(os, n->value);
      os << ")";
    } else if (const auto* n = e.as<RampNode>()) {
      os << "ramp(";
      print(os, n->base);
      os << ", ";
      print(os, n->stride);
      os << ", " << n->lanes << ")";
    } else if (const auto* n = e.as<BroadcastNode>()) {
      os << "broadcast(";
      print(os, n->value);
      os << ", " << n->lanes << ")";
    } else if (const auto* n = e.as<BufferLoadNode>()) {
      os << buffer_name(n->buffer) << "[";
      print_list(os, n->indices);
      os << "]";
    } else if (const auto* n = e.as<CallNode>()) {
      os << intrinsic_name(n->op);
      if (n->op == Intrinsic::kReinterpret) os << "<" << to_string(n->dtype) << ">";
      os << "(";
      for (size_t i = 0; i < n->args.size(); ++i) {
        if (i) os << ", ";
        if (n->op == Intrinsic::kThreadAllReduce && i == 1 && is_const_int(n->args[1]))
          os << reduce_name(static_cast<ReduceKind>(n->args[1].as<IntImmNode>()->value));
        else
          print(os, n->args[i]);
      }
      os << ")";
    }
  }

  void print(std::ostream& os, const Stmt& s, int indent) {
    if (!s.defined()) return;
    std::string pad(indent * 2, ' ');
    if (const auto* n = s.as<ForNode>()) {
      os << pad << "for " << name_of(n->var.get()) << " in range(";
      print(os, n->min);
      os << ", ";
      print(os, n->extent);
      os << ")";
      if (n->for_kind == ForKind::kThreadBinding)
        os << " bind(" << thread_axis_name(n->thread_axis) << ")";
      else if (n->for_kind != ForKind::kSerial)
        os << " " << for_kind_name(n->for_kind);
      os << " {\n";
      print(os, n->body, indent + 1);
      os << pad << "}\n";
    } else if (const auto* n = s.as<BufferStoreNode>()) {
      os << pad << buffer_name(n->buffer) << "[";
      print_list(os, n->indices);
      os << "] = ";
      print(os, n->value);
      os << "\n";
    } else if (const auto* n = s.as<AllocateNode>()) {
      os << pad << "alloc " << buffer_decl(n->buffer) << "\n";
      print(os, n->body, indent);
    } else if (const auto* n = s.as<IfThenElseNode>()) {
      os << pad << "if ";
      print(os, n->cond);
      os << " {\n";
      print(os, n->then_case, indent + 1);
      if (n->else_case.defined()) {
        os << pad << "} else {\n";
        print(os, n->else_case, indent + 1);
      }
      os << pad << "}\n";
    } else if (const auto* n = s.as<LetStmtNode>()) {
      os << pad << "let " << name_of(n->var.get()) << ": " << to_string(n->var.dtype()) << " = ";
      print(os, n->value);
      os << "\n";
      print(os, n->body, indent);
    } else if (const auto* n = s.as<SeqNode>()) {
      for (const Stmt& c : n->seq) print(os, c, indent);
    } else if (const auto* n = s.as<EvaluateNode>()) {
      os << pad;
      print(os, n->value);
      os << "\n";
    }
  }

  std::string buffer_decl(const Buffer& b) {
    std::ostringstream os;
    os << buffer_name(b) << ": " << to_string(b->dtype) << "[";
    print_list(os, b->shape);
    os << "]";
    if (b->scope != MemScope::kGlobal) os << " " << scope_name(b->scope);
    if (!b->strides.empty()) {
      os << " strides[";
      print_list(os, b->strides);
      os << "]";
    }
    return os.str();
  }

  std::string name_of(const VarNode* v) { return unique(v, v->name); }
  std::string buffer_name(const Buffer& b) { return unique(b.get(), b->name); }

 private:
  void print_list(std::ostream& os, const std::vector<Expr>& es) {
    for (size_t i = 0; i < es.size(); ++i) {
      if (i) os << ", ";
      print(os, es[i]);
    }
  }

  std::string unique(const void* key, const std::string& name) {
    auto it = names_.find(key);
    if (it != names_.end()) return it->second;
    std::string n = name.empty() ? "v" : name;
    for (int i = 1; !used_.insert(n).second; ++i) n = name + "_" + std::to_string(i);
    return names_[key] = n;
  }

  std::unordered_map<const void*, std::string> names_;
  std::unordered_set<std::string> used_;
};

}  // namespace

std::string to_string(const Expr& e) { return Printer().expr(e); }

std::string to_string(const Stmt& s) {
  std::ostringstream os;
  Printer().print(os, s, 0);
  return os.str();
}

std::string to_string(const PrimFunc& f) {
  Printer p;
  std::ostringstream os;
  os << "func " << f.name << "(";
  bool first = true;
  for (const Buffer& b : f.buffers) {
    os << (first ? "" : ", ") << p.buffer_decl(b);
    first = false;
  }
  for (const Var& v : f.scalars) {
    os << (first ? "" : ", ") << p.name_of(v.get()) << ": " << to_string(v.dtype());
    first = false;
  }
  os << ") {\n";
  p.print(os, f.body, 1);
  os << "}\n";
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Expr& e) { return os << to_string(e); }
std::ostream& operator<<(std::ostream& os, const Stmt& s) { return os << to_string(s); }
std::ostream& operator<<(std::ostream& os, const PrimFunc& f) { return os << to_string(f); }

}  // namespace mlcc::ir
