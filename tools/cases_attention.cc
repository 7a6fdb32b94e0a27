// Kernel cases of the attention family (rope, kv_append, attention) at sizes the
// interpreter runs in well under a second. They cover GQA and MHA, prefill with a past
// (total_len > rows), decode (rows the constant 1 and rows a Var equal to 1), llama3 rope
// scaling, f16 and f32, page tables that are permutations (so the indirection is real) and
// symbolic or constant cache sizes.
#include <algorithm>
#include <cstring>
#include <numeric>
#include <random>

#include "ir/half.h"
#include "passes/legalize/llm_kernels.h"
#include "tools/kernel_check.h"

namespace mlcc::check {

using namespace ir;
using kernels::PagedCache;
using kernels::RopeSpec;

namespace {

// The first max_pages entries of a random permutation of the cache's pages.
void write_page_table(std::vector<uint8_t>& table, int64_t num_pages, uint64_t seed) {
  std::vector<int32_t> pages(static_cast<size_t>(num_pages));
  std::iota(pages.begin(), pages.end(), 0);
  std::mt19937_64 rng(seed ^ 0x5eedULL);
  std::shuffle(pages.begin(), pages.end(), rng);
  size_t n = table.size() / sizeof(int32_t);
  if (n > pages.size()) throw std::logic_error("page table longer than the cache");
  std::memcpy(table.data(), pages.data(), n * sizeof(int32_t));
}

// Uniform [-1, 1) values in dtype: the cache is written by kv_append, so the harness
// poisons it, but the positions kv_append leaves alone must still be valid numbers.
void write_random(std::vector<uint8_t>& data, DataType dtype, uint64_t seed) {
  std::mt19937_64 rng(seed ^ 0xcac4eULL);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  if (dtype == DataType::f32()) {
    for (size_t i = 0; i + 4 <= data.size(); i += 4) {
      float v = u(rng);
      std::memcpy(&data[i], &v, 4);
    }
  } else {
    for (size_t i = 0; i + 2 <= data.size(); i += 2) {
      uint16_t v = float_to_half(u(rng));
      std::memcpy(&data[i], &v, 2);
    }
  }
}

RopeSpec rope_spec(int64_t head_dim, double theta, bool llama3) {
  RopeSpec r;
  r.head_dim = head_dim;
  r.theta = theta;
  if (llama3) r.scaling = "llama3";  // factor 8, low 1, high 4, original 8192: all 3 regimes
  return r;
}

// rows and num_pages are Vars where the value is given, constants otherwise.
struct Dims {
  Expr rows, num_pages;
  Var total_len{"total_len"};
};

Dims dims(bool symbolic_rows, int64_t rows, bool symbolic_pages, int64_t num_pages) {
  Dims d;
  d.rows = symbolic_rows ? Expr(Var("rows")) : Expr(int(rows));
  d.num_pages = symbolic_pages ? Expr(Var("num_pages")) : Expr(int(num_pages));
  return d;
}

std::string dtype_name(DataType t) { return t == DataType::f16() ? "f16" : "f32"; }
double tolerance(DataType t) { return t == DataType::f16() ? 1e-2 : 1e-5; }

}  // namespace

std::vector<KernelCase> attention_cases() {
  std::vector<KernelCase> cases;

  struct RopeCase {
    const char* name;
    int64_t rows, total, in_cols, offset, heads, d;
    double theta;
    bool llama3;
    DataType dtype;
  };
  for (const RopeCase& rc :
       {RopeCase{"rope_f32", 5, 9, 256, 0, 4, 32, 10000.0, false, DataType::f32()},
        RopeCase{"rope_f16_llama3", 3, 3000, 512, 128, 4, 64, 500000.0, true, DataType::f16()}}) {
    Dims dm = dims(true, rc.rows, false, 0);
    RopeSpec spec = rope_spec(rc.d, rc.theta, rc.llama3);
    KernelCase c;
    c.name = rc.name;
    c.shape = std::to_string(rc.rows) + "x" + std::to_string(rc.in_cols) + " heads " +
              std::to_string(rc.heads) + " D " + std::to_string(rc.d) + " at " +
              std::to_string(rc.total - rc.rows) + " " + dtype_name(rc.dtype);
    c.build = [=](const Target* t) {
      return kernels::rope(dm.rows, dm.total_len, rc.in_cols, rc.offset, rc.heads, spec, rc.dtype,
                           t);
    };
    c.scalars = {rc.rows, rc.total};
    c.tolerance = tolerance(rc.dtype);
    cases.push_back(std::move(c));
  }

  struct KvCase {
    const char* name;
    bool sym_rows;
    int64_t rows, total;
    bool sym_pages;
    int64_t num_pages, max_pages, page_size, kv_heads, heads, d;
    bool llama3;
    DataType dtype;
  };
  for (const KvCase& kc : {KvCase{"kv_append_f16_gqa_prefill", true, 6, 20, true, 11, 8, 4, 2, 4,
                                  32, false, DataType::f16()},
                           KvCase{"kv_append_f32_decode_llama3", false, 1, 33, false, 6, 4, 16, 2,
                                  2, 64, true, DataType::f32()}}) {
    Dims dm = dims(kc.sym_rows, kc.rows, kc.sym_pages, kc.num_pages);
    PagedCache cache{dm.num_pages, kc.max_pages, kc.kv_heads, kc.d, kc.page_size};
    RopeSpec spec = rope_spec(kc.d, 10000.0, kc.llama3);
    const int64_t in_cols = (kc.heads + 2 * kc.kv_heads) * kc.d;
    const int64_t k_off = kc.heads * kc.d, v_off = k_off + kc.kv_heads * kc.d;
    KernelCase c;
    c.name = kc.name;
    c.shape = std::to_string(kc.rows) + " rows at " + std::to_string(kc.total - kc.rows) +
              ", kv_heads " + std::to_string(kc.kv_heads) + " D " + std::to_string(kc.d) +
              " page " + std::to_string(kc.page_size) + " " + dtype_name(kc.dtype);
    c.build = [=](const Target* t) {
      return kernels::kv_append(dm.rows, dm.total_len, in_cols, k_off, v_off, spec, cache, kc.dtype,
                                t);
    };
    if (kc.sym_rows) c.scalars.push_back(kc.rows);
    if (kc.sym_pages) c.scalars.push_back(kc.num_pages);
    c.scalars.push_back(kc.total);
    c.tolerance = tolerance(kc.dtype);
    c.prepare = [=](Arrays& args, uint64_t seed) {
      write_random(args[1], kc.dtype, seed);
      write_page_table(args[2], kc.num_pages, seed);
    };
    cases.push_back(std::move(c));
  }

  struct AttnCase {
    const char* name;
    bool sym_rows;
    int64_t rows, total;
    bool sym_pages;
    int64_t num_pages, max_pages, page_size, heads, kv_heads, d;
    DataType dtype;
  };
  for (const AttnCase& ac : {
           AttnCase{"attention_f16_gqa_prefill", true, 10, 27, true, 9, 8, 4, 4, 2, 32,
                    DataType::f16()},
           AttnCase{"attention_f32_mha_prefill", true, 40, 60, false, 5, 4, 16, 2, 2, 64,
                    DataType::f32()},
           AttnCase{"attention_f32_prefill_d128", true, 34, 50, false, 4, 4, 16, 2, 1, 128,
                    DataType::f32()},
           AttnCase{"attention_f32_gqa_no_past", true, 7, 7, true, 3, 2, 4, 4, 2, 32,
                    DataType::f32()},
           AttnCase{"attention_f16_gqa_decode", false, 1, 300, true, 23, 20, 16, 4, 2, 64,
                    DataType::f16()},
           AttnCase{"attention_f32_gqa_decode_var_rows", true, 1, 290, true, 45, 40, 8, 4, 1, 32,
                    DataType::f32()},
           AttnCase{"attention_f16_mha_decode_d128", false, 1, 70, false, 8, 8, 16, 2, 2, 128,
                    DataType::f16()},
       }) {
    Dims dm = dims(ac.sym_rows, ac.rows, ac.sym_pages, ac.num_pages);
    PagedCache cache{dm.num_pages, ac.max_pages, ac.kv_heads, ac.d, ac.page_size};
    KernelCase c;
    c.name = ac.name;
    c.shape = std::to_string(ac.rows) + " rows at " + std::to_string(ac.total - ac.rows) +
              ", heads " + std::to_string(ac.heads) + "/" + std::to_string(ac.kv_heads) + " D " +
              std::to_string(ac.d) + " page " + std::to_string(ac.page_size) + " " +
              dtype_name(ac.dtype);
    c.build = [=](const Target* t) {
      return kernels::attention(dm.rows, dm.total_len, ac.heads, cache, ac.dtype, t);
    };
    if (ac.sym_rows) c.scalars.push_back(ac.rows);
    if (ac.sym_pages) c.scalars.push_back(ac.num_pages);
    c.scalars.push_back(ac.total);
    c.tolerance = tolerance(ac.dtype);
    c.prepare = [=](Arrays& args, uint64_t seed) { write_page_table(args[2], ac.num_pages, seed); };
    cases.push_back(std::move(c));
  }
  return cases;
}

}  // namespace mlcc::check
