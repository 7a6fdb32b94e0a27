// Helpers shared by the model-runtime tests: where the toy libraries (toy_library.cc) are,
// their manifest JSON for tests that break one field at a time, and scoped environment
// variables.
#pragma once

#include <dlfcn.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace mlcc::test {

// The toy libraries are built beside the test binary; found from it so that the tests
// also run where the build folder was copied to (the GPU machine).
inline std::string toy_library(const std::string& name) {
  return (std::filesystem::read_symlink("/proc/self/exe").parent_path() / (name + ".so")).string();
}

// The manifest of the cpu toy library, parsed, for tests that change a field.
inline nlohmann::json toy_manifest() {
  std::string path = toy_library("mlcc_toy_cpu");
  void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  REQUIRE(h != nullptr);
  auto* text = static_cast<const char*>(dlsym(h, "mlcc_library_manifest"));
  REQUIRE(text != nullptr);
  nlohmann::json j = nlohmann::json::parse(text);
  dlclose(h);
  return j;
}

// Sets an environment variable for one scope, restoring the old value after.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    const char* old = std::getenv(name);
    had_old_ = old != nullptr;
    if (had_old_) old_ = old;
    setenv(name, value, 1);
  }
  ~ScopedEnv() {
    if (had_old_)
      setenv(name_, old_.c_str(), 1);
    else
      unsetenv(name_);
  }

 private:
  const char* name_;
  bool had_old_ = false;
  std::string old_;
};

inline bool cuda_driver_present() {
  void* lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) return false;
  dlclose(lib);
  return true;
}

}  // namespace mlcc::test
