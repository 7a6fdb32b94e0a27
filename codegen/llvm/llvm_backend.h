// LLVM plumbing shared by the CPU, NVPTX and AMDGPU code generators: target registration, target
// machines built from an mlcc Target, the O3 pipeline and object/assembly emission.
#pragma once

#include <memory>
#include <string>

#include "targets/target.h"

namespace llvm {
class Module;
class TargetMachine;
}  // namespace llvm

namespace mlcc::codegen {

// A target machine for target.triple / mcpu / features (PIC, aggressive optimization).
// Throws mlcc::Error naming the triple when LLVM does not know it.
std::unique_ptr<llvm::TargetMachine> make_target_machine(const Target& target);
// Sets the module's triple and data layout from tm.
void configure_module(llvm::Module& m, llvm::TargetMachine& tm);
// Verifies the module (a failure is an mlcc bug and throws with LLVM's report) and runs
// the standard O3 pipeline of the new pass manager.
void optimize_module(llvm::Module& m, llvm::TargetMachine& tm);
// Object file bytes (assembly = false) or assembly text (PTX for NVPTX).
std::string emit_machine_code(llvm::Module& m, llvm::TargetMachine& tm, bool assembly);
std::string module_ir_text(const llvm::Module& m);

}  // namespace mlcc::codegen
