// Reading and writing kernel bundles, the error measure every numeric check uses, and
// running one kernel on a device.
#include "tools/kernel_bundle.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "ir/half.h"
#include "runtime/error.h"

namespace mlcc::bundle {

using nlohmann::json;

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open '" + path + "'");
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

void write_file(const std::string& path, const void* data, size_t bytes) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary);
    out.write(static_cast<const char*>(data), static_cast<std::streamsize>(bytes));
    if (!out) throw Error("cannot write '" + tmp + "'");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw Error("cannot rename to '" + path + "'");
}

void write_bundle(const std::string& dir, const Bundle& b) {
  json j;
  j["target"] = b.target;
  j["ptx"] = b.ptx_file;
  for (const Kernel& k : b.kernels) {
    json jk = {{"name", k.name},
               {"function", k.function},
               {"spirv", k.spirv},
               {"shape", k.shape},
               {"grid", k.grid},
               {"block", k.block},
               {"shared_bytes", k.shared_bytes},
               {"scalars", k.scalars},
               {"scalar_types", k.scalar_types},
               {"tolerance", k.tolerance},
               {"bench", k.bench},
               {"bytes_moved", k.bytes_moved}};
    for (const Arg& a : k.args)
      jk["args"].push_back({{"dtype", a.dtype},
                            {"bytes", a.bytes},
                            {"input", a.input},
                            {"expected", a.expected},
                            {"rotate", a.rotate}});
    j["kernels"].push_back(jk);
  }
  std::string text = j.dump(1);
  write_file(dir + "/bundle.json", text.data(), text.size());
}

Bundle read_bundle(const std::string& dir) {
  std::string path = dir + "/bundle.json";
  std::vector<uint8_t> bytes = read_file(path);
  Bundle b;
  try {
    json j = json::parse(bytes.begin(), bytes.end());
    // Bundles from before Vulkan have no "target" nor "spirv".
    b.target = j.value("target", "");
    b.ptx_file = j.at("ptx").get<std::string>();
    for (const json& jk : j.at("kernels")) {
      Kernel k;
      k.name = jk.at("name");
      k.function = jk.at("function");
      k.spirv = jk.value("spirv", "");
      k.shape = jk.at("shape");
      k.grid = jk.at("grid");
      k.block = jk.at("block");
      k.shared_bytes = jk.at("shared_bytes");
      k.scalars = jk.at("scalars").get<std::vector<int64_t>>();
      k.scalar_types = jk.at("scalar_types").get<std::vector<std::string>>();
      k.tolerance = jk.at("tolerance");
      k.bench = jk.at("bench");
      k.bytes_moved = jk.at("bytes_moved");
      for (const json& ja : jk.at("args"))
        k.args.push_back(
            {ja.at("dtype"), ja.at("bytes"), ja.at("input"), ja.at("expected"), ja.at("rotate")});
      b.kernels.push_back(std::move(k));
    }
  } catch (const json::exception& e) {
    throw Error("malformed kernel bundle '" + path + "': " + e.what());
  }
  return b;
}

namespace {
double element(const std::string& dtype, const uint8_t* p, size_t i) {
  if (dtype == "f32") return reinterpret_cast<const float*>(p)[i];
  if (dtype == "f16") return half_to_float(reinterpret_cast<const uint16_t*>(p)[i]);
  if (dtype == "bf16") return bf16_to_float(reinterpret_cast<const uint16_t*>(p)[i]);
  if (dtype == "i32") return reinterpret_cast<const int32_t*>(p)[i];
  if (dtype == "u32") return reinterpret_cast<const uint32_t*>(p)[i];
  if (dtype == "i64") return static_cast<double>(reinterpret_cast<const int64_t*>(p)[i]);
  if (dtype == "u8" || dtype == "bool") return p[i];
  throw Error("relative_error: unsupported dtype '" + dtype + "'");
}
size_t element_bytes(const std::string& dtype) {
  if (dtype == "f16" || dtype == "bf16") return 2;
  if (dtype == "i64") return 8;
  if (dtype == "u8" || dtype == "bool") return 1;
  return 4;
}
}  // namespace

double relative_error(const std::string& dtype, const uint8_t* out, const uint8_t* ref,
                      size_t bytes) {
  size_t n = bytes / element_bytes(dtype);
  double diff = 0, norm = 0;
  for (size_t i = 0; i < n; ++i) {
    double o = element(dtype, out, i), r = element(dtype, ref, i);
    if (std::isnan(o)) return NAN;
    diff += (o - r) * (o - r);
    norm += r * r;
  }
  if (norm == 0) return diff == 0 ? 0 : INFINITY;
  return std::sqrt(diff / norm);
}

KernelInfo kernel_info(const Kernel& k) {
  KernelInfo info;
  info.name = k.function;
  info.num_buffers = static_cast<int>(k.args.size());
  info.num_scalars = static_cast<int>(k.scalars.size());
  for (int d = 0; d < 3; ++d) {
    info.grid[d] = LaunchExpr::constant(k.grid[d]);
    info.block[d] = LaunchExpr::constant(k.block[d]);
  }
  for (const std::string& t : k.scalar_types) info.scalar_bits.push_back(t == "i64" ? 64 : 32);
  return info;
}

Arrays run_once(Device& dev, size_t index, const Arrays& args,
                const std::vector<int64_t>& scalars) {
  std::vector<DeviceBuffer> bufs;
  std::vector<void*> ptrs;
  for (const auto& a : args) {
    bufs.emplace_back(dev, a.size());
    dev.copy_to_device(bufs.back().get(), a.data(), a.size());
    ptrs.push_back(bufs.back().get());
  }
  dev.launch(index, ptrs, scalars);
  Arrays out(args.size());
  for (size_t i = 0; i < args.size(); ++i) {
    out[i].resize(args[i].size());
    dev.copy_to_host(out[i].data(), ptrs[i], out[i].size());
  }
  return out;
}

}  // namespace mlcc::bundle
