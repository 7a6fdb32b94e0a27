// Placeholder for `mlcc bench` (being written).
#include "tools/commands.h"

namespace mlcc::tools {

Command add_bench_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("bench", "(not yet available)");
  return {cmd, [] { return 1; }};
}

}  // namespace mlcc::tools
