// A small SPIR-V module builder: result ids, the module's sections in the order the
// specification fixes, deduplicated types and constants, decorations, one entry point and
// its functions, and helpers for the structured control flow Vulkan requires (selection
// and loop merge blocks). Enums come from SPIRV-Headers; nothing here knows the tensor IR.
#pragma once

#include <spirv/unified1/GLSL.std.450.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <set>
#include <spirv/unified1/spirv.hpp11>
#include <string>
#include <vector>

namespace mlcc::codegen::spirv {

class SpirvBuilder {
 public:
  // version: the SPIR-V version word (0x00010300 is SPIR-V 1.3, Vulkan 1.1's).
  explicit SpirvBuilder(uint32_t version = 0x00010300);

  uint32_t new_id() { return next_id_++; }

  // ---- Module level ----
  void capability(spv::Capability c) { capabilities_.insert(static_cast<uint32_t>(c)); }
  void extension(const std::string& name) { extensions_.insert(name); }
  uint32_t glsl_std_450();  // the GLSL.std.450 extended instruction set, imported once
  void name(uint32_t id, const std::string& text);
  void decorate(uint32_t id, spv::Decoration d, std::initializer_list<uint32_t> args = {});
  void member_decorate(uint32_t type, uint32_t member, spv::Decoration d,
                       std::initializer_list<uint32_t> args = {});
  // The one GLCompute entry point with its workgroup size; `interface` lists the Input
  // variables it reads (SPIR-V 1.3 asks only for Input/Output ones).
  void entry_point(uint32_t function, const std::string& name,
                   const std::vector<uint32_t>& interface, uint32_t x, uint32_t y, uint32_t z);

  // ---- Types (deduplicated; decorated ones are made once per key) ----
  uint32_t t_void();
  uint32_t t_bool();
  uint32_t t_int(int bits, bool is_signed);
  uint32_t t_float(int bits);
  uint32_t t_vector(uint32_t elem, int n);
  uint32_t t_pointer(spv::StorageClass sc, uint32_t pointee);
  uint32_t t_function(uint32_t ret, const std::vector<uint32_t>& params = {});
  // Array of n elements; stride > 0 adds ArrayStride (only for explicitly laid out memory).
  uint32_t t_array(uint32_t elem, uint32_t n, uint32_t stride = 0);
  uint32_t t_runtime_array(uint32_t elem, uint32_t stride);
  // A Block-decorated struct with the given member offsets (storage buffers, push constants).
  uint32_t t_block(const std::vector<uint32_t>& members, const std::vector<uint32_t>& offsets);

  // ---- Constants (deduplicated) ----
  uint32_t c_bool(bool v);
  // An integer constant of an OpTypeInt `type` of `bits` bits (value truncated to them).
  uint32_t c_int(uint32_t type, int bits, int64_t v);
  uint32_t c_u32(uint32_t v) { return c_int(t_int(32, false), 32, v); }
  uint32_t c_i32(int32_t v) { return c_int(t_int(32, true), 32, v); }
  // A float constant of an OpTypeFloat `type` of 16 or 32 bits.
  uint32_t c_float(uint32_t type, int bits, double v);

  // A module-scope variable (StorageBuffer, PushConstant, Workgroup, Input).
  uint32_t global_variable(uint32_t pointer_type, spv::StorageClass sc);

  // ---- Functions and blocks ----
  uint32_t begin_function(uint32_t ret, uint32_t fn_type);
  void end_function();
  // A Function-storage variable, placed at the top of the function's first block.
  uint32_t local_variable(uint32_t pointer_type);
  // Starts block `label` (the previous block must have been terminated).
  void begin_block(uint32_t label);
  uint32_t current_block() const { return block_; }
  // An instruction with a result: returns its id.
  uint32_t op(spv::Op o, uint32_t type, const std::vector<uint32_t>& operands);
  // An instruction without result type and id (stores, barriers, branches).
  void op_void(spv::Op o, const std::vector<uint32_t>& operands);
  uint32_t ext(uint32_t type, GLSLstd450 inst, const std::vector<uint32_t>& args);

  // ---- Structured control flow ----
  struct If {
    uint32_t else_label, merge_label;
    bool has_else;
  };
  // if (cond) { ... } [else { ... }]: emits the selection header and starts the then block.
  If begin_if(uint32_t cond, bool with_else);
  void begin_else(const If& s);
  void end_if(const If& s);
  struct Loop {
    uint32_t header, body, continue_label, merge, var, next, pre, type, one;
  };
  // for (var = begin; var < end; ++var): a phi in the header, the merge and continue blocks
  // named by OpLoopMerge; `var` is the counter's id, valid inside the body.
  // `one` is the constant 1 of int_type.
  Loop begin_loop(uint32_t int_type, bool is_signed, uint32_t begin, uint32_t end, uint32_t one,
                  bool unroll);
  void end_loop(const Loop& l);

  // The finished module, header included.
  std::vector<uint32_t> finish();

 private:
  using Words = std::vector<uint32_t>;
  static void append(Words& out, spv::Op o, const Words& operands);
  static void append_string(Words& out, const std::string& s);
  uint32_t cached(const Words& key, const std::function<uint32_t()>& make);

  uint32_t version_;
  uint32_t next_id_ = 1;
  std::set<uint32_t> capabilities_;
  std::set<std::string> extensions_;
  uint32_t glsl_ = 0;
  Words entry_, exec_modes_, names_, annotations_, globals_, functions_;
  std::map<Words, uint32_t> cache_;
  // The function being emitted: its first block's variables go in front of its body.
  Words fn_header_, fn_vars_, fn_body_;
  uint32_t block_ = 0;
  bool in_function_ = false;
};

}  // namespace mlcc::codegen::spirv
