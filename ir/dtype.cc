// Names of data types, both ways.
#include "ir/dtype.h"

#include "runtime/error.h"

namespace mlcc::ir {

std::string to_string(DataType t) {
  std::string s;
  switch (t.code) {
    case TypeCode::kBool:
      s = "bool";
      break;
    case TypeCode::kInt:
      s = "i" + std::to_string(t.bits);
      break;
    case TypeCode::kUInt:
      s = "u" + std::to_string(t.bits);
      break;
    case TypeCode::kFloat:
      s = "f" + std::to_string(t.bits);
      break;
    case TypeCode::kBFloat:
      s = "bf" + std::to_string(t.bits);
      break;
    case TypeCode::kHandle:
      s = t.bits == 0 ? "void" : "handle";
      break;
  }
  if (t.lanes > 1) s += "x" + std::to_string(t.lanes);
  return s;
}

DataType parse_dtype(const std::string& s) {
  std::string base = s;
  int lanes = 1;
  if (auto x = s.find('x'); x != std::string::npos) {
    base = s.substr(0, x);
    lanes = std::stoi(s.substr(x + 1));
  }
  static const std::pair<const char*, DataType> kNames[] = {
      {"bool", DataType::boolean()}, {"i8", DataType::i8()},   {"i16", DataType::i16()},
      {"i32", DataType::i32()},      {"i64", DataType::i64()}, {"u8", DataType::u8()},
      {"u16", DataType::u16()},      {"u32", DataType::u32()}, {"f16", DataType::f16()},
      {"bf16", DataType::bf16()},    {"f32", DataType::f32()}, {"f64", DataType::f64()},
  };
  for (auto& [name, t] : kNames)
    if (base == name) return t.with_lanes(lanes);
  throw Error("unknown data type '" + s +
              "': expected one of bool, i8, i16, i32, i64, u8, u16, u32, f16, bf16, f32, f64 "
              "(optionally with xN lanes)");
}

}  // namespace mlcc::ir
