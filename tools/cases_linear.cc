// The linear-layer kernel cases (kernels::linear, llm_kernels.h) at sizes the interpreter
// runs quickly, chosen to reach every tail: n not a multiple of the rows a GPU block
// covers (8 for the GEMVs, 64 for the tiled product, 128 for the tensor-core one), k spanning
// several load batches of the GEMVs, k too large to stage x in shared memory, k not a multiple of
// the 32-wide k tile (q0) or of the q4 group (a padded last group), rows 1 (GEMV) and symbolic rows
// of 1 to 9, 70 and 130, with and without the residual, and f32 logits from f16 activations.
#include "passes/legalize/llm_kernels.h"
#include "tools/kernel_check.h"

namespace mlcc::check {

using namespace ir;

std::vector<KernelCase> linear_cases() {
  struct Spec {
    const char* quant;
    int64_t rows;  // 1: the constant (decode); otherwise a symbolic Var given this value
    int64_t n, k;
    bool residual;
    bool f32_out;
    bool symbolic_one = false;  // rows 1 as the symbolic Var (prefill of one token)
  };
  const Spec specs[] = {
      // Decode (GEMV). k = 4640: 145 groups, so q4 lanes cover 5 groups in two load batches
      // and the last batch leaves lanes idle.
      {"q4f16_1", 1, 20, 4640, false, false},
      {"q4f16_1", 1, 20, 1056, true, false},
      {"q4f16_1", 1, 13, 512, false, true},
      {"q4f16_1", 1, 9, 256, true, true},
      {"q4f32_1", 1, 20, 4640, false, false},
      {"q4f32_1", 1, 11, 1056, true, false},
      // x past the 48 KB of shared memory (f32 k > 12288, f16 k > 24576): read from global.
      {"q4f32_1", 1, 5, 12320, true, false},
      {"q4f16_1", 1, 3, 24608, false, true},
      {"q0f16", 1, 20, 1000, false, false},
      {"q0f16", 1, 11, 300, true, true},
      {"q0f32", 1, 20, 1000, true, false},
      {"q0f32", 1, 9, 99, false, false},
      // k not a multiple of 32: the last q4 group is padded (stories260K's FFN width 172).
      {"q4f16_1", 1, 10, 172, true, false},
      {"q4f32_1", 1, 9, 172, false, false},
      // Prefill: the tiled product, or on CUDA the tensor-core one where activations are f16
      // and k is a multiple of 8.
      {"q4f16_1", 7, 80, 160, false, false},
      {"q4f16_1", 5, 72, 96, true, false},
      {"q4f16_1", 70, 72, 64, true, false},
      {"q4f16_1", 5, 40, 128, false, true},
      {"q4f32_1", 7, 80, 160, true, false},
      {"q4f32_1", 5, 33, 64, false, false},
      {"q4f16_1", 5, 20, 172, true, false},
      {"q4f32_1", 7, 9, 44, false, false},
      // The CPU's i16 product: 33 groups (two blocks of 16 and one group), rows and n past
      // its 4 x 4 tiles.
      {"q4f16_1", 9, 70, 1056, true, false},
      {"q0f16", 7, 80, 100, false, false},
      {"q0f16", 5, 70, 72, true, true},
      {"q0f32", 7, 66, 72, true, false},
      {"q0f32", 5, 20, 45, false, false},
      // Prefill on tensor cores (f16 activations, k a multiple of 8; linear_mma.cc): 128-row
      // tiles with 1, 2, 3 and 130 rows, n past a 128-wide tile and odd (single stores),
      // three k steps (both shared buffers), k tails of 8 (a padded q4 group, zeros of x).
      {"q4f16_1", 1, 136, 96, true, false, true},
      {"q4f16_1", 2, 72, 64, false, true},
      {"q4f16_1", 3, 129, 168, true, false},
      {"q4f16_1", 130, 136, 64, true, false},
      {"q0f16", 3, 136, 104, true, false},
      {"q0f16", 130, 72, 64, false, true},
      {"q0f16", 1, 65, 64, true, false, true},
  };
  std::vector<KernelCase> cases;
  for (const Spec& sp : specs) {
    kernels::LinearSpec s;
    s.quant = kernels::Quantization::parse(sp.quant);
    s.n = sp.n;
    s.k = sp.k;
    s.residual = sp.residual;
    s.out_dtype = sp.f32_out ? DataType::f32() : s.quant.act_dtype();
    std::vector<int64_t> scalars;
    const bool decode = sp.rows == 1 && !sp.symbolic_one;
    if (decode) {
      s.rows = Expr(1);
    } else {
      s.rows = Var("rows");
      scalars = {sp.rows};
    }
    std::string name = std::string("linear_") + sp.quant + (decode ? "_decode" : "_prefill");
    if (sp.residual) name += "_residual";
    if (sp.f32_out) name += "_f32out";
    std::string dims =
        std::to_string(sp.rows) + "x" + std::to_string(sp.n) + "x" + std::to_string(sp.k);
    name += "_" + dims;
    std::string shape = dims + (decode ? "" : " (rows symbolic)");
    const double tolerance = s.quant.act_dtype() == DataType::f16() ? 1e-2 : 1e-5;
    cases.push_back({name, shape, [s](const Target* t) { return kernels::linear(s, t); }, nullptr,
                     scalars, tolerance});
  }
  return cases;
}

}  // namespace mlcc::check
