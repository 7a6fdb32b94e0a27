// What the ROCm tests read out of an HSA code object with LLVM's own tools (the path
// of llvm-readelf and llvm-objdump come from CMake as MLCC_LLVM_READELF / MLCC_LLVM_OBJDUMP):
// the kernel metadata of `llvm-readelf --notes` (the amdhsa.kernels YAML) and the
// disassembly of each kernel from `llvm-objdump -d`.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/temp_dir.h"

namespace mlcc::test {

// One entry of amdhsa.kernels: its scalar fields (".name", ".wavefront_size", ...) and its
// .args, each a map of the argument's fields (".offset", ".size", ".value_kind", ...).
struct AmdKernelNote {
  std::map<std::string, std::string> fields;
  std::vector<std::map<std::string, std::string>> args;
  std::string get(const std::string& key) const {
    auto it = fields.find(key);
    return it == fields.end() ? "" : it->second;
  }
  int64_t num(const std::string& key) const {
    std::string v = get(key);
    return v.empty() ? -1 : std::stoll(v);
  }
};

struct AmdCodeObject {
  std::string target;                            // amdhsa.target, e.g. "amdgcn-amd-amdhsa--gfx1100"
  std::map<std::string, AmdKernelNote> kernels;  // by .name
  std::map<std::string, std::string> disassembly;  // kernel name -> its instructions
};

inline std::string run_tool(const std::string& cmd) {
  ::mlcc::testing::TempDir dir;
  std::string out = dir.path + "/out.txt";
  int rc = std::system((cmd + " > " + out + " 2>&1").c_str());
  std::ifstream in(out);
  std::stringstream text;
  text << in.rdbuf();
  if (rc != 0) throw std::runtime_error(cmd + " failed: " + text.str());
  return text.str();
}

inline std::string trim(std::string s) {
  size_t a = s.find_first_not_of(' ');
  size_t b = s.find_last_not_of(" \r");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

// Parses the YAML of `llvm-readelf --notes` far enough for amdhsa.kernels: kernels start
// at "  - " (indent 2), their fields sit at indent 4, .args entries start at "      - ".
inline void parse_notes(const std::string& text, AmdCodeObject& out) {
  std::istringstream in(text);
  std::vector<AmdKernelNote> kernels;
  bool in_kernels = false, in_args = false;
  for (std::string line; std::getline(in, line);) {
    size_t indent = line.find_first_not_of(' ');
    if (indent == std::string::npos) continue;
    std::string body = line.substr(indent);
    if (indent == 0) {
      in_kernels = body.rfind("amdhsa.kernels:", 0) == 0;
      if (body.rfind("amdhsa.target:", 0) == 0) out.target = trim(body.substr(14));
      continue;
    }
    if (!in_kernels) continue;
    bool item = body.rfind("- ", 0) == 0;
    if (item) body = body.substr(2);
    size_t colon = body.find(':');
    if (colon == std::string::npos) continue;
    std::string key = body.substr(0, colon), value = trim(body.substr(colon + 1));
    if (indent == 2 && item) {
      kernels.emplace_back();
      in_args = false;
    }
    if (kernels.empty()) continue;
    if ((indent == 2 && item) || indent == 4) {
      in_args = key == ".args";
      if (!in_args) kernels.back().fields[key] = value;
      continue;
    }
    if (in_args && indent == 6 && item) kernels.back().args.emplace_back();
    if (in_args && !kernels.back().args.empty()) kernels.back().args.back()[key] = value;
  }
  for (AmdKernelNote& k : kernels) out.kernels[k.get(".name")] = std::move(k);
}

// Splits `llvm-objdump -d` output at its "<symbol>:" labels.
inline void parse_disassembly(const std::string& text, AmdCodeObject& out) {
  std::istringstream in(text);
  std::string* current = nullptr;
  for (std::string line; std::getline(in, line);) {
    size_t lt = line.find('<'), gt = line.rfind(">:");
    if (lt != std::string::npos && gt != std::string::npos && gt > lt &&
        line.find_first_not_of("0123456789abcdef") == lt - 1) {
      current = &out.disassembly[line.substr(lt + 1, gt - lt - 1)];
      continue;
    }
    if (current) *current += line + "\n";
  }
}

// The metadata and disassembly of the code object bytes `hsaco` for processor `gfx`.
inline AmdCodeObject inspect_code_object(const std::vector<uint8_t>& hsaco,
                                         const std::string& gfx) {
  ::mlcc::testing::TempDir dir;
  std::string path = dir.path + "/k.hsaco";
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(hsaco.data()),
             static_cast<std::streamsize>(hsaco.size()));
  AmdCodeObject out;
  parse_notes(run_tool(std::string(MLCC_LLVM_READELF) + " --notes " + path), out);
  parse_disassembly(run_tool(std::string(MLCC_LLVM_OBJDUMP) + " -d --mcpu=" + gfx + " " + path),
                    out);
  return out;
}

}  // namespace mlcc::test
