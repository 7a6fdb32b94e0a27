// The tensor-cache writer (tools/convert_weight/tensor_cache_writer.h).
#include "tools/convert_weight/tensor_cache_writer.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "runtime/error.h"

namespace mlcc::convert {

TensorCacheWriter::TensorCacheWriter(std::string dir, size_t shard_cap)
    : dir_(std::move(dir)), cap_(shard_cap) {
  cache_.dir = dir_;
}

TensorCacheWriter::~TensorCacheWriter() {
  if (file_) std::fclose(file_);
}

void TensorCacheWriter::open_shard() {
  TensorShard s;
  s.data_path = "params_shard_" + std::to_string(cache_.shards.size()) + ".bin";
  const std::string path = (std::filesystem::path(dir_) / s.data_path).string();
  file_ = std::fopen(path.c_str(), "wb");
  if (!file_) throw Error("cannot create '" + path + "': " + std::strerror(errno));
  cache_.shards.push_back(std::move(s));
  md5_ = Md5();
  shard_bytes_ = 0;
}

void TensorCacheWriter::close_shard() {
  if (!file_) return;
  TensorShard& s = cache_.shards.back();
  const bool ok = std::fclose(file_) == 0;
  file_ = nullptr;
  if (!ok) throw Error("cannot write '" + dir_ + "/" + s.data_path + "': " + std::strerror(errno));
  s.nbytes = shard_bytes_;
  s.md5sum = md5_.hex_digest();
}

void TensorCacheWriter::put(const void* data, size_t n) {
  if (std::fwrite(data, 1, n, file_) != n)
    throw Error("cannot write '" + dir_ + "/" + cache_.shards.back().data_path +
                "': " + std::strerror(errno));
  md5_.update(data, n);
  shard_bytes_ += n;
}

void TensorCacheWriter::begin(const std::string& name, const std::vector<int64_t>& shape,
                              const std::string& dtype, size_t nbytes) {
  MLCC_CHECK(pending_ == 0, "tensor '" + name + "' begun before the previous one ended");
  const size_t pad = (kAlign - shard_bytes_ % kAlign) % kAlign;
  if (file_ && shard_bytes_ > 0 && shard_bytes_ + pad + nbytes > cap_) close_shard();
  if (!file_) open_shard();
  static const char zeros[kAlign] = {};
  if (shard_bytes_ % kAlign) put(zeros, kAlign - shard_bytes_ % kAlign);
  TensorRecord r;
  r.name = name;
  r.shape = shape;
  r.dtype = manifest_dtype_to_cache(dtype);
  r.nbytes = nbytes;
  r.byte_offset = shard_bytes_;
  cache_.shards.back().records.push_back(std::move(r));
  pending_ = nbytes;
}

void TensorCacheWriter::write(const void* data, size_t n) {
  MLCC_CHECK(n <= pending_,
             "more bytes than tensor '" + cache_.shards.back().records.back().name + "' has");
  put(data, n);
  pending_ -= n;
  total_ += n;
}

void TensorCacheWriter::end() {
  MLCC_CHECK(pending_ == 0, "tensor '" + cache_.shards.back().records.back().name + "' lacks " +
                                std::to_string(pending_) + " bytes");
}

void TensorCacheWriter::finish(const nlohmann::json& metadata) {
  end();
  close_shard();
  cache_.metadata = metadata;
  const std::string path = (std::filesystem::path(dir_) / kTensorCacheFile).string();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << cache_.to_json().dump(2) << "\n";
  out.close();
  if (!out) throw Error("cannot write '" + path + "'");
}

}  // namespace mlcc::convert
