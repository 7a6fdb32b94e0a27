// Scalar and vector data types of the tensor IR: bool, signed/unsigned ints, f16, bf16,
// f32 (and f64 for constants and host math), each with a lane count for vectors.
#pragma once

#include <cstdint>
#include <string>

namespace mlcc::ir {

enum class TypeCode : uint8_t { kBool, kInt, kUInt, kFloat, kBFloat, kHandle };

struct DataType {
  TypeCode code = TypeCode::kInt;
  uint8_t bits = 32;
  uint16_t lanes = 1;

  constexpr DataType() = default;
  constexpr DataType(TypeCode c, int b, int l = 1)
      : code(c), bits(static_cast<uint8_t>(b)), lanes(static_cast<uint16_t>(l)) {}

  static constexpr DataType boolean(int l = 1) { return {TypeCode::kBool, 1, l}; }
  static constexpr DataType i8(int l = 1) { return {TypeCode::kInt, 8, l}; }
  static constexpr DataType i16(int l = 1) { return {TypeCode::kInt, 16, l}; }
  static constexpr DataType i32(int l = 1) { return {TypeCode::kInt, 32, l}; }
  static constexpr DataType i64(int l = 1) { return {TypeCode::kInt, 64, l}; }
  static constexpr DataType u8(int l = 1) { return {TypeCode::kUInt, 8, l}; }
  static constexpr DataType u16(int l = 1) { return {TypeCode::kUInt, 16, l}; }
  static constexpr DataType u32(int l = 1) { return {TypeCode::kUInt, 32, l}; }
  static constexpr DataType f16(int l = 1) { return {TypeCode::kFloat, 16, l}; }
  static constexpr DataType bf16(int l = 1) { return {TypeCode::kBFloat, 16, l}; }
  static constexpr DataType f32(int l = 1) { return {TypeCode::kFloat, 32, l}; }
  static constexpr DataType f64(int l = 1) { return {TypeCode::kFloat, 64, l}; }
  // An opaque pointer (buffer data) — only for intrinsic arguments.
  static constexpr DataType handle() { return {TypeCode::kHandle, 64, 1}; }
  // A statement-like call that returns nothing (barriers).
  static constexpr DataType void_type() { return {TypeCode::kHandle, 0, 1}; }

  bool is_bool() const { return code == TypeCode::kBool; }
  bool is_int() const { return code == TypeCode::kInt; }
  bool is_uint() const { return code == TypeCode::kUInt; }
  bool is_integer() const { return is_int() || is_uint(); }
  bool is_float() const { return code == TypeCode::kFloat || code == TypeCode::kBFloat; }
  bool is_bfloat() const { return code == TypeCode::kBFloat; }
  bool is_handle() const { return code == TypeCode::kHandle && bits != 0; }
  bool is_void() const { return code == TypeCode::kHandle && bits == 0; }
  bool is_scalar() const { return lanes == 1; }
  bool is_vector() const { return lanes > 1; }
  // Bytes one element (all lanes) occupies in memory; bool is stored as one byte.
  int bytes() const { return (is_bool() ? 8 : bits) * lanes / 8; }
  DataType element_of() const { return {code, bits, 1}; }
  DataType with_lanes(int l) const { return {code, bits, l}; }

  bool operator==(const DataType& o) const {
    return code == o.code && bits == o.bits && lanes == o.lanes;
  }
  bool operator!=(const DataType& o) const { return !(*this == o); }
};

// "f32", "u32x4", "bool"...
std::string to_string(DataType t);
// Inverse of to_string; throws mlcc::Error naming the text on an unknown type.
DataType parse_dtype(const std::string& s);

}  // namespace mlcc::ir
