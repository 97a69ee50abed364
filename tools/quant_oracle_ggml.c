/* quant_oracle_ggml: llama.cpp's own (de)quantizers as the oracle for our block formats. Drives
 * libggml-base.so as shipped in node-llama-cpp's prebuilt linux-x64 binaries (only public ggml C
 * API prototypes are declared here) and writes tests/fixtures/quant/ggml_blocks.bin:
 *   - the input: 4096 deterministic pseudo-Gaussian floats (stored, so no generator is shared);
 *   - per type: ggml_quantize_chunk of the input and ggml's to_float of those bytes, and ggml's
 *     to_float of random block bytes (every bit pattern, NaN/inf scales included).
 * tests/unit/quant/ggml_oracle_test.cpp checks our dequantizer bit-exactly against both and our
 * quantizer's error against ggml's on the same input.
 * Build and run: tools/quant_oracle.sh (see its header). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*to_float_t)(const void* x, float* y, int64_t k);
struct type_traits_head {
  const char* type_name;
  int64_t blck_size;
  int64_t blck_size_interleave;
  size_t type_size;
  bool is_quantized;
  to_float_t to_float;
};
const struct type_traits_head* ggml_get_type_traits(int type);
size_t ggml_quantize_chunk(int type, const float* src, void* dst, int64_t start, int64_t nrows, int64_t n_per_row,
                           const float* imatrix);

enum { kN = 4096, kRandomElems = 1024 };

static uint32_t rng_state = 0x2545F491u;
static uint32_t next_u32(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 17;
  rng_state ^= rng_state << 5;
  return rng_state;
}
static float uniform(void) { return (float)(next_u32() >> 8) * (1.0f / 16777216.0f); }

static void put_u32(FILE* f, uint32_t v) { fwrite(&v, 4, 1, f); }

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s OUT.bin\n", argv[0]);
    return 2;
  }
  /* Input: Irwin-Hall(4) approximate Gaussian, a different scale per 256-chunk, a few outliers. */
  static float x[kN];
  for (int i = 0; i < kN; ++i) {
    float g = (uniform() + uniform() + uniform() + uniform() - 2.0f) * 1.7320508f;
    const int chunk = i / 256;
    const float scale = (float)(1u << (chunk % 6)) / 8.0f;
    if (next_u32() % 97 == 0) g *= 6.0f;
    x[i] = g * scale;
  }
  const int types[] = {1, 30, 2, 3, 6, 7, 8, 10, 11, 12, 13, 14, 20, 23, 39};
  FILE* f = fopen(argv[1], "wb");
  if (!f) {
    perror(argv[1]);
    return 1;
  }
  fwrite("PDQO", 1, 4, f);
  put_u32(f, 1);
  put_u32(f, kN);
  fwrite(x, 4, kN, f);
  put_u32(f, (uint32_t)(sizeof(types) / sizeof(types[0])));
  for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); ++t) {
    const int type = types[t];
    const struct type_traits_head* tr = ggml_get_type_traits(type);
    if (!tr || !tr->to_float) {
      fprintf(stderr, "type %d: no to_float in this ggml\n", type);
      return 1;
    }
    const size_t bytes = (size_t)(kN / tr->blck_size) * tr->type_size;
    uint8_t* q = malloc(bytes);
    float* y = malloc(sizeof(float) * kN);
    /* Segment A: ggml quantizes the input. */
    uint32_t na = 0;
    {
      const size_t wrote = ggml_quantize_chunk(type, x, q, 0, kN / 256, 256, NULL);
      if (wrote != bytes) {
        fprintf(stderr, "type %s: quantize wrote %zu bytes, expected %zu\n", tr->type_name, wrote, bytes);
        return 1;
      }
      tr->to_float(q, y, kN);
      na = kN;
    }
    put_u32(f, (uint32_t)type);
    put_u32(f, (uint32_t)tr->type_size);
    put_u32(f, (uint32_t)tr->blck_size);
    put_u32(f, na);
    if (na) {
      fwrite(q, 1, bytes, f);
      fwrite(y, 4, kN, f);
    }
    /* Segment B: random bytes. */
    const size_t rbytes = (size_t)(kRandomElems / tr->blck_size) * tr->type_size;
    for (size_t i = 0; i < rbytes; ++i) q[i] = (uint8_t)(next_u32() >> 24);
    tr->to_float(q, y, kRandomElems);
    put_u32(f, kRandomElems);
    fwrite(q, 1, rbytes, f);
    fwrite(y, 4, kRandomElems, f);
    fprintf(stderr, "%-8s block %3lld elems %3zu bytes: quantized %u, random %d\n", tr->type_name,
            (long long)tr->blck_size, tr->type_size, na, kRandomElems);
    free(q);
    free(y);
  }
  fclose(f);
  return 0;
}
