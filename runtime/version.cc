// The mlcc release version.
#include "runtime/version.h"

namespace mlcc {

const char* version_string() { return "0.1.0"; }

}  // namespace mlcc
