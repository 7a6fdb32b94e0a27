// The SPIR-V module builder: instruction encoding, deduplication of types and constants,
// and the assembly of the sections in the order the specification requires (2.4 "Logical
// Layout of a Module").
#include "codegen/spirv/spirv_builder.h"

#include <cstring>

#include "ir/half.h"
#include "runtime/error.h"

namespace mlcc::codegen::spirv {

namespace {
uint32_t u(spv::Op o) { return static_cast<uint32_t>(o); }
template <typename E>
uint32_t e(E v) {
  return static_cast<uint32_t>(v);
}
}  // namespace

SpirvBuilder::SpirvBuilder(uint32_t version) : version_(version) {}

void SpirvBuilder::append(Words& out, spv::Op o, const Words& operands) {
  out.push_back(static_cast<uint32_t>((operands.size() + 1) << 16) | u(o));
  out.insert(out.end(), operands.begin(), operands.end());
}

// Literal strings: UTF-8, NUL-terminated, padded with zeros to a whole word.
void SpirvBuilder::append_string(Words& out, const std::string& s) {
  size_t words = s.size() / 4 + 1;
  size_t at = out.size();
  out.resize(at + words, 0);
  std::memcpy(out.data() + at, s.data(), s.size());
}

uint32_t SpirvBuilder::cached(const Words& key, const std::function<uint32_t()>& make) {
  auto it = cache_.find(key);
  if (it != cache_.end()) return it->second;
  uint32_t id = make();
  cache_.emplace(key, id);
  return id;
}

uint32_t SpirvBuilder::glsl_std_450() {
  if (glsl_ == 0) glsl_ = new_id();
  return glsl_;
}

void SpirvBuilder::name(uint32_t id, const std::string& text) {
  Words ops{id};
  append_string(ops, text);
  append(names_, spv::Op::OpName, ops);
}

void SpirvBuilder::decorate(uint32_t id, spv::Decoration d, std::initializer_list<uint32_t> args) {
  Words ops{id, e(d)};
  ops.insert(ops.end(), args.begin(), args.end());
  append(annotations_, spv::Op::OpDecorate, ops);
}

void SpirvBuilder::member_decorate(uint32_t type, uint32_t member, spv::Decoration d,
                                   std::initializer_list<uint32_t> args) {
  Words ops{type, member, e(d)};
  ops.insert(ops.end(), args.begin(), args.end());
  append(annotations_, spv::Op::OpMemberDecorate, ops);
}

void SpirvBuilder::entry_point(uint32_t function, const std::string& name,
                               const std::vector<uint32_t>& interface, uint32_t x, uint32_t y,
                               uint32_t z) {
  Words ops{e(spv::ExecutionModel::GLCompute), function};
  append_string(ops, name);
  ops.insert(ops.end(), interface.begin(), interface.end());
  append(entry_, spv::Op::OpEntryPoint, ops);
  append(exec_modes_, spv::Op::OpExecutionMode,
         {function, e(spv::ExecutionMode::LocalSize), x, y, z});
}

// ---- Types ------------------------------------------------------------------------------

uint32_t SpirvBuilder::t_void() {
  return cached({u(spv::Op::OpTypeVoid)}, [&] {
    uint32_t id = new_id();
    append(globals_, spv::Op::OpTypeVoid, {id});
    return id;
  });
}

uint32_t SpirvBuilder::t_bool() {
  return cached({u(spv::Op::OpTypeBool)}, [&] {
    uint32_t id = new_id();
    append(globals_, spv::Op::OpTypeBool, {id});
    return id;
  });
}

uint32_t SpirvBuilder::t_int(int bits, bool is_signed) {
  Words key{u(spv::Op::OpTypeInt), static_cast<uint32_t>(bits), is_signed ? 1u : 0u};
  return cached(key, [&] {
    uint32_t id = new_id();
    append(globals_, spv::Op::OpTypeInt, {id, key[1], key[2]});
    return id;
  });
}

uint32_t SpirvBuilder::t_float(int bits) {
  return cached({u(spv::Op::OpTypeFloat), static_cast<uint32_t>(bits)}, [&] {
    uint32_t id = new_id();
    append(globals_, spv::Op::OpTypeFloat, {id, static_cast<uint32_t>(bits)});
    return id;
  });
}

uint32_t SpirvBuilder::t_vector(uint32_t elem, int n) {
  return cached({u(spv::Op::OpTypeVector), elem, static_cast<uint32_t>(n)}, [&] {
    uint32_t id = new_id();
    append(globals_, spv::Op::OpTypeVector, {id, elem, static_cast<uint32_t>(n)});
    return id;
  });
}

uint32_t SpirvBuilder::t_pointer(spv::StorageClass sc, uint32_t pointee) {
  return cached({u(spv::Op::OpTypePointer), e(sc), pointee}, [&] {
    uint32_t id = new_id();
    append(globals_, spv::Op::OpTypePointer, {id, e(sc), pointee});
    return id;
  });
}

uint32_t SpirvBuilder::t_function(uint32_t ret, const std::vector<uint32_t>& params) {
  Words key{u(spv::Op::OpTypeFunction), ret};
  key.insert(key.end(), params.begin(), params.end());
  return cached(key, [&] {
    uint32_t id = new_id();
    Words ops{id, ret};
    ops.insert(ops.end(), params.begin(), params.end());
    append(globals_, spv::Op::OpTypeFunction, ops);
    return id;
  });
}

uint32_t SpirvBuilder::t_array(uint32_t elem, uint32_t n, uint32_t stride) {
  uint32_t length = c_u32(n);
  return cached({u(spv::Op::OpTypeArray), elem, length, stride}, [&] {
    uint32_t id = new_id();
    append(globals_, spv::Op::OpTypeArray, {id, elem, length});
    if (stride > 0) decorate(id, spv::Decoration::ArrayStride, {stride});
    return id;
  });
}

uint32_t SpirvBuilder::t_runtime_array(uint32_t elem, uint32_t stride) {
  return cached({u(spv::Op::OpTypeRuntimeArray), elem, stride}, [&] {
    uint32_t id = new_id();
    append(globals_, spv::Op::OpTypeRuntimeArray, {id, elem});
    decorate(id, spv::Decoration::ArrayStride, {stride});
    return id;
  });
}

uint32_t SpirvBuilder::t_block(const std::vector<uint32_t>& members,
                               const std::vector<uint32_t>& offsets) {
  MLCC_CHECK(members.size() == offsets.size(), "t_block: one offset per member");
  Words key{u(spv::Op::OpTypeStruct)};
  key.insert(key.end(), members.begin(), members.end());
  key.insert(key.end(), offsets.begin(), offsets.end());
  return cached(key, [&] {
    uint32_t id = new_id();
    Words ops{id};
    ops.insert(ops.end(), members.begin(), members.end());
    append(globals_, spv::Op::OpTypeStruct, ops);
    decorate(id, spv::Decoration::Block);
    for (size_t i = 0; i < offsets.size(); ++i)
      member_decorate(id, static_cast<uint32_t>(i), spv::Decoration::Offset, {offsets[i]});
    return id;
  });
}

// ---- Constants --------------------------------------------------------------------------

uint32_t SpirvBuilder::c_bool(bool v) {
  spv::Op o = v ? spv::Op::OpConstantTrue : spv::Op::OpConstantFalse;
  uint32_t t = t_bool();
  return cached({u(o), t}, [&] {
    uint32_t id = new_id();
    append(globals_, o, {t, id});
    return id;
  });
}

uint32_t SpirvBuilder::c_int(uint32_t type, int bits, int64_t v) {
  uint64_t bitsv = static_cast<uint64_t>(v);
  if (bits < 64) bitsv &= (uint64_t{1} << bits) - 1;
  Words lits{static_cast<uint32_t>(bitsv)};
  if (bits == 64) lits.push_back(static_cast<uint32_t>(bitsv >> 32));
  // Narrow signed types take their literal sign-extended (SPIR-V 2.2.1).
  if (bits < 32 && v < 0) lits[0] = static_cast<uint32_t>(static_cast<int32_t>(v));
  Words key{u(spv::Op::OpConstant), type};
  key.insert(key.end(), lits.begin(), lits.end());
  return cached(key, [&] {
    uint32_t id = new_id();
    Words ops{type, id};
    ops.insert(ops.end(), lits.begin(), lits.end());
    append(globals_, spv::Op::OpConstant, ops);
    return id;
  });
}

uint32_t SpirvBuilder::c_float(uint32_t type, int bits, double v) {
  uint32_t word = 0;
  if (bits == 32) {
    float f = static_cast<float>(v);
    std::memcpy(&word, &f, 4);
  } else if (bits == 16) {
    word = float_to_half(static_cast<float>(v));
  } else {
    throw Error("spirv: float constants of " + std::to_string(bits) +
                " bits are not supported; expected 16 or 32");
  }
  Words key{u(spv::Op::OpConstant), type, word};
  return cached(key, [&] {
    uint32_t id = new_id();
    append(globals_, spv::Op::OpConstant, {type, id, word});
    return id;
  });
}

uint32_t SpirvBuilder::global_variable(uint32_t pointer_type, spv::StorageClass sc) {
  uint32_t id = new_id();
  append(globals_, spv::Op::OpVariable, {pointer_type, id, e(sc)});
  return id;
}

// ---- Functions --------------------------------------------------------------------------

uint32_t SpirvBuilder::begin_function(uint32_t ret, uint32_t fn_type) {
  MLCC_CHECK(!in_function_, "spirv: begin_function inside a function");
  uint32_t id = new_id();
  fn_header_.clear();
  fn_vars_.clear();
  fn_body_.clear();
  append(fn_header_, spv::Op::OpFunction,
         {ret, id, e(spv::FunctionControlMask::MaskNone), fn_type});
  block_ = new_id();
  append(fn_header_, spv::Op::OpLabel, {block_});
  in_function_ = true;
  return id;
}

void SpirvBuilder::end_function() {
  MLCC_CHECK(in_function_, "spirv: end_function outside a function");
  append(fn_body_, spv::Op::OpFunctionEnd, {});
  functions_.insert(functions_.end(), fn_header_.begin(), fn_header_.end());
  functions_.insert(functions_.end(), fn_vars_.begin(), fn_vars_.end());
  functions_.insert(functions_.end(), fn_body_.begin(), fn_body_.end());
  in_function_ = false;
}

uint32_t SpirvBuilder::local_variable(uint32_t pointer_type) {
  uint32_t id = new_id();
  append(fn_vars_, spv::Op::OpVariable, {pointer_type, id, e(spv::StorageClass::Function)});
  return id;
}

void SpirvBuilder::begin_block(uint32_t label) {
  append(fn_body_, spv::Op::OpLabel, {label});
  block_ = label;
}

uint32_t SpirvBuilder::op(spv::Op o, uint32_t type, const std::vector<uint32_t>& operands) {
  uint32_t id = new_id();
  Words ops{type, id};
  ops.insert(ops.end(), operands.begin(), operands.end());
  append(fn_body_, o, ops);
  return id;
}

void SpirvBuilder::op_void(spv::Op o, const std::vector<uint32_t>& operands) {
  append(fn_body_, o, operands);
}

uint32_t SpirvBuilder::ext(uint32_t type, GLSLstd450 inst, const std::vector<uint32_t>& args) {
  Words ops{glsl_std_450(), static_cast<uint32_t>(inst)};
  ops.insert(ops.end(), args.begin(), args.end());
  return op(spv::Op::OpExtInst, type, ops);
}

// ---- Structured control flow ------------------------------------------------------------

SpirvBuilder::If SpirvBuilder::begin_if(uint32_t cond, bool with_else) {
  If s{0, new_id(), with_else};
  uint32_t then_label = new_id();
  s.else_label = with_else ? new_id() : s.merge_label;
  op_void(spv::Op::OpSelectionMerge, {s.merge_label, e(spv::SelectionControlMask::MaskNone)});
  op_void(spv::Op::OpBranchConditional, {cond, then_label, s.else_label});
  begin_block(then_label);
  return s;
}

void SpirvBuilder::begin_else(const If& s) {
  op_void(spv::Op::OpBranch, {s.merge_label});
  begin_block(s.else_label);
}

void SpirvBuilder::end_if(const If& s) {
  op_void(spv::Op::OpBranch, {s.merge_label});
  begin_block(s.merge_label);
}

SpirvBuilder::Loop SpirvBuilder::begin_loop(uint32_t int_type, bool is_signed, uint32_t begin,
                                            uint32_t end, uint32_t one, bool unroll) {
  Loop l{new_id(), new_id(), new_id(), new_id(), new_id(), new_id(), block_, int_type, one};
  op_void(spv::Op::OpBranch, {l.header});
  begin_block(l.header);
  // The phi names the continue block, which branches back with the incremented counter.
  append(fn_body_, spv::Op::OpPhi, {int_type, l.var, begin, l.pre, l.next, l.continue_label});
  uint32_t cond =
      op(is_signed ? spv::Op::OpSLessThan : spv::Op::OpULessThan, t_bool(), {l.var, end});
  op_void(spv::Op::OpLoopMerge,
          {l.merge, l.continue_label,
           e(unroll ? spv::LoopControlMask::Unroll : spv::LoopControlMask::MaskNone)});
  op_void(spv::Op::OpBranchConditional, {cond, l.body, l.merge});
  begin_block(l.body);
  return l;
}

void SpirvBuilder::end_loop(const Loop& l) {
  op_void(spv::Op::OpBranch, {l.continue_label});
  begin_block(l.continue_label);
  Words ops{l.type, l.next, l.var, l.one};
  append(fn_body_, spv::Op::OpIAdd, ops);
  op_void(spv::Op::OpBranch, {l.header});
  begin_block(l.merge);
}

std::vector<uint32_t> SpirvBuilder::finish() {
  MLCC_CHECK(!in_function_, "spirv: finish inside a function");
  Words out{spv::MagicNumber, version_, 0 /* generator */, next_id_, 0};
  for (uint32_t c : capabilities_) append(out, spv::Op::OpCapability, {c});
  for (const std::string& x : extensions_) {
    Words ops;
    append_string(ops, x);
    append(out, spv::Op::OpExtension, ops);
  }
  if (glsl_ != 0) {
    Words ops{glsl_};
    append_string(ops, "GLSL.std.450");
    append(out, spv::Op::OpExtInstImport, ops);
  }
  append(out, spv::Op::OpMemoryModel,
         {e(spv::AddressingModel::Logical), e(spv::MemoryModel::GLSL450)});
  for (const Words* w : {&entry_, &exec_modes_, &names_, &annotations_, &globals_, &functions_})
    out.insert(out.end(), w->begin(), w->end());
  return out;
}

}  // namespace mlcc::codegen::spirv
