// mlcc: the command line. The runtime's subcommands (tokenize, bench, devices) are always
// there; a build with the compiler (MLCC_WITH_LLVM) adds compile, convert-weight, demo and
// targets.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <vector>

#include "runtime/error.h"
#include "runtime/version.h"
#include "tools/commands.h"

int main(int argc, char** argv) {
  using namespace mlcc;
  CLI::App app{"mlcc: a portable compiler for large language models"};
  app.set_version_flag("--version", version_string());
  app.require_subcommand(1);

  std::vector<tools::Command> commands;
#ifdef MLCC_HAVE_COMPILER
  commands = tools::add_compiler_commands(app);
  commands.push_back(tools::add_convert_weight_command(app));
#endif
  commands.push_back(tools::add_tokenize_command(app));
  commands.push_back(tools::add_bench_command(app));
  commands.push_back(tools::add_devices_command(app));

  CLI11_PARSE(app, argc, argv);
  try {
    for (const tools::Command& c : commands)
      if (*c.app) return c.run();
  } catch (const Error& e) {
    std::fprintf(stderr, "mlcc: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
