// The one exception type mlcc throws for user-facing failures (bad input, missing driver,
// invalid schedule). Every message names what was wrong and what was expected.
#pragma once

#include <stdexcept>
#include <string>

namespace mlcc {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& msg) : std::runtime_error(msg) {}
};

// Internal invariant failure: a bug in mlcc, never the user's input.
#define MLCC_CHECK(cond, msg)                                                                      \
  do {                                                                                             \
    if (!(cond))                                                                                   \
      throw ::mlcc::Error(std::string("internal check failed: ") + #cond + " (" + __FILE__ + ":" + \
                          std::to_string(__LINE__) + "): " + (msg));                               \
  } while (0)

}  // namespace mlcc
