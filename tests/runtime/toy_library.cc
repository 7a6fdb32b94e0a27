// A hand-written model library for the runtime tests: the exported symbols of
// runtime/library_format.h around a toy model, so that the loader, the VM, the devices,
// the KV cache and the Model API are tested without the compiler. CMake builds it several
// times with defines that make it wrong in one way each (TOY_FORMAT_VERSION,
// TOY_BAD_BYTECODE, TOY_NO_MANIFEST), a cuda library (TOY_TARGET_CUDA, with the PTX of
// toy_kernels.cu in TOY_PTX_FILE) or a rocm library for gfx1100 (TOY_TARGET_ROCM, with an
// ELF header for a code object, which only the fake HIP runtime of fake_hip.cc loads;
// TOY_NO_HSACO leaves it out, TOY_BAD_HSACO makes it text).
//
// The toy model: vocabulary 8, hidden 4, two layers. x_p = table[token_p] + bias; each
// layer l writes keys (l+1)·x_p and values 2(l+1)·x_p into its paged cache, and its logits
// are logits_l[v] = sum over cached positions q of dot(K_q + V_q, table[v]). The output is
// logits_0 + logits_1 = 9 · sum_q dot(x_q, table[v]), so prefill and decode agree only
// when the cache and the page table work.
#include <cmath>
#include <cstdint>

#include "runtime/kernel_abi.h"

#ifndef TOY_FORMAT_VERSION
#define TOY_FORMAT_VERSION 1
#endif
#define TOY_STR2(x) #x
#define TOY_STR(x) TOY_STR2(x)

#if defined(TOY_TARGET_CUDA)
#define TOY_TARGET "\"target\": \"cuda -arch=sm_52\", \"target_kind\": \"cuda\","
#elif defined(TOY_TARGET_ROCM)
#define TOY_TARGET                                                 \
  "\"target\": \"rocm -mcpu=gfx1100\", \"target_kind\": \"rocm\"," \
  "\"rocm\": {\"gfx\": \"gfx1100\", \"wavefront_size\": 32},"
#else
#define TOY_TARGET "\"target\": \"cpu\", \"target_kind\": \"cpu\","
#endif

#ifdef TOY_BAD_BYTECODE
#define TOY_FIRST_KERNEL "9"  // there are 7 kernels
#else
#define TOY_FIRST_KERNEL "0"
#endif

// Opcodes: kArg 1, kScalar 2, kParam 3, kKVCache 4, kView 5, kConst 6, kBinary 7, kCall 8,
// kResult 9. The prefill and decode bodies differ only in where seq_len comes from.
// clang-format off
#define TOY_STEP_BODY                                                                   \
  "3,4,0, 3,5,1, 5,6,0,0, 5,7,0,128, 7,8,1,3,2, 6,9,1, 6,10,2, 4,11,0, 4,12,1, "       \
  "5,13,1,0, 5,14,1,64, 5,15,1,128, 6,16,8, "                                           \
  "8," TOY_FIRST_KERNEL ",3,0,4,6,1,2, 8,1,3,6,5,7,1,2, 8,2,3,7,11,1,3,2,8,9, "         \
  "8,2,3,7,12,1,3,2,8,10, 8,3,4,11,1,4,13,1,3, 8,3,4,12,1,4,14,1,3, 8,4,3,13,14,15,1,16, " \
  "9,1,15"
// clang-format on

#define TOY_N_THREADS(per) "[[\"$0\", " per ", \"*\", 63, \"+\", 64, \"/\"], [1], [1]]"

#ifndef TOY_NO_MANIFEST
extern "C" const char mlcc_library_manifest[] =
    "{\"format_version\": " TOY_STR(TOY_FORMAT_VERSION) ", \"mlcc_version\": \"0.1.0\", " TOY_TARGET
    "\"model\": {\"vocab_size\": 8, \"hidden_size\": 4}, \"quantization\": \"q0f32\","
    "\"context_window\": 16, \"prefill_chunk_size\": 8,"
    "\"kv_cache\": {\"num_layers\": 2, \"num_kv_heads\": 1, \"head_dim\": 4, \"page_size\": 4,"
    "               \"num_pages\": 4, \"dtype\": \"f32\"},"
    "\"params\": [{\"name\": \"embed.weight\", \"dtype\": \"f32\", \"shape\": [8, 4]},"
    "             {\"name\": \"bias\", \"dtype\": \"f32\", \"shape\": [4]}],"
    "\"kernels\": ["
    " {\"name\": \"toy_embed\", \"num_buffers\": 3, \"num_scalars\": 1,"
    "  \"grid\": " TOY_N_THREADS("4") ", \"block\": [[64], [1], [1]]},"
    " {\"name\": \"toy_add_bias\", \"num_buffers\": 3, \"num_scalars\": 1,"
    "  \"grid\": " TOY_N_THREADS("4") ", \"block\": [[64], [1], [1]]},"
    " {\"name\": \"toy_kv_write\", \"num_buffers\": 3, \"num_scalars\": 3,"
    "  \"grid\": " TOY_N_THREADS("4") ", \"block\": [[64], [1], [1]], \"scalar_bits\": [32, 64, 32]},"
    " {\"name\": \"toy_logits\", \"num_buffers\": 4, \"num_scalars\": 1,"
    "  \"grid\": [[1], [1], [1]], \"block\": [[32], [1], [1]]},"
    " {\"name\": \"toy_add_vec\", \"num_buffers\": 3, \"num_scalars\": 1,"
    "  \"grid\": " TOY_N_THREADS("1") ", \"block\": [[64], [1], [1]]},"
    " {\"name\": \"toy_argmax\", \"num_buffers\": 2, \"num_scalars\": 1,"
    "  \"grid\": [[1], [1], [1]], \"block\": [[1], [1], [1]]},"
    " {\"name\": \"toy_softmax\", \"num_buffers\": 3, \"num_scalars\": 1,"
    "  \"grid\": [[1], [1], [1]], \"block\": [[1], [1], [1]]}],"
    "\"storages\": [256, 192],"
    "\"memory_plan\": {\"param_bytes\": 144, \"activation_bytes\": 448, \"kv_cache_bytes\": 1024},"
    "\"functions\": {"
    " \"prefill\": {"
    "  \"inputs\": [{\"name\": \"tokens\", \"dtype\": \"i32\", \"shape\": [\"seq_len\"]},"
    "              {\"name\": \"page_table\", \"dtype\": \"i32\", \"shape\": [4]}],"
    "  \"scalars\": [\"seq_len\", \"total_seq_len\"],"
    "  \"outputs\": [{\"name\": \"logits\", \"dtype\": \"f32\", \"shape\": [1, 8]}],"
    "  \"num_registers\": 17,"
    "  \"code\": [1,0,0, 1,1,1, 2,2,0, 2,3,1, " TOY_STEP_BODY "]},"
    " \"decode\": {"
    "  \"inputs\": [{\"name\": \"tokens\", \"dtype\": \"i32\", \"shape\": [1]},"
    "              {\"name\": \"page_table\", \"dtype\": \"i32\", \"shape\": [4]}],"
    "  \"scalars\": [\"total_seq_len\"],"
    "  \"outputs\": [{\"name\": \"logits\", \"dtype\": \"f32\", \"shape\": [1, 8]}],"
    "  \"num_registers\": 17,"
    "  \"code\": [1,0,0, 1,1,1, 6,2,1, 2,3,0, " TOY_STEP_BODY "]},"
    " \"embed\": {"
    "  \"inputs\": [{\"name\": \"tokens\", \"dtype\": \"i32\", \"shape\": [\"seq_len\"]}],"
    "  \"scalars\": [\"seq_len\"],"
    "  \"outputs\": [{\"name\": \"embeddings\", \"dtype\": \"f32\", \"shape\": [\"seq_len\", 4]}],"
    "  \"num_registers\": 6,"
    "  \"code\": [1,0,0, 2,1,0, 3,2,0, 3,3,1, 5,4,0,0, 5,5,0,128,"
    "            8,0,3,0,2,4,1,1, 8,1,3,4,3,5,1,1, 9,1,5]},"
    " \"argmax\": {"
    "  \"inputs\": [{\"name\": \"logits\", \"dtype\": \"f32\", \"shape\": [1, 8]}],"
    "  \"scalars\": [],"
    "  \"outputs\": [{\"name\": \"index\", \"dtype\": \"i32\", \"shape\": [1]}],"
    "  \"num_registers\": 3,"
    "  \"code\": [1,0,0, 5,1,1,160, 6,2,8, 8,5,2,0,1,1,2, 9,1,1]},"
    " \"softmax_with_temperature\": {"
    "  \"inputs\": [{\"name\": \"logits\", \"dtype\": \"f32\", \"shape\": [1, 8]},"
    "              {\"name\": \"temperature\", \"dtype\": \"f32\", \"shape\": [1]}],"
    "  \"scalars\": [],"
    "  \"outputs\": [{\"name\": \"probs\", \"dtype\": \"f32\", \"shape\": [1, 8]}],"
    "  \"num_registers\": 4,"
    "  \"code\": [1,0,0, 1,1,1, 5,2,1,0, 6,3,8, 8,6,3,0,1,2,1,3, 9,1,2]}"
    "}}";
#endif

#ifdef TOY_TARGET_CUDA
#ifdef TOY_PTX_FILE
// The PTX text of toy_kernels.cu, NUL-terminated, under the symbol the loader looks for.
// clang-format off
asm(".section .rodata\n"
    ".globl mlcc_library_ptx\n"
    ".type mlcc_library_ptx, @object\n"
    "mlcc_library_ptx:\n"
    ".incbin \"" TOY_PTX_FILE "\"\n"
    ".byte 0\n"
    ".previous\n");
// clang-format on
#else
extern "C" const uint8_t mlcc_library_ptx[] = "";  // no clang to make the PTX with
#endif
#endif

#if defined(TOY_TARGET_ROCM) && !defined(TOY_NO_HSACO)
#ifdef TOY_BAD_HSACO
extern "C" const uint8_t mlcc_library_hsaco[] = ".version 7.0\n.target sm_52\n.address_size 64\n";
#else
// The ELF64 header of an amdgcn-amd-amdhsa code object for gfx1100 (no sections): the
// identification (64-bit, little-endian, OS ABI 64 AMDGPU_HSA, ABI version 3: code object
// v5), e_type 3 (ET_DYN), e_machine 224 (EM_AMDGPU), e_version 1, no entry, program or
// section headers, e_flags 0x41 (EF_AMDGPU_MACH_AMDGCN_GFX1100), e_ehsize 64.
// clang-format off
extern "C" const uint8_t mlcc_library_hsaco[64] = {
    0x7f, 'E', 'L', 'F', 2, 1, 1, 64, 3, 0, 0, 0, 0, 0, 0, 0,
    3, 0, 224, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0x41, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
// clang-format on
#endif
extern "C" const uint64_t mlcc_library_hsaco_size = sizeof(mlcc_library_hsaco);
#endif

extern "C" {

// `extern`: a const at namespace scope is otherwise internal, even inside extern "C" { }.
extern const int32_t mlcc_module_abi_version = MLCC_KERNEL_ABI_VERSION;
MlccParallelLaunch mlcc_parallel_launch = nullptr;

namespace {
constexpr int64_t kHidden = 4, kPageSize = 4, kHeadDim = 4;

// Element (page, kv, slot, d) of one layer's pool (num_kv_heads 1).
float* cache_at(float* cache, const int32_t* page_table, int64_t pos, int kv, int64_t d) {
  int64_t page = page_table[pos / kPageSize], slot = pos % kPageSize;
  return cache + ((page * 2 + kv) * kPageSize + slot) * kHeadDim + d;
}

struct AddClosure {
  const float *a, *b;
  float* c;
  int64_t n;
};

int32_t add_body(int64_t task, int64_t num_tasks, void* p) {
  auto* cl = static_cast<AddClosure*>(p);
  for (int64_t i = task; i < cl->n; i += num_tasks) cl->c[i] = cl->a[i] + cl->b[i];
  return 0;
}
}  // namespace

// Ids[n], Table[8, 4] -> X[n, 4]
int32_t toy_embed(void* const* b, const int64_t* s) {
  auto* ids = static_cast<const int32_t*>(b[0]);
  auto* table = static_cast<const float*>(b[1]);
  auto* x = static_cast<float*>(b[2]);
  for (int64_t i = 0; i < s[0]; ++i)
    for (int64_t d = 0; d < kHidden; ++d) x[i * kHidden + d] = table[ids[i] * kHidden + d];
  return 0;
}

// X[n, 4], Bias[4] -> Y[n, 4]
int32_t toy_add_bias(void* const* b, const int64_t* s) {
  auto* x = static_cast<const float*>(b[0]);
  auto* bias = static_cast<const float*>(b[1]);
  auto* y = static_cast<float*>(b[2]);
  for (int64_t i = 0; i < s[0] * kHidden; ++i) y[i] = x[i] + bias[i % kHidden];
  return 0;
}

// X[n, 4], Cache, PageTable; scalars n, start, mult: keys mult·x, values 2·mult·x at
// positions start .. start + n - 1.
int32_t toy_kv_write(void* const* b, const int64_t* s) {
  auto* x = static_cast<const float*>(b[0]);
  auto* cache = static_cast<float*>(b[1]);
  auto* pt = static_cast<const int32_t*>(b[2]);
  for (int64_t i = 0; i < s[0]; ++i)
    for (int64_t d = 0; d < kHeadDim; ++d) {
      *cache_at(cache, pt, s[1] + i, 0, d) = static_cast<float>(s[2]) * x[i * kHidden + d];
      *cache_at(cache, pt, s[1] + i, 1, d) = 2.0f * static_cast<float>(s[2]) * x[i * kHidden + d];
    }
  return 0;
}

// Cache, PageTable, Table[8, 4] -> Logits[8]; scalar total: positions 0 .. total - 1.
int32_t toy_logits(void* const* b, const int64_t* s) {
  auto* cache = static_cast<float*>(b[0]);
  auto* pt = static_cast<const int32_t*>(b[1]);
  auto* table = static_cast<const float*>(b[2]);
  auto* logits = static_cast<float*>(b[3]);
  for (int64_t v = 0; v < 8; ++v) {
    float acc = 0;
    for (int64_t p = 0; p < s[0]; ++p)
      for (int64_t d = 0; d < kHeadDim; ++d)
        acc += (*cache_at(cache, pt, p, 0, d) + *cache_at(cache, pt, p, 1, d)) *
               table[v * kHidden + d];
    logits[v] = acc;
  }
  return 0;
}

// A[n] + B[n] -> C[n], on the runtime's thread pool.
int32_t toy_add_vec(void* const* b, const int64_t* s) {
  AddClosure cl{static_cast<const float*>(b[0]), static_cast<const float*>(b[1]),
                static_cast<float*>(b[2]), s[0]};
  if (mlcc_parallel_launch == nullptr) return 7;  // the loader must have filled it in
  return mlcc_parallel_launch(&add_body, &cl, 2);
}

// L[n] -> I[1]: the first index of the largest value.
int32_t toy_argmax(void* const* b, const int64_t* s) {
  auto* l = static_cast<const float*>(b[0]);
  int32_t best = 0;
  for (int32_t i = 1; i < s[0]; ++i)
    if (l[i] > l[best]) best = i;
  *static_cast<int32_t*>(b[1]) = best;
  return 0;
}

// L[n], T[1] -> P[n] = softmax(L / T).
int32_t toy_softmax(void* const* b, const int64_t* s) {
  auto* l = static_cast<const float*>(b[0]);
  float t = *static_cast<const float*>(b[1]);
  auto* p = static_cast<float*>(b[2]);
  float max = l[0], sum = 0;
  for (int64_t i = 1; i < s[0]; ++i) max = std::fmax(max, l[i]);
  for (int64_t i = 0; i < s[0]; ++i) sum += p[i] = std::exp((l[i] - max) / t);
  for (int64_t i = 0; i < s[0]; ++i) p[i] /= sum;
  return 0;
}

}  // extern "C"
