/* gguf_oracle_ggml: drives ggml's own GGUF code (libggml-base.so as shipped in node-llama-cpp's
 * prebuilt linux-x64 binaries) so our reader and writer are checked against llama.cpp:
 *   gguf_oracle_ggml write OUT   writes a GGUF with ggml's writer (every scalar and array type,
 *                                tensors of several types, deterministic bytes)
 *   gguf_oracle_ggml read FILE   reads a file with ggml's reader and prints what it saw as JSON
 *                                (exit 1 and {"error":...} when ggml rejects the file)
 * Built and run by tools/gguf_oracle.mjs (see its header); only the prototypes of the public
 * ggml/gguf C API are declared here. */
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct ggml_context;
struct ggml_tensor;
struct gguf_context;
struct ggml_init_params { size_t mem_size; void* mem_buffer; bool no_alloc; };
struct gguf_init_params { bool no_alloc; struct ggml_context** ctx; };
/* The stable head of struct ggml_tensor: type, buffer, ne[4]. */
struct tensor_head { int type; void* buffer; int64_t ne[4]; };

enum { T_U8, T_I8, T_U16, T_I16, T_U32, T_I32, T_F32, T_BOOL, T_STR, T_ARR, T_U64, T_I64, T_F64 };

struct ggml_context* ggml_init(struct ggml_init_params params);
void ggml_free(struct ggml_context* ctx);
struct ggml_tensor* ggml_new_tensor(struct ggml_context* ctx, int type, int n_dims, const int64_t* ne);
struct ggml_tensor* ggml_set_name(struct ggml_tensor* t, const char* name);
void* ggml_get_data(const struct ggml_tensor* t);
struct ggml_tensor* ggml_get_tensor(struct ggml_context* ctx, const char* name);
int ggml_n_dims(const struct ggml_tensor* t);
const char* ggml_type_name(int type);

struct gguf_context* gguf_init_empty(void);
struct gguf_context* gguf_init_from_file(const char* fname, struct gguf_init_params params);
void gguf_free(struct gguf_context* ctx);
uint32_t gguf_get_version(const struct gguf_context* ctx);
size_t gguf_get_alignment(const struct gguf_context* ctx);
size_t gguf_get_data_offset(const struct gguf_context* ctx);
int64_t gguf_get_n_kv(const struct gguf_context* ctx);
const char* gguf_get_key(const struct gguf_context* ctx, int64_t id);
int gguf_get_kv_type(const struct gguf_context* ctx, int64_t id);
int gguf_get_arr_type(const struct gguf_context* ctx, int64_t id);
size_t gguf_get_arr_n(const struct gguf_context* ctx, int64_t id);
const void* gguf_get_arr_data(const struct gguf_context* ctx, int64_t id);
const char* gguf_get_arr_str(const struct gguf_context* ctx, int64_t id, size_t i);
uint8_t gguf_get_val_u8(const struct gguf_context* ctx, int64_t id);
int8_t gguf_get_val_i8(const struct gguf_context* ctx, int64_t id);
uint16_t gguf_get_val_u16(const struct gguf_context* ctx, int64_t id);
int16_t gguf_get_val_i16(const struct gguf_context* ctx, int64_t id);
uint32_t gguf_get_val_u32(const struct gguf_context* ctx, int64_t id);
int32_t gguf_get_val_i32(const struct gguf_context* ctx, int64_t id);
float gguf_get_val_f32(const struct gguf_context* ctx, int64_t id);
uint64_t gguf_get_val_u64(const struct gguf_context* ctx, int64_t id);
int64_t gguf_get_val_i64(const struct gguf_context* ctx, int64_t id);
double gguf_get_val_f64(const struct gguf_context* ctx, int64_t id);
bool gguf_get_val_bool(const struct gguf_context* ctx, int64_t id);
const char* gguf_get_val_str(const struct gguf_context* ctx, int64_t id);
int64_t gguf_get_n_tensors(const struct gguf_context* ctx);
const char* gguf_get_tensor_name(const struct gguf_context* ctx, int64_t id);
int gguf_get_tensor_type(const struct gguf_context* ctx, int64_t id);
size_t gguf_get_tensor_offset(const struct gguf_context* ctx, int64_t id);
size_t gguf_get_tensor_size(const struct gguf_context* ctx, int64_t id);

void gguf_set_val_u8(struct gguf_context* c, const char* k, uint8_t v);
void gguf_set_val_i8(struct gguf_context* c, const char* k, int8_t v);
void gguf_set_val_u16(struct gguf_context* c, const char* k, uint16_t v);
void gguf_set_val_i16(struct gguf_context* c, const char* k, int16_t v);
void gguf_set_val_u32(struct gguf_context* c, const char* k, uint32_t v);
void gguf_set_val_i32(struct gguf_context* c, const char* k, int32_t v);
void gguf_set_val_f32(struct gguf_context* c, const char* k, float v);
void gguf_set_val_u64(struct gguf_context* c, const char* k, uint64_t v);
void gguf_set_val_i64(struct gguf_context* c, const char* k, int64_t v);
void gguf_set_val_f64(struct gguf_context* c, const char* k, double v);
void gguf_set_val_bool(struct gguf_context* c, const char* k, bool v);
void gguf_set_val_str(struct gguf_context* c, const char* k, const char* v);
void gguf_set_arr_data(struct gguf_context* c, const char* k, int type, const void* data, size_t n);
void gguf_set_arr_str(struct gguf_context* c, const char* k, const char** data, size_t n);
void gguf_add_tensor(struct gguf_context* c, const struct ggml_tensor* t);
bool gguf_write_to_file(const struct gguf_context* c, const char* fname, bool only_meta);

static void json_str(const char* s) {
  putchar('"');
  for (const unsigned char* p = (const unsigned char*)s; *p; ++p) {
    if (*p == '"' || *p == '\\') printf("\\%c", *p);
    else if (*p < 0x20) printf("\\u%04x", *p);
    else putchar(*p);
  }
  putchar('"');
}

static uint64_t fnv1a(const uint8_t* p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; ++i) { h ^= p[i]; h *= 0x100000001b3ull; }
  return h;
}

/* One scalar of type t at p, as JSON. */
static void json_scalar(int t, const void* p) {
  switch (t) {
    case T_U8: printf("%u", *(const uint8_t*)p); break;
    case T_I8: printf("%d", *(const int8_t*)p); break;
    case T_U16: printf("%u", *(const uint16_t*)p); break;
    case T_I16: printf("%d", *(const int16_t*)p); break;
    case T_U32: printf("%" PRIu32, *(const uint32_t*)p); break;
    case T_I32: printf("%" PRId32, *(const int32_t*)p); break;
    case T_F32: printf("%.9g", *(const float*)p); break;
    case T_BOOL: printf("%s", *(const int8_t*)p ? "true" : "false"); break;
    case T_U64: printf("%" PRIu64, *(const uint64_t*)p); break;
    case T_I64: printf("%" PRId64, *(const int64_t*)p); break;
    case T_F64: printf("%.17g", *(const double*)p); break;
    default: printf("null");
  }
}

static size_t scalar_size(int t) {
  switch (t) {
    case T_U8: case T_I8: case T_BOOL: return 1;
    case T_U16: case T_I16: return 2;
    case T_U32: case T_I32: case T_F32: return 4;
    default: return 8;
  }
}

static int do_read(const char* path) {
  struct ggml_context* gctx = NULL;
  struct gguf_init_params ip = {false, &gctx};
  struct gguf_context* ctx = gguf_init_from_file(path, ip);
  if (!ctx) { printf("{\"error\": \"ggml rejected the file\"}\n"); return 1; }
  printf("{\"version\": %u, \"alignment\": %zu, \"data_offset\": %zu,\n \"kv\": [\n", gguf_get_version(ctx),
         gguf_get_alignment(ctx), gguf_get_data_offset(ctx));
  int64_t n_kv = gguf_get_n_kv(ctx);
  for (int64_t i = 0; i < n_kv; ++i) {
    int t = gguf_get_kv_type(ctx, i);
    printf("  {\"key\": ");
    json_str(gguf_get_key(ctx, i));
    printf(", \"type\": %d, ", t);
    if (t == T_ARR) {
      int et = gguf_get_arr_type(ctx, i);
      size_t n = gguf_get_arr_n(ctx, i);
      printf("\"elem_type\": %d, \"value\": [", et);
      for (size_t k = 0; k < n; ++k) {
        if (k) putchar(',');
        if (et == T_STR) json_str(gguf_get_arr_str(ctx, i, k));
        else json_scalar(et, (const uint8_t*)gguf_get_arr_data(ctx, i) + k * scalar_size(et));
      }
      printf("]}");
    } else if (t == T_STR) {
      printf("\"value\": ");
      json_str(gguf_get_val_str(ctx, i));
      printf("}");
    } else {
      union { uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32; int32_t i32; float f32; uint64_t u64;
              int64_t i64; double f64; bool b; } v;
      memset(&v, 0, sizeof v);
      switch (t) {
        case T_U8: v.u8 = gguf_get_val_u8(ctx, i); break;
        case T_I8: v.i8 = gguf_get_val_i8(ctx, i); break;
        case T_U16: v.u16 = gguf_get_val_u16(ctx, i); break;
        case T_I16: v.i16 = gguf_get_val_i16(ctx, i); break;
        case T_U32: v.u32 = gguf_get_val_u32(ctx, i); break;
        case T_I32: v.i32 = gguf_get_val_i32(ctx, i); break;
        case T_F32: v.f32 = gguf_get_val_f32(ctx, i); break;
        case T_U64: v.u64 = gguf_get_val_u64(ctx, i); break;
        case T_I64: v.i64 = gguf_get_val_i64(ctx, i); break;
        case T_F64: v.f64 = gguf_get_val_f64(ctx, i); break;
        case T_BOOL: v.i8 = gguf_get_val_bool(ctx, i) ? 1 : 0; break;
      }
      printf("\"value\": ");
      json_scalar(t, &v);
      printf("}");
    }
    printf("%s\n", i + 1 < n_kv ? "," : "");
  }
  printf(" ],\n \"tensors\": [\n");
  int64_t n_t = gguf_get_n_tensors(ctx);
  for (int64_t i = 0; i < n_t; ++i) {
    const char* name = gguf_get_tensor_name(ctx, i);
    const struct ggml_tensor* t = ggml_get_tensor(gctx, name);
    const struct tensor_head* h = (const struct tensor_head*)t;
    size_t size = gguf_get_tensor_size(ctx, i);
    printf("  {\"name\": ");
    json_str(name);
    printf(", \"type\": %d, \"type_name\": \"%s\", \"n_dims\": %d, \"ne\": [%" PRId64 ",%" PRId64 ",%" PRId64
           ",%" PRId64 "], \"offset\": %zu, \"size\": %zu, \"fnv1a\": \"%016" PRIx64 "\"}%s\n",
           gguf_get_tensor_type(ctx, i), ggml_type_name(gguf_get_tensor_type(ctx, i)), ggml_n_dims(t), h->ne[0],
           h->ne[1], h->ne[2], h->ne[3], gguf_get_tensor_offset(ctx, i), size,
           fnv1a((const uint8_t*)ggml_get_data(t), size), i + 1 < n_t ? "," : "");
  }
  printf(" ]}\n");
  gguf_free(ctx);
  ggml_free(gctx);
  return 0;
}

static int do_write(const char* path) {
  struct gguf_context* c = gguf_init_empty();
  gguf_set_val_str(c, "general.architecture", "oracle");
  gguf_set_val_str(c, "general.name", "written by ggml \xe2\x9c\x93");
  gguf_set_val_u8(c, "o.u8", 200);
  gguf_set_val_i8(c, "o.i8", -100);
  gguf_set_val_u16(c, "o.u16", 60000);
  gguf_set_val_i16(c, "o.i16", -30000);
  gguf_set_val_u32(c, "o.u32", 4000000000u);
  gguf_set_val_i32(c, "o.i32", -2000000000);
  gguf_set_val_f32(c, "o.f32", 0.1f);
  gguf_set_val_u64(c, "o.u64", 18000000000000000000ull);
  gguf_set_val_i64(c, "o.i64", -9000000000000000000ll);
  gguf_set_val_f64(c, "o.f64", -2.5e-300);
  gguf_set_val_bool(c, "o.bool", true);
  gguf_set_val_str(c, "o.str.empty", "");
  const int32_t ai[] = {-1, 0, 1, 2147483647};
  const float af[] = {0.5f, -1.25f, 3e38f};
  const uint8_t au8[] = {1, 2, 255};
  const int16_t ai16[] = {-7, 7};
  const uint64_t au64[] = {1, 18446744073709551615ull};
  const double af64[] = {1e-308, -0.0};
  const bool ab[] = {true, false, true};
  const char* as[] = {"a", "", "\xe2\x96\x81the", "tab\there"};
  gguf_set_arr_data(c, "o.arr.i32", T_I32, ai, 4);
  gguf_set_arr_data(c, "o.arr.f32", T_F32, af, 3);
  gguf_set_arr_data(c, "o.arr.u8", T_U8, au8, 3);
  gguf_set_arr_data(c, "o.arr.i16", T_I16, ai16, 2);
  gguf_set_arr_data(c, "o.arr.u64", T_U64, au64, 2);
  gguf_set_arr_data(c, "o.arr.f64", T_F64, af64, 2);
  gguf_set_arr_data(c, "o.arr.bool", T_BOOL, ab, 3);
  gguf_set_arr_data(c, "o.arr.empty", T_U32, NULL, 0);
  gguf_set_arr_str(c, "o.arr.str", as, 4);

  struct ggml_init_params p = {1 << 20, NULL, false};
  struct ggml_context* g = ggml_init(p);
  /* {type, n_dims, ne} with ggml type ids: f32 0, f16 1, q4_0 2, q8_0 8, q4_K 12, bf16 30, i32 26 */
  struct { const char* name; int type; int n_dims; int64_t ne[4]; } spec[] = {
      {"t.f32", 0, 2, {3, 5, 1, 1}},       {"t.f16", 1, 1, {7, 1, 1, 1}},  {"t.q4_0", 2, 2, {64, 2, 1, 1}},
      {"t.q8_0", 8, 1, {32, 1, 1, 1}},     {"t.q4_K", 12, 1, {256, 1, 1, 1}}, {"t.bf16", 30, 3, {2, 3, 4, 1}},
      {"blk.0.t.i32", 26, 4, {1, 2, 1, 3}},
  };
  for (size_t k = 0; k < sizeof spec / sizeof spec[0]; ++k) {
    struct ggml_tensor* t = ggml_new_tensor(g, spec[k].type, spec[k].n_dims, spec[k].ne);
    ggml_set_name(t, spec[k].name);
    uint8_t* d = (uint8_t*)ggml_get_data(t);
    gguf_add_tensor(c, t);
    size_t size = gguf_get_tensor_size(c, (int64_t)k);
    for (size_t i = 0; i < size; ++i) d[i] = (uint8_t)(i * 131 + k * 17 + 1);
  }
  bool ok = gguf_write_to_file(c, path, false);
  gguf_free(c);
  ggml_free(g);
  return ok ? 0 : 1;
}

int main(int argc, char** argv) {
  if (argc == 3 && strcmp(argv[1], "read") == 0) return do_read(argv[2]);
  if (argc == 3 && strcmp(argv[1], "write") == 0) return do_write(argv[2]);
  fprintf(stderr, "usage: %s read FILE | write OUT\n", argv[0]);
  return 2;
}
