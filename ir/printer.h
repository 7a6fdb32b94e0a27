// A readable text form of the tensor IR, used by tests (expected text), diagnostics and
// `--dump-ir`. Distinct variables that share a name are told apart by a numeric suffix.
#pragma once

#include <ostream>
#include <string>

#include "ir/expr.h"

namespace mlcc::ir {

std::string to_string(const Expr& e);
std::string to_string(const Stmt& s);
std::string to_string(const PrimFunc& f);
std::ostream& operator<<(std::ostream& os, const Expr& e);
std::ostream& operator<<(std::ostream& os, const Stmt& s);
std::ostream& operator<<(std::ostream& os, const PrimFunc& f);

}  // namespace mlcc::ir
