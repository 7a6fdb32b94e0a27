// The CUDA kernels of the toy model library (toy_library.cc), compiled to PTX by clang
// without the CUDA toolkit (-nocudainc -nocudalib), so the builtins stand in for the
// usual threadIdx/blockIdx. Each kernel does what its CPU twin in toy_library.cc does;
// parameters are device pointers, then 32-bit scalars unless the manifest's scalar_bits
// says 64.
#define __global__ __attribute__((global))

namespace {
constexpr int kHidden = 4, kPageSize = 4, kHeadDim = 4;

__attribute__((device)) int thread_index() {
  return __nvvm_read_ptx_sreg_ctaid_x() * __nvvm_read_ptx_sreg_ntid_x() +
         __nvvm_read_ptx_sreg_tid_x();
}

__attribute__((device)) float* cache_at(float* cache, const int* page_table, long long pos, int kv,
                                        int d) {
  long long page = page_table[pos / kPageSize], slot = pos % kPageSize;
  return cache + ((page * 2 + kv) * kPageSize + slot) * kHeadDim + d;
}
}  // namespace

extern "C" {

__global__ void toy_embed(const int* ids, const float* table, float* x, int n) {
  int i = thread_index();
  if (i < n * kHidden) x[i] = table[ids[i / kHidden] * kHidden + i % kHidden];
}

__global__ void toy_add_bias(const float* x, const float* bias, float* y, int n) {
  int i = thread_index();
  if (i < n * kHidden) y[i] = x[i] + bias[i % kHidden];
}

// `start` is a 64-bit parameter (scalar_bits [32, 64, 32]) to test that path.
__global__ void toy_kv_write(const float* x, float* cache, const int* pt, int n, long long start,
                             int mult) {
  int i = thread_index();
  if (i >= n * kHidden) return;
  int row = i / kHidden, d = i % kHidden;
  *cache_at(cache, pt, start + row, 0, d) = mult * x[i];
  *cache_at(cache, pt, start + row, 1, d) = 2.0f * mult * x[i];
}

__global__ void toy_logits(float* cache, const int* pt, const float* table, float* logits,
                           int total) {
  int v = __nvvm_read_ptx_sreg_tid_x();
  if (v >= 8) return;
  float acc = 0;
  for (int p = 0; p < total; ++p)
    for (int d = 0; d < kHeadDim; ++d)
      acc +=
          (*cache_at(cache, pt, p, 0, d) + *cache_at(cache, pt, p, 1, d)) * table[v * kHidden + d];
  logits[v] = acc;
}

__global__ void toy_add_vec(const float* a, const float* b, float* c, int n) {
  int i = thread_index();
  if (i < n) c[i] = a[i] + b[i];
}

__global__ void toy_argmax(const float* l, int* out, int n) {
  int best = 0;
  for (int i = 1; i < n; ++i)
    if (l[i] > l[best]) best = i;
  *out = best;
}

__global__ void toy_softmax(const float* l, const float* t, float* p, int n) {
  float max = l[0], sum = 0;
  for (int i = 1; i < n; ++i) max = __builtin_fmaxf(max, l[i]);
  for (int i = 0; i < n; ++i)
    sum += p[i] = __nvvm_ex2_approx_f((l[i] - max) / *t * 1.4426950408889634f);
  for (int i = 0; i < n; ++i) p[i] /= sum;
}

}  // extern "C"
