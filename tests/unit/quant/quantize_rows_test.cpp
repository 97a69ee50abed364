// quantize_rows: the threaded quantizer gives the same bytes as row-by-row quantize_row for every
// type with a quantizer, with and without an importance matrix and whatever the thread count.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "quant/quant.h"
#include "util/thread_pool.h"

namespace paddock::quant {
namespace {

const Type kTypes[] = {Type::F32,  Type::F16,  Type::BF16, Type::Q8_0, Type::Q4_0, Type::Q4_1, Type::Q5_0,
                       Type::Q5_1, Type::Q8_K, Type::Q2_K, Type::Q3_K, Type::Q4_K, Type::Q5_K, Type::Q6_K,
                       Type::IQ4_NL};

TEST(QuantizeRows, ThreadedEqualsRowByRow) {
  const int64_t n_rows = 53, n = 512;
  std::mt19937 rng(5);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n_rows * n));
  for (auto& v : x) v = g(rng);
  for (int64_t i = 0; i < n; i += 97) x[static_cast<size_t>(3 * n + i)] *= 40.0f;  // outliers
  for (int64_t i = 0; i < n; ++i) x[static_cast<size_t>(7 * n + i)] = 0.0f;     // an all-zero row
  std::vector<float> imatrix(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) imatrix[static_cast<size_t>(i)] = 0.25f + static_cast<float>(i % 13);
  ThreadPool pool2(2), pool3(3);
  for (Type t : kTypes) {
    const uint64_t rb = *row_size(t, n);
    for (const float* im : {static_cast<const float*>(nullptr), static_cast<const float*>(imatrix.data())}) {
      std::vector<uint8_t> want(rb * n_rows);
      for (int64_t r = 0; r < n_rows; ++r) quantize_row(t, x.data() + r * n, want.data() + r * rb, n, im);
      for (ThreadPool* pool : {static_cast<ThreadPool*>(nullptr), &pool2, &pool3}) {
        std::vector<uint8_t> got(rb * n_rows, 0xCD);
        quantize_rows(t, x.data(), got.data(), n_rows, n, im, pool);
        EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size()), 0)
            << type_info(t)->name << " threads " << (pool ? pool->size() : 1) << (im ? " imatrix" : "");
      }
    }
  }
}

TEST(QuantizeRows, FewRowsAndNoRows) {
  ThreadPool pool(2);
  std::vector<float> x(256, 0.5f);
  std::vector<uint8_t> a(*row_size(Type::Q4_K, 256)), b(a.size());
  quantize_rows(Type::Q4_K, x.data(), a.data(), 1, 256, nullptr, &pool);
  quantize_row(Type::Q4_K, x.data(), b.data(), 256);
  EXPECT_EQ(a, b);
  quantize_rows(Type::Q4_K, x.data(), a.data(), 0, 256, nullptr, &pool);  // nothing to do, no crash
}

}  // namespace
}  // namespace paddock::quant
