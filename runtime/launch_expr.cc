// Parsing and evaluation of postfix launch extents.
#include "runtime/launch_expr.h"

#include <algorithm>

#include "runtime/error.h"

namespace mlcc {
namespace {

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a % b < 0) != (b < 0))) ? q - 1 : q;
}

}  // namespace

LaunchExpr LaunchExpr::constant(int64_t value) {
  LaunchExpr e;
  e.tokens_.push_back({Kind::kConst, value});
  return e;
}

LaunchExpr LaunchExpr::parse(const nlohmann::json& postfix, int num_scalars,
                             const std::string& where) {
  if (!postfix.is_array() || postfix.empty())
    throw Error(where + ": expected a postfix expression (a non-empty JSON array), got " +
                postfix.dump());
  static const std::pair<const char*, Kind> kOps[] = {
      {"+", Kind::kAdd}, {"-", Kind::kSub},   {"*", Kind::kMul},  {"/", Kind::kDiv},
      {"%", Kind::kMod}, {"min", Kind::kMin}, {"max", Kind::kMax}};
  LaunchExpr e;
  int depth = 0;
  for (size_t i = 0; i < postfix.size(); ++i) {
    const nlohmann::json& t = postfix[i];
    std::string at = where + "[" + std::to_string(i) + "]";
    if (t.is_number_integer()) {
      e.tokens_.push_back({Kind::kConst, t.get<int64_t>()});
      ++depth;
      continue;
    }
    if (!t.is_string())
      throw Error(at + ": expected an integer, \"$i\" or an operator, got " + t.dump());
    std::string s = t.get<std::string>();
    if (s.size() > 1 && s[0] == '$') {
      size_t used = 0;
      int64_t index = -1;
      try {
        index = std::stoll(s.substr(1), &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != s.size() - 1 || index < 0 || index >= num_scalars)
        throw Error(at + ": \"" + s + "\" names no scalar argument (the kernel has " +
                    std::to_string(num_scalars) + ": $0 .. $" + std::to_string(num_scalars - 1) +
                    ")");
      e.tokens_.push_back({Kind::kArg, index});
      ++depth;
      continue;
    }
    auto op =
        std::find_if(std::begin(kOps), std::end(kOps), [&](const auto& o) { return s == o.first; });
    if (op == std::end(kOps))
      throw Error(at + ": unknown token \"" + s +
                  "\"; expected an integer, \"$i\", + - * / % min or max");
    if (depth < 2)
      throw Error(at + ": operator \"" + s + "\" needs two operands, the stack holds " +
                  std::to_string(depth));
    e.tokens_.push_back({op->second, 0});
    --depth;
  }
  if (depth != 1)
    throw Error(where + ": the expression leaves " + std::to_string(depth) +
                " values on the stack; expected exactly one");
  return e;
}

int64_t LaunchExpr::eval(std::span<const int64_t> scalars) const {
  if (tokens_.empty()) return 1;
  // Parsing bounded the depth by the token count; launch extents are a handful of tokens.
  int64_t small[16];
  std::vector<int64_t> big;
  int64_t* stack = small;
  if (tokens_.size() > 16) {
    big.resize(tokens_.size());
    stack = big.data();
  }
  size_t top = 0;
  for (const Token& t : tokens_) {
    if (t.kind == Kind::kConst) {
      stack[top++] = t.value;
      continue;
    }
    if (t.kind == Kind::kArg) {
      MLCC_CHECK(static_cast<size_t>(t.value) < scalars.size(), "launch extent argument");
      stack[top++] = scalars[t.value];
      continue;
    }
    int64_t b = stack[--top], a = stack[--top], r = 0;
    bool overflow = false;
    switch (t.kind) {
      case Kind::kAdd:
        overflow = __builtin_add_overflow(a, b, &r);
        break;
      case Kind::kSub:
        overflow = __builtin_sub_overflow(a, b, &r);
        break;
      case Kind::kMul:
        overflow = __builtin_mul_overflow(a, b, &r);
        break;
      case Kind::kDiv:
      case Kind::kMod:
        if (b == 0) throw Error("launch extent " + str() + " divides by zero");
        if (a == INT64_MIN && b == -1)
          overflow = true;
        else
          r = t.kind == Kind::kDiv ? floor_div(a, b) : a - floor_div(a, b) * b;
        break;
      case Kind::kMin:
        r = std::min(a, b);
        break;
      case Kind::kMax:
        r = std::max(a, b);
        break;
      default:
        MLCC_CHECK(false, "launch extent operator");
    }
    if (overflow) throw Error("launch extent " + str() + " overflows int64");
    stack[top++] = r;
  }
  return stack[0];
}

std::string LaunchExpr::str() const {
  if (tokens_.empty()) return "1";
  std::vector<std::string> stack;
  for (const Token& t : tokens_) {
    switch (t.kind) {
      case Kind::kConst:
        stack.push_back(std::to_string(t.value));
        continue;
      case Kind::kArg:
        stack.push_back(std::string(1, '$').append(std::to_string(t.value)));
        continue;
      default:
        break;
    }
    std::string b = std::move(stack.back());
    stack.pop_back();
    std::string a = std::move(stack.back());
    stack.pop_back();
    static const char* kNames[] = {"", "", "+", "-", "*", "/", "%", "min", "max"};
    const char* name = kNames[static_cast<int>(t.kind)];
    // Appended piece by piece: GCC 12 warns (-Wrestrict, falsely) on "(" + a + ... chains.
    std::string r;
    if (t.kind == Kind::kMin || t.kind == Kind::kMax) {
      r.append(name).append("(").append(a).append(", ").append(b).append(")");
    } else {
      r.append("(").append(a).append(" ").append(name).append(" ").append(b).append(")");
    }
    stack.push_back(std::move(r));
  }
  return stack.back();
}

bool LaunchExpr::is_constant() const {
  return std::none_of(tokens_.begin(), tokens_.end(),
                      [](const Token& t) { return t.kind == Kind::kArg; });
}

}  // namespace mlcc
