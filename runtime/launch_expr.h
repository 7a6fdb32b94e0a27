// Launch extents of CUDA kernels as the manifest stores them: postfix expressions over the
// kernel's scalar arguments (runtime/library_format.h), checked once when parsed so that
// evaluating one per launch cannot underflow its stack or read a missing argument.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

namespace mlcc {

class LaunchExpr {
 public:
  // The constant 1 (an axis the kernel does not use).
  LaunchExpr() = default;
  static LaunchExpr constant(int64_t value);

  // Parses a JSON array of numbers, "$i" (scalar argument i < num_scalars) and the
  // operators + - * / % min max. Throws mlcc::Error naming `where` (the manifest field)
  // and the offending element when the array is not a well-formed expression.
  static LaunchExpr parse(const nlohmann::json& postfix, int num_scalars, const std::string& where);

  // The value for these scalar arguments; `/` and `%` are floor division and floor modulo.
  // Throws mlcc::Error on division by zero or int64 overflow.
  int64_t eval(std::span<const int64_t> scalars) const;

  // Infix text for error messages, e.g. "(($0 + 31) / 32)".
  std::string str() const;
  bool is_constant() const;

 private:
  enum class Kind : uint8_t { kConst, kArg, kAdd, kSub, kMul, kDiv, kMod, kMin, kMax };
  struct Token {
    Kind kind;
    int64_t value;  // the constant, or the argument index
  };
  std::vector<Token> tokens_;  // empty: the constant 1
};

}  // namespace mlcc
