// _mlcc: the pybind11 binding of the runtime's Chat and Tokenizer. It stays thin: the
// MLC-LLM-style API (ChatModule, ChatConfig, callbacks) is Python in python/mlcc/, which
// calls the classes here. mlcc::Error becomes mlcc.MLCCError (a RuntimeError).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <atomic>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "runtime/chat.h"
#include "runtime/engine.h"
#include "runtime/error.h"
#include "runtime/tokenizer.h"
#include "runtime/version.h"

namespace py = pybind11;

namespace mlcc {
namespace {

// Decoded text may hold cut-off or invalid UTF-8 (Tokenizer::decode keeps such bytes);
// pybind11's own conversion would raise UnicodeDecodeError for it, so replace instead.
py::str to_py_str(const std::string& s) {
  PyObject* o = PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "replace");
  if (!o) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(o);
}

// A Chat shared with Python. Methods run with the GIL released (generation takes seconds,
// other Python threads keep running), so a mutex keeps two threads from using the Chat at
// once. A call from inside a generation callback (same thread) would deadlock on that
// mutex or change the Chat under the running generation: it is refused instead.
class PyChat {
 public:
  explicit PyChat(std::unique_ptr<Chat> chat) : chat_(std::move(chat)) {}

  // Runs f(chat) with the GIL released and the Chat locked.
  template <typename F>
  auto locked(F&& f) {
    if (owner_.load() == std::this_thread::get_id())
      throw Error(
          "ChatModule: called from inside its own generation callback; wait until "
          "generate() returns");
    py::gil_scoped_release release;
    std::lock_guard<std::mutex> lock(mutex_);
    owner_ = std::this_thread::get_id();
    struct ClearOwner {
      std::atomic<std::thread::id>& owner;
      ~ClearOwner() { owner = std::thread::id(); }
    } clear{owner_};
    return f(*chat_);
  }

  // Chat::generate with on_text (None or a callable taking each text piece) calling back
  // into Python. A Python exception raised by the callback is thrown through the engine to
  // stop the generation, and re-raised here as itself even if the engine wraps what it
  // caught. Ctrl-C is checked for at every piece: with the GIL released, Python would see
  // it only after the whole reply.
  py::str generate(const std::string& prompt, py::object on_text) {
    std::exception_ptr python_error;
    auto cb = [&](const std::string& piece) {
      py::gil_scoped_acquire acquire;
      try {
        if (PyErr_CheckSignals() != 0) throw py::error_already_set();
        if (!on_text.is_none()) on_text(to_py_str(piece));
      } catch (py::error_already_set&) {
        python_error = std::current_exception();
        throw;
      }
    };
    try {
      return to_py_str(locked([&](Chat& c) { return c.generate(prompt, cb); }));
    } catch (...) {
      if (python_error) std::rethrow_exception(python_error);
      throw;
    }
  }

 private:
  std::unique_ptr<Chat> chat_;
  std::mutex mutex_;
  std::atomic<std::thread::id> owner_{};
};

std::unique_ptr<PyChat> open_chat(const std::string& model, const std::string& model_lib,
                                  const std::string& device, const std::string& overrides_json) {
  ChatOptions o;
  o.model = model;
  o.model_lib = model_lib;
  o.device = device;
  if (!overrides_json.empty()) {
    try {
      o.overrides = nlohmann::json::parse(overrides_json);
    } catch (const nlohmann::json::exception& e) {
      throw Error(std::string("chat_config: not valid JSON: ") + e.what());
    }
  }
  py::gil_scoped_release release;  // loading weights takes a while
  return std::make_unique<PyChat>(Chat::open(o));
}

}  // namespace
}  // namespace mlcc

PYBIND11_MODULE(_mlcc, m) {
  using namespace mlcc;
  m.doc() = "mlcc runtime binding (use the mlcc package, not this module)";
  m.attr("__version__") = version_string();
  py::register_exception<Error>(m, "MLCCError", PyExc_RuntimeError);

  py::class_<SamplingConfig>(m, "SamplingConfig")
      .def(py::init<>())
      .def_readwrite("temperature", &SamplingConfig::temperature)
      .def_readwrite("top_p", &SamplingConfig::top_p)
      .def_readwrite("top_k", &SamplingConfig::top_k)
      .def_readwrite("repetition_penalty", &SamplingConfig::repetition_penalty)
      .def_readwrite("seed", &SamplingConfig::seed);

  py::class_<GenerationConfig>(m, "GenerationConfig")
      .def(py::init<>())
      .def_readwrite("sampling", &GenerationConfig::sampling)
      .def_readwrite("max_new_tokens", &GenerationConfig::max_new_tokens)
      .def_readwrite("stop_token_ids", &GenerationConfig::stop_token_ids)
      .def_readwrite("stop_strings", &GenerationConfig::stop_strings)
      .def_readwrite("ignore_stops", &GenerationConfig::ignore_stops);

  py::class_<GenerationStats>(m, "GenerationStats")
      .def_readonly("prefill_tokens", &GenerationStats::prefill_tokens)
      .def_readonly("decode_tokens", &GenerationStats::decode_tokens)
      .def_readonly("prefill_seconds", &GenerationStats::prefill_seconds)
      .def_readonly("decode_seconds", &GenerationStats::decode_seconds)
      .def_readonly("finish_reason", &GenerationStats::finish_reason)
      .def_property_readonly("prefill_tokens_per_second",
                             &GenerationStats::prefill_tokens_per_second)
      .def_property_readonly("decode_tokens_per_second",
                             &GenerationStats::decode_tokens_per_second);

  // Held by unique_ptr when opened from Python; a Chat's own tokenizer is handed out by
  // reference, kept alive by the Chat (reference_internal).
  py::class_<Tokenizer>(m, "Tokenizer")
      .def(py::init([](const std::string& path) {
             py::gil_scoped_release release;
             return Tokenizer::open(path);
           }),
           py::arg("path"))
      .def_property_readonly("kind", &Tokenizer::kind)
      .def_property_readonly("vocab_size", &Tokenizer::vocab_size)
      .def_property_readonly("bos_id", &Tokenizer::bos_id)
      .def_property_readonly("eos_id", &Tokenizer::eos_id)
      .def_property_readonly("stop_ids", &Tokenizer::stop_ids)
      .def("encode", &Tokenizer::encode, py::arg("text"), py::arg("add_bos") = false)
      .def(
          "decode",
          [](const Tokenizer& t, const std::vector<int32_t>& ids) {
            return to_py_str(t.decode(ids));
          },
          py::arg("ids"))
      .def(
          "token_bytes",
          [](const Tokenizer& t, int32_t id) { return py::bytes(t.token_bytes(id)); },
          py::arg("id"))
      .def(
          "token_piece",
          [](const Tokenizer& t, int32_t id) { return to_py_str(t.token_piece(id)); },
          py::arg("id"))
      .def("piece_to_id", &Tokenizer::piece_to_id, py::arg("piece"));

  py::class_<PyChat>(m, "Chat")
      .def_static("open", &open_chat, py::arg("model"), py::arg("model_lib") = "",
                  py::arg("device") = "auto", py::arg("overrides_json") = "")
      .def("generate", &PyChat::generate, py::arg("prompt"), py::arg("on_text") = py::none())
      .def(
          "benchmark_generate",
          [](PyChat& p, const std::string& prompt, int64_t n) {
            return to_py_str(p.locked([&](Chat& c) { return c.benchmark_generate(prompt, n); }));
          },
          py::arg("prompt"), py::arg("generate_length"))
      .def("reset", [](PyChat& p) { p.locked([](Chat& c) { c.reset(); }); })
      .def(
          "stats_text",
          [](PyChat& p, bool verbose) {
            return p.locked([&](Chat& c) { return c.stats_text(verbose); });
          },
          py::arg("verbose") = false)
      .def("stats", [](PyChat& p) { return p.locked([](Chat& c) { return c.stats(); }); })
      .def("get_generation_config",
           [](PyChat& p) { return p.locked([](Chat& c) { return c.generation_config(); }); })
      .def(
          "set_generation_config",
          [](PyChat& p, const GenerationConfig& g) {
            p.locked([&](Chat& c) { c.generation_config() = g; });
          },
          py::arg("config"))
      .def_property_readonly(
          "chat_config",
          [](PyChat& p) {
            return p.locked([](Chat& c) { return c.chat_config().to_json().dump(); });
          },
          "mlcc-chat-config.json as the Chat uses it (overrides applied), as JSON text")
      .def_property_readonly(
          "tokenizer", [](PyChat& p) { return p.locked([](Chat& c) { return c.tokenizer(); }); },
          py::return_value_policy::reference_internal)
      .def_property_readonly(
          "model_dir", [](PyChat& p) { return p.locked([](Chat& c) { return c.model_dir(); }); })
      .def_property_readonly(
          "model_lib", [](PyChat& p) { return p.locked([](Chat& c) { return c.model_lib(); }); });
}
