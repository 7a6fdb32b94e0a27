// Placeholder for `mlcc tokenize` (being written).
#include "tools/commands.h"

namespace mlcc::tools {

Command add_tokenize_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("tokenize", "(not yet available)");
  return {cmd, [] { return 1; }};
}

}  // namespace mlcc::tools
