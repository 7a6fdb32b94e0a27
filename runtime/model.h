// The C++ API of a compiled model: load a library onto a device, hand it its parameters,
// then run prefill and decode steps over a paged KV cache (one sequence, batch 1). The
// generation engine, the chat CLI and the Python module are built on this.
//
//   auto model = mlcc::Model::load("dist/libs/llama2-q4f16_1-cuda.so");
//   for (const auto& p : model->manifest().params) model->set_param(p.name, data, p.bytes);
//   std::vector<float> logits = model->prefill(prompt_tokens);
//   int32_t next = model->argmax();
//   logits = model->decode(next);
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "runtime/device.h"
#include "runtime/kv_cache.h"
#include "runtime/library.h"
#include "runtime/vm.h"

namespace mlcc {

class Model {
 public:
  // Loads the library at lib_path onto `device` ("cpu", "cuda", "cuda:N"; "" means the
  // library's target kind), checks its bytecode, and allocates its parameters, activation
  // storages and KV cache. Throws mlcc::Error naming the file and what is wrong.
  static std::unique_ptr<Model> load(const std::string& lib_path, const std::string& device = "");
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const Manifest& manifest() const { return lib_->manifest(); }
  const Library& library() const { return *lib_; }
  Device& device() { return *device_; }
  const KVCache& kv_cache() const { return *kv_; }
  // While set (nullptr stops it), every launch adds the bytes its kernel moves to
  // (*per_kernel)[kernel index], sized to the manifest's kernels here (VMEnv::kernel_bytes).
  void count_kernel_bytes(std::vector<double>* per_kernel) {
    if (per_kernel != nullptr) per_kernel->assign(manifest().kernels.size(), 0.0);
    kernel_bytes_ = per_kernel;
  }

  // Copies one parameter from host memory. Throws when the manifest lists no parameter of
  // that name, or when `bytes` differs from its size (the message gives the expected dtype,
  // shape and bytes).
  void set_param(const std::string& name, const void* host, size_t bytes);
  // Every parameter of the map (each checked as by set_param).
  void set_params(const std::map<std::string, std::vector<uint8_t>>& host);
  // Every parameter of the manifest: fill(info, dst) writes info.bytes bytes to dst (host
  // memory), which is then copied to the device.
  void set_params(const std::function<void(const ParamInfo&, void* dst)>& fill);
  // Parameters not set yet, in manifest order. Running a function with any missing throws.
  std::vector<std::string> missing_params() const;

  // Appends the tokens to the sequence, running "prefill" in chunks of at most
  // prefill_chunk_size, and returns the logits of the last position. Throws, running
  // nothing, when the tokens would not fit in the context window.
  std::vector<float> prefill(const std::vector<int32_t>& tokens);
  // Appends one token, runs "decode" and returns its logits.
  std::vector<float> decode(int32_t token);
  // The index of the largest of the last logits, and their softmax at `temperature` (> 0),
  // computed on the device by the library's "argmax" and "softmax_with_temperature".
  int32_t argmax();
  std::vector<float> softmax(float temperature);
  // The embeddings of `tokens` (the library's "embed"), one row of hidden_size per token,
  // as f32 whatever the activation dtype. Leaves the sequence alone.
  std::vector<float> embed(const std::vector<int32_t>& tokens);

  // Starts a new sequence: empties the KV cache.
  void reset();
  // Tokens in the sequence (in the KV cache).
  int64_t position() const { return kv_->length(); }

 private:
  Model() = default;
  using Named = std::vector<std::pair<std::string, void*>>;
  using NamedScalars = std::vector<std::pair<std::string, int64_t>>;

  const FunctionInfo& function(const std::string& name) const;
  // Runs `f` with the inputs and scalars matched to its manifest lists by name. `repeated`:
  // its launches are one step of a repeating sequence (Device::begin_graph).
  std::vector<void*> run(const FunctionInfo& f, const Named& inputs, const NamedScalars& scalars,
                         bool repeated = false);
  // Runs "prefill" or "decode" on tokens already in tokens_buf_; with want_logits keeps
  // the last position's logits on the device and returns them.
  std::vector<float> step(const FunctionInfo& f, int64_t seq_len, int64_t total, bool want_logits,
                          bool repeated = false);
  void check_tokens(const std::vector<int32_t>& tokens, const char* what) const;
  void require_params() const;

  std::unique_ptr<Library> lib_;
  std::unique_ptr<Device> device_;
  std::unique_ptr<VirtualMachine> vm_;
  std::vector<double>* kernel_bytes_ = nullptr;
  std::vector<DeviceBuffer> params_;
  std::vector<void*> param_ptrs_;
  std::vector<bool> param_set_;
  std::vector<DeviceBuffer> storages_;
  std::vector<void*> storage_ptrs_;
  std::unique_ptr<KVCache> kv_;
  DeviceBuffer tokens_buf_;  // i32[prefill_chunk_size]
  DeviceBuffer logits_buf_;  // the last logits, kept for argmax and softmax
  std::string logits_dtype_;
  int64_t logits_count_ = 0;      // 0: no logits yet
  DeviceBuffer temperature_buf_;  // f32[1]
  int64_t vocab_size_ = 0;        // from the model config; 0 when it gives none
};

}  // namespace mlcc
