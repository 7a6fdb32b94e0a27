// ld.lld as a subprocess: temporary objects in, a shared library out by atomic rename
// (host libraries) or read back into memory (GPU code objects).
#include "codegen/linker.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "runtime/error.h"

extern char** environ;

namespace mlcc::codegen {

namespace {

// Removes the listed files when it goes out of scope, whatever happened.
struct TempFiles {
  std::vector<std::string> paths;
  ~TempFiles() {
    for (const std::string& p : paths) ::unlink(p.c_str());
  }
};

std::string make_temp(const std::string& pattern, TempFiles& temps) {
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  int fd = ::mkstemp(buf.data());
  if (fd < 0) throw Error("cannot create a temporary file like " + pattern);
  ::close(fd);
  temps.paths.emplace_back(buf.data());
  return temps.paths.back();
}

std::string temp_dir() {
  const char* t = std::getenv("TMPDIR");
  return t && *t ? t : "/tmp";
}

std::string arch_of(const std::string& triple) { return triple.substr(0, triple.find('-')); }

// The libm this process uses, for the DT_NEEDED entry of host libraries.
std::string host_libm() {
  Dl_info info{};
  float (*fn)(float) = &::expf;
  if (::dladdr(reinterpret_cast<void*>(fn), &info) && info.dli_fname) return info.dli_fname;
  return "";
}

// Writes each object to a temporary file (removed with `temps`) and appends its path.
void write_objects(const std::vector<std::vector<uint8_t>>& objects, TempFiles& temps,
                   std::vector<std::string>& args) {
  for (const auto& object : objects) {
    std::string obj = make_temp(temp_dir() + "/mlcc-kernels-XXXXXX", temps);
    std::ofstream f(obj, std::ios::binary);
    f.write(reinterpret_cast<const char*>(object.data()),
            static_cast<std::streamsize>(object.size()));
    if (!f) throw Error("cannot write the kernel object to " + obj);
    args.push_back(obj);
  }
}

// Runs args[0] with args; throws with its output (kept in `log`) naming `what` on failure.
void run_linker(std::vector<std::string> args, const std::string& log, const std::string& what) {
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_TRUNC, 0);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = 0;
  int rc = ::posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0)
    throw Error("cannot run the linker " + args[0] + " (" + std::strerror(rc) +
                "); set MLCC_LLD to an ld.lld executable");
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::ifstream in(log);
    std::stringstream text;
    text << in.rdbuf();
    throw Error("linking " + what + " with " + args[0] + " failed: " + text.str());
  }
}

}  // namespace

std::string lld_path() {
  const char* env = std::getenv("MLCC_LLD");
  return env && *env ? env : MLCC_LLD_PATH;
}

void link_shared_library(const std::vector<uint8_t>& object, const Target& target,
                         const std::string& so_path) {
  link_shared_library(std::vector<std::vector<uint8_t>>{object}, target, so_path);
}

void link_shared_library(const std::vector<std::vector<uint8_t>>& objects, const Target& target,
                         const std::string& so_path) {
  TempFiles temps;
  std::string out = make_temp(so_path + ".tmp-XXXXXX", temps);
  std::string log = make_temp(temp_dir() + "/mlcc-lld-log-XXXXXX", temps);
  std::vector<std::string> args{
      lld_path(), "-shared", "-O1", "--hash-style=gnu", "-z", "noexecstack", "-z",
      "now",      "-o",      out};
  write_objects(objects, temps, args);
#if defined(__x86_64__)
  const char* host_arch = "x86_64";
#elif defined(__aarch64__)
  const char* host_arch = "aarch64";
#else
  const char* host_arch = "";
#endif
  std::string libm = host_libm();
  if (arch_of(target.triple) == host_arch && !libm.empty()) {
    args.push_back("--as-needed");
    args.push_back(libm);
  }
  run_linker(std::move(args), log, so_path);
  ::chmod(out.c_str(), 0755);  // mkstemp made it 0600
  if (::rename(out.c_str(), so_path.c_str()) != 0)
    throw Error("cannot move the linked library to " + so_path + ": " + std::strerror(errno));
  // so_path now names the file; nothing left to remove under the temporary
  // name.
  temps.paths.erase(temps.paths.begin());
}

std::vector<uint8_t> link_code_object(const std::vector<uint8_t>& object) {
  TempFiles temps;
  std::string out = make_temp(temp_dir() + "/mlcc-hsaco-XXXXXX", temps);
  std::string log = make_temp(temp_dir() + "/mlcc-lld-log-XXXXXX", temps);
  // --no-undefined: a math call LLVM could not lower would otherwise fail only at load.
  std::vector<std::string> args{lld_path(), "-shared", "--no-undefined", "-o", out};
  write_objects({object}, temps, args);
  run_linker(std::move(args), log, "the AMDGPU code object");
  std::ifstream in(out, std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  if (bytes.empty()) throw Error("ld.lld wrote an empty AMDGPU code object");
  return bytes;
}

}  // namespace mlcc::codegen
