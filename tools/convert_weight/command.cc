// Placeholder for `mlcc convert-weight` (being written).
#include "tools/commands.h"

namespace mlcc::tools {

Command add_convert_weight_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("convert-weight", "(not yet available)");
  return {cmd, [] { return 1; }};
}

}  // namespace mlcc::tools
