// Tests of the paged KV cache on the CPU device: pages handed out as the sequence grows,
// the device page table kept in step, a clear error when the context window is full, and
// reset.
#include <catch2/catch.hpp>
#include <vector>

#include "runtime/device.h"
#include "runtime/error.h"
#include "runtime/kv_cache.h"

namespace {

mlcc::KVCacheInfo small_cache() {
  mlcc::KVCacheInfo info;
  info.num_layers = 3;
  info.num_kv_heads = 2;
  info.head_dim = 8;
  info.page_size = 4;
  info.num_pages = 5;
  info.dtype = "f16";
  return info;
}

std::vector<int32_t> device_table(mlcc::Device& dev, const mlcc::KVCache& kv) {
  std::vector<int32_t> t(kv.page_table_bytes() / 4);
  dev.copy_to_host(t.data(), kv.page_table(), kv.page_table_bytes());
  return t;
}

}  // namespace

TEST_CASE("kv cache: pages are handed out as the sequence grows", "[runtime][kv_cache]") {
  auto dev = mlcc::open_device("cpu");
  mlcc::KVCache kv(*dev, small_cache(), 16);
  REQUIRE(kv.layers().size() == 3);
  CHECK(small_cache().layer_bytes() == 5 * 2 * 2 * 4 * 8 * 2);
  for (void* p : kv.layers()) CHECK(reinterpret_cast<uintptr_t>(p) % 64 == 0);
  CHECK(kv.page_table_bytes() == 4 * sizeof(int32_t));
  CHECK(kv.length() == 0);
  CHECK(kv.pages_in_use() == 0);
  CHECK(kv.free_pages() == 5);

  CHECK(kv.append(1) == 1);
  CHECK(kv.pages_in_use() == 1);
  CHECK(kv.append(3) == 4);  // fills page 0 exactly
  CHECK(kv.pages_in_use() == 1);
  CHECK(kv.append(1) == 5);
  CHECK(kv.pages_in_use() == 2);
  CHECK(kv.append(6) == 11);
  CHECK(kv.pages_in_use() == 3);
  CHECK(kv.host_page_table() == std::vector<int32_t>{0, 1, 2, 0});
  CHECK(device_table(*dev, kv) == kv.host_page_table());
  CHECK(kv.free_pages() == 2);
  CHECK(kv.append(0) == 11);
}

TEST_CASE("kv cache: a full context window is a clear error that changes nothing",
          "[runtime][kv_cache]") {
  auto dev = mlcc::open_device("cpu");
  mlcc::KVCache kv(*dev, small_cache(), 16);
  kv.append(14);
  REQUIRE_THROWS_WITH(kv.append(3), Catch::Contains("the context window cannot take 3 more") &&
                                        Catch::Contains("14 tokens are in the KV cache") &&
                                        Catch::Contains("3 more") &&
                                        Catch::Contains("context window of 16") &&
                                        Catch::Contains("reset()"));
  CHECK(kv.length() == 14);
  CHECK(kv.pages_in_use() == 4);
  CHECK_NOTHROW(kv.check_room(2));
  CHECK_THROWS_AS(kv.check_room(3), mlcc::Error);
  CHECK(kv.append(2) == 16);
  CHECK_THROWS_WITH(kv.append(1), Catch::Contains("the context window is full"));
  CHECK_THROWS_WITH(kv.append(-1), Catch::Contains("cannot append -1"));

  kv.reset();
  CHECK(kv.length() == 0);
  CHECK(kv.pages_in_use() == 0);
  CHECK(kv.free_pages() == 5);
  CHECK(device_table(*dev, kv) == std::vector<int32_t>(4, 0));
  CHECK(kv.append(16) == 16);
  CHECK(kv.host_page_table() == std::vector<int32_t>{0, 1, 2, 3});
}

TEST_CASE("kv cache: the page table must cover the context window", "[runtime][kv_cache]") {
  auto dev = mlcc::open_device("cpu");
  CHECK_THROWS_WITH(mlcc::KVCache(*dev, small_cache(), 16, 3),
                    Catch::Contains("page table of 3 entries") && Catch::Contains("needs 4"));
  mlcc::KVCache longer(*dev, small_cache(), 16, 8);
  CHECK(longer.host_page_table().size() == 8);
  // More pages than the pool has: the context window check passes, the pool runs out.
  mlcc::KVCacheInfo tiny = small_cache();
  tiny.num_pages = 2;
  mlcc::KVCache pool(*dev, tiny, 16);
  pool.append(8);
  CHECK_THROWS_WITH(pool.append(1), Catch::Contains("out of pages") && Catch::Contains("0 of 2"));
  CHECK(pool.length() == 8);
}
