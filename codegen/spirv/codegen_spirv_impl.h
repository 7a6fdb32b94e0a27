// The SPIR-V code generator's class, shared by its three parts: codegen_spirv.cc (kernel
// interface, statements, memory, launch), codegen_spirv_expr.cc (expressions, casts,
// loads) and codegen_spirv_call.cc (barriers, shuffles, reinterpret, math). Values are kept per
// lane: a vector of L lanes is L scalar ids, so any lane count the vectorizer makes (SPIR-V vectors
// stop at 4 in Vulkan) lowers the same way.
#pragma once

#include <array>
#include <map>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "codegen/spirv/codegen_spirv.h"
#include "codegen/spirv/spirv_builder.h"
#include "ir/expr.h"

namespace mlcc::codegen::spirv {

using Lanes = std::vector<uint32_t>;

class CodeGenSpirv {
 public:
  explicit CodeGenSpirv(const Target& target) : target_(target) {}
  SpirvKernel build(const ir::PrimFunc& f);

 private:
  struct BufferInfo {
    uint32_t var;
    spv::StorageClass sc;
    uint32_t elem;  // the element's memory type id
    // A 16-bit buffer without 16-bit storage (-storage16=0): u32 words, element i in bits
    // [16*(i%2), 16*(i%2)+16) of word i/2 (the same bytes as a plain 16-bit array).
    bool packed = false;
    uint32_t binding = 0;  // storage buffers: the parameter index
    // Workgroup arrays whose every access is whole aligned pieces of this many bytes (8 or
    // 16) are arrays of uvec2/uvec4; 0: arrays of elements.
    int vector_bytes = 0;
  };

  // ---- Types (codegen_spirv_expr.cc) ----
  // The type a value of scalar dtype t lives in: f16 is f32 without -f16 arithmetic.
  ir::DataType reg_dtype(ir::DataType t) const;
  uint32_t reg_type(ir::DataType t);
  // Element type of a storage buffer of dtype t (16-bit storage capabilities as needed).
  uint32_t storage_type(ir::DataType t);
  [[noreturn]] void fail(const std::string& what) const;

  // ---- Expressions (codegen_spirv_expr.cc; calls in codegen_spirv_call.cc) ----
  Lanes emit(const ir::Expr& e);
  uint32_t emit_scalar(const ir::Expr& e);
  Lanes emit_binary(const ir::BinaryNode* op);
  uint32_t exact(uint32_t arithmetic_result);  // decorated NoContraction
  uint32_t binary_lane(const ir::BinaryNode* op, ir::DataType t, uint32_t a, uint32_t b);
  uint32_t int_div_mod(const ir::BinaryNode* op, ir::DataType t, uint32_t a, uint32_t b);
  // Converts one lane between scalar dtypes (the IR's cast semantics).
  uint32_t convert(uint32_t v, ir::DataType from, ir::DataType to);
  uint32_t round_to_half(uint32_t f32_value);
  uint32_t constant(ir::DataType t, double v);
  Lanes emit_call(const ir::CallNode* op);
  uint32_t math_lane(ir::Intrinsic op, const std::vector<uint32_t>& args);
  uint32_t tanh_lane(uint32_t x);
  uint32_t erf_lane(uint32_t x);
  uint32_t shuffle_lane(const ir::CallNode* op, uint32_t value, uint32_t lane, uint32_t width);
  uint32_t shuffle_lane_bits(const ir::CallNode* op, uint32_t value, uint32_t type, uint32_t lane,
                             uint32_t width);
  Lanes reinterpret(const ir::CallNode* op);
  Lanes emit_load(const ir::BufferLoadNode* op);
  uint32_t load_packed(const ir::Buffer& b, uint32_t index, ir::DataType index_type);
  void store_packed(const ir::Buffer& b, uint32_t index, ir::DataType index_type, uint32_t value);
  bool non_negative(const ir::Expr& e) const;

  // ---- Vector memory access (codegen_spirv_vector.cc) ----
  // The dtype of a buffer's elements in memory: workgroup arrays hold register values.
  ir::DataType memory_dtype(const ir::Buffer& b) const;
  // Bytes of one vector piece (16 or 8) that an access at `index` (its lanes contiguous) is
  // made of, whole and aligned, given the buffer's element type; 0 where it is not.
  int piece_bytes(const ir::Buffer& b, const ir::Expr& index) const;
  // The piece size loads of `b` at `index` use: storage buffers the kernel does not write
  // (read through a uvec view of their binding) and vector workgroup arrays; 0: by lanes.
  int vector_piece(const ir::Buffer& b, const ir::Expr& index) const;
  // The piece size every access to shared buffer `b` in `body` allows (0 if any does not).
  int shared_vector_bytes(const ir::Buffer& b, const ir::Stmt& body) const;
  Lanes load_vector(const ir::BufferLoadNode* op, int piece);
  void store_vector(const ir::BufferStoreNode* op);
  // The uvec<words> pointer to piece `index` of `b` (a storage buffer view or a vector array).
  uint32_t piece_ptr(const ir::Buffer& b, int words, uint32_t index);

  // ---- Statements and memory (codegen_spirv.cc) ----
  void emit_stmt(const ir::Stmt& s);
  void emit_for(const ir::ForNode* op);
  void emit_thread_binding(const ir::ForNode* op);
  void emit_allocate(const ir::AllocateNode* op);
  void emit_store(const ir::BufferStoreNode* op);
  const BufferInfo& buffer_info(const ir::Buffer& b) const;
  // Pointer to element `index` (one lane of an integer index) of a bound buffer.
  uint32_t element_ptr(const ir::Buffer& b, uint32_t index, ir::DataType index_type);
  uint32_t builtin(spv::BuiltIn which, bool vec3);
  void compute_launch_extents(const ir::PrimFunc& f);

  const Target& target_;
  SpirvBuilder b_;
  std::string func_name_;
  std::unordered_map<const ir::VarNode*, Lanes> vars_;
  std::unordered_set<const ir::VarNode*> non_negative_vars_;
  std::unordered_map<const ir::BufferNode*, BufferInfo> buffers_;
  std::unordered_set<const ir::BufferNode*> stored_;  // buffers the kernel writes
  // (buffer, words) -> a variable viewing the buffer's binding as an array of uvec<words>.
  std::map<std::pair<const ir::BufferNode*, int>, uint32_t> vector_views_;
  std::unordered_map<uint32_t, uint32_t> builtins_;  // BuiltIn -> Input variable
  std::vector<uint32_t> interface_;
  std::array<ir::Expr, 3> grid_, block_;
  int shared_bytes_ = 0;
};

}  // namespace mlcc::codegen::spirv
