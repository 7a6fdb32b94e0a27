// The subcommands of `mlcc`, one file each. Each adds its
// subcommand to the app and returns it with the function that runs it once the command
// line is parsed (the options live in the closure).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <vector>

namespace mlcc::tools {

struct Command {
  CLI::App* app;
  std::function<int()> run;
};

// compile, demo, targets: tools/compile_command.cc (compiler builds only).
std::vector<Command> add_compiler_commands(CLI::App& app);
Command add_convert_weight_command(CLI::App& app);  // tools/convert_weight/command.cc
Command add_tokenize_command(CLI::App& app);        // tools/tokenize_command.cc
Command add_bench_command(CLI::App& app);           // tools/bench_command.cc
Command add_devices_command(CLI::App& app);         // tools/devices_command.cc

}  // namespace mlcc::tools
