// The linear-layer kernel cases (kernels::linear, llm_kernels.h) at sizes the interpreter
// runs quickly, chosen to reach every tail: n not a multiple of the rows a GPU block
// covers (8 for the GEMVs, 64 for the tiled product), k spanning several load batches of
// the GEMVs, k too large to stage x in shared memory, k not a multiple of the 32-wide k
// tile (q0) or of the q4 group (a padded last group), rows 1 (GEMV) and symbolic rows of 5, 7 and
// 70, with and without the residual, and f32 logits from f16 activations.
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
      // Prefill (tiled product).
      {"q4f16_1", 7, 80, 160, false, false},
      {"q4f16_1", 5, 72, 96, true, false},
      {"q4f16_1", 70, 72, 64, true, false},
      {"q4f16_1", 5, 40, 128, false, true},
      {"q4f32_1", 7, 80, 160, true, false},
      {"q4f32_1", 5, 33, 64, false, false},
      {"q4f16_1", 5, 20, 172, true, false},
      {"q4f32_1", 7, 9, 44, false, false},
      {"q0f16", 7, 80, 100, false, false},
      {"q0f16", 5, 70, 72, true, true},
      {"q0f32", 7, 66, 72, true, false},
      {"q0f32", 5, 20, 45, false, false},
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
    if (sp.rows == 1) {
      s.rows = Expr(1);
    } else {
      s.rows = Var("rows");
      scalars = {sp.rows};
    }
    std::string name = std::string("linear_") + sp.quant + (sp.rows == 1 ? "_decode" : "_prefill");
    if (sp.residual) name += "_residual";
    if (sp.f32_out) name += "_f32out";
    std::string dims =
        std::to_string(sp.rows) + "x" + std::to_string(sp.n) + "x" + std::to_string(sp.k);
    name += "_" + dims;
    std::string shape = dims + (sp.rows == 1 ? "" : " (rows symbolic)");
    const double tolerance = s.quant.act_dtype() == DataType::f16() ? 1e-2 : 1e-5;
    cases.push_back({name, shape, [s](const Target* t) { return kernels::linear(s, t); }, nullptr,
                     scalars, tolerance});
  }
  return cases;
}

}  // namespace mlcc::check
