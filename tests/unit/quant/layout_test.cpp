// quant: dequantize hand-built blocks whose values are worked out by hand from the ggml block
// layouts (ggml-common.h structs, dequantize_row_* in ggml-quants.c). Blocks are written byte by
// byte at explicit offsets, not through our own structs, so a wrong field order or bit position
// in the library shows up here. fp16 constants: 0x3C00 = 1.0, 0x3800 = 0.5, 0x4000 = 2.0,
// 0x3400 = 0.25, 0xBC00 = -1.0.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <vector>

#include "quant/quant.h"

namespace paddock::quant {
namespace {

void put16(std::vector<uint8_t>& b, size_t off, uint16_t v) {
  b[off] = static_cast<uint8_t>(v & 0xFF);
  b[off + 1] = static_cast<uint8_t>(v >> 8);
}

std::vector<float> deq(Type t, const std::vector<uint8_t>& b) {
  const int64_t n = type_info(t)->block_size * static_cast<int64_t>(b.size() / type_info(t)->type_size);
  std::vector<float> y(static_cast<size_t>(n));
  dequantize_row(t, b.data(), y.data(), n);
  return y;
}

// Every element equals `fill` except the listed ones.
void expect_values(const std::vector<float>& y, float fill, const std::map<int, float>& special, const char* what) {
  for (size_t i = 0; i < y.size(); ++i) {
    auto it = special.find(static_cast<int>(i));
    const float want = it == special.end() ? fill : it->second;
    EXPECT_EQ(y[i], want) << what << " element " << i;
  }
}

TEST(Layout, Q4_0) {
  // {fp16 d; uint8 qs[16]}: element j = low nibble of qs[j], j+16 = high nibble; x = d*(q-8).
  std::vector<uint8_t> b(18, 0x88);  // every q = 8 -> 0
  put16(b, 0, 0x4000);                // d = 2
  b[2 + 3] = 0x8F;                    // element 3: q=15 -> 14; element 19: 8 -> 0
  b[2 + 15] = 0x08 | 0x00;            // element 15: q=8 -> 0; element 31: q=0 -> -16
  expect_values(deq(Type::Q4_0, b), 0, {{3, 14}, {31, -16}}, "q4_0");
}

TEST(Layout, Q4_1) {
  // {fp16 d; fp16 m; uint8 qs[16]}: x = d*q + m.
  std::vector<uint8_t> b(20, 0);
  put16(b, 0, 0x3800);  // d = 0.5
  put16(b, 2, 0xBC00);  // m = -1
  b[4 + 0] = 0xA1;      // element 0: 1 -> -0.5; element 16: 10 -> 4
  expect_values(deq(Type::Q4_1, b), -1, {{0, -0.5f}, {16, 4}}, "q4_1");
}

TEST(Layout, Q5_0) {
  // {fp16 d; uint8 qh[4]; uint8 qs[16]}: bit 4 of element j is bit j of qh (little-endian u32).
  std::vector<uint8_t> b(22, 0);
  put16(b, 0, 0x3C00);       // d = 1
  std::memset(&b[6], 0, 16);  // low nibbles 0
  b[2] = 0xFF;                // elements 0..7 have bit 4 set
  b[3] = 0xFF;
  b[4] = 0xFF;
  b[5] = 0xFF;                // all 32 have bit 4 set: q = 16 -> 0
  b[5] = 0x7F;                // element 31: bit 4 clear -> q = low nibble (high of qs[15])
  b[6 + 15] = 0x30;           // element 31 low bits = 3 -> q = 3 -> -13; element 15: q=16 -> 0
  b[6 + 2] = 0x05;            // element 2: q = 16 + 5 = 21 -> 5
  b[2] = 0xFB;                // element 2 bit 4 clear -> q = 5 -> -11
  expect_values(deq(Type::Q5_0, b), 0, {{2, -11}, {31, -13}}, "q5_0");
}

TEST(Layout, Q5_1) {
  // {fp16 d; fp16 m; uint8 qh[4]; uint8 qs[16]}: x = d*q + m.
  std::vector<uint8_t> b(24, 0);
  put16(b, 0, 0x3C00);  // d = 1
  put16(b, 2, 0x3400);  // m = 0.25
  b[4 + 2] = 0x01;      // bit 16 -> element 16 has bit 4
  b[8 + 0] = 0x21;      // element 0 low = 1; element 16 low = 2 -> q = 18
  expect_values(deq(Type::Q5_1, b), 0.25f, {{0, 1.25f}, {16, 18.25f}}, "q5_1");
}

TEST(Layout, Q8_0) {
  std::vector<uint8_t> b(34, 0);
  put16(b, 0, 0x3800);  // d = 0.5
  b[2 + 0] = 0x7F;      // 127 -> 63.5
  b[2 + 31] = 0x80;     // -128 -> -64
  expect_values(deq(Type::Q8_0, b), 0, {{0, 63.5f}, {31, -64}}, "q8_0");
}

TEST(Layout, Q2_K) {
  // {uint8 scales[16]; uint8 qs[64]; fp16 d; fp16 dmin} (84 bytes). scales[g]: low nibble scale,
  // high nibble min of group g (16 elements). qs[32*h + l] bits 2s..2s+1 -> element 128h+32s+l.
  std::vector<uint8_t> b(84, 0);
  put16(b, 80, 0x3C00);  // d = 1
  put16(b, 82, 0x3800);  // dmin = 0.5
  for (int g = 0; g < 16; ++g) b[g] = 0x01;  // scale 1, min 0
  b[5] = 0x23;                               // group 5 (elements 80..95): scale 3, min 2
  // element 81 = 128*0 + 32*2 + 17: qs[17] bits 4-5.
  b[16 + 17] = 0x30;  // q = 3 -> 3*3 - 0.5*2 = 8
  // element 200 = 128*1 + 32*2 + 8: qs[32 + 8] bits 4-5; group 12 scale 1.
  b[16 + 40] = 0x20;  // q = 2 -> 2
  // every other element of group 5 is 0*3 - 1 = -1
  std::map<int, float> want = {{81, 8}, {200, 2}};
  for (int i = 80; i < 96; ++i)
    if (i != 81) want[i] = -1;
  expect_values(deq(Type::Q2_K, b), 0, want, "q2_k");
}

TEST(Layout, Q3_K) {
  // {uint8 hmask[32]; uint8 qs[64]; uint8 scales[12]; fp16 d} (110 bytes). q = low 2 bits (as
  // Q2_K) minus 4 when the hmask bit (bit 4h+s of hmask[l % 32]) is clear. Scale j (6 bits, -32):
  // low nibble in byte j (j<8) or high nibble of byte j-8; high 2 bits at bits 2*(j/4) of byte 8+j%4.
  std::vector<uint8_t> b(110, 0);
  put16(b, 108, 0x3C00);                  // d = 1
  for (int l = 0; l < 32; ++l) b[l] = 0xFF;  // all hmask bits set: q = low bits = 0
  // all scales = 32 + 1 -> 1: low nibble 1, high bits 2 (0b10)
  for (int j = 0; j < 8; ++j) b[96 + j] = 0x11;
  for (int j = 8; j < 12; ++j) b[96 + j] = 0xAA;
  // scale 13 = -5: stored 27 = 0b011011: low nibble 0xB in high nibble of byte 5, high bits 01
  // at bits 6-7 (13/4 = 3) of byte 8 + 1.
  b[96 + 5] = 0xB1;
  b[96 + 9] = 0x6A;  // 0b01101010: bits 6-7 = 01, the rest unchanged (10 10 10)
  // element 210 = 128 + 32*2 + 18 -> group 13: low bits from qs[32 + 18] bits 4-5 = 1, hmask[18]
  // bit (4+2) clear -> q = 1 - 4 = -3 -> -5 * -3 = 15.
  b[32 + 32 + 18] = 0x10;
  b[18] = static_cast<uint8_t>(0xFF & ~(1 << 6));
  // element 7: group 0, qs[7] bits 0-1 = 3 -> 3
  b[32 + 7] = 0x03;
  expect_values(deq(Type::Q3_K, b), 0, {{210, 15}, {7, 3}}, "q3_k");
}

TEST(Layout, Q4_K) {
  // {fp16 d; fp16 dmin; uint8 scales[12]; uint8 qs[128]} (144 bytes). Group j (32 elements):
  // scale/min j<4 = bytes j / j+4 low 6 bits; j>=4: low nibbles in byte j+4 (scale low, min
  // high), high 2 bits in bits 6-7 of bytes j-4 (scale) / j (min). 64 elements per 32 qs bytes:
  // low nibbles first.
  std::vector<uint8_t> b(144, 0);
  put16(b, 0, 0x3C00);  // d = 1
  put16(b, 2, 0x3800);  // dmin = 0.5
  for (int j = 0; j < 4; ++j) b[4 + j] = 1;       // scales 0-3 = 1, mins 0-3 = 0
  for (int j = 8; j < 12; ++j) b[4 + j] = 0x01;   // scales 4-7 = 1, mins 4-7 = 0
  // group 5 (elements 160..191): scale 37 = 0b100101 -> low nibble 5 in byte 9, high bits 10 in
  // bits 6-7 of byte 1; min 18 = 0b010010 -> low nibble 2 in byte 9's high nibble, high bits 01
  // in bits 6-7 of byte 5.
  b[4 + 9] = 0x25;
  b[4 + 1] = 0x80 | 1;
  b[4 + 5] = 0x40;
  // element 163 = 128 + 32 + 3: high nibble of qs[64 + 3] = 2 -> 37*2 - 0.5*18 = 65
  b[16 + 67] = 0x20;
  // element 3 = low nibble of qs[3] = 9 -> 9
  b[16 + 3] = 0x09;
  std::map<int, float> want = {{163, 65}, {3, 9}};
  for (int i = 160; i < 192; ++i)
    if (i != 163) want[i] = -9;
  expect_values(deq(Type::Q4_K, b), 0, want, "q4_k");
}

TEST(Layout, Q5_K) {
  // {fp16 d; fp16 dmin; scales[12]; uint8 qh[32]; uint8 qs[128]} (176 bytes): Q4_K plus bit 4 of
  // element 64i + 32h + l at bit 2i + h of qh[l].
  std::vector<uint8_t> b(176, 0);
  put16(b, 0, 0x3C00);
  put16(b, 2, 0x0000);
  for (int j = 0; j < 4; ++j) b[4 + j] = 2;      // scales 0-3 = 2
  for (int j = 8; j < 12; ++j) b[4 + j] = 0x02;  // scales 4-7 = 2
  // element 64*2 + 32*1 + 6 = 166: qh[6] bit 5, high nibble of qs[64 + 6] = 1 -> q = 17 -> 34
  b[16 + 6] = 1 << 5;
  b[48 + 70] = 0x10;
  // element 6 (i=0, h=0): qh[6] bit 0 clear, low nibble of qs[6] = 15 -> 30
  b[48 + 6] = 0x0F;
  expect_values(deq(Type::Q5_K, b), 0, {{166, 34}, {6, 30}}, "q5_k");
}

TEST(Layout, Q6_K) {
  // {uint8 ql[128]; uint8 qh[64]; int8 scales[16]; fp16 d} (210 bytes). Per half h (128
  // elements): element 32k + l (k = 0..3) takes 4 low bits from ql[64h + l + 32*(k%2)] (low
  // nibble for k < 2, high for k >= 2) and 2 high bits from qh[32h + l] bits 2k; x = d*sc*(q-32).
  std::vector<uint8_t> b(210, 0);
  put16(b, 208, 0x3800);  // d = 0.5
  for (int g = 0; g < 16; ++g) b[192 + g] = 2;
  // all q = 32 -> 0: high bits 10 for every element (qh = 0b10101010), low nibbles 0
  for (int i = 128; i < 192; ++i) b[i] = 0xAA;
  // element 128 + 64 + 5 = 197 (h=1, k=2, l=5), group 12: low bits = high nibble of ql[64+5];
  // set q = 32 + 7 -> 0.5 * sc * 7; sc[12] = -3 -> -10.5
  b[64 + 5] = 0x70;
  b[192 + 12] = static_cast<uint8_t>(-3);
  // element 40 (h=0, k=1, l=8), group 2: qh[8] bits 2-3 = 00, ql[8 + 32] low nibble 1 -> q = 1 -> -31
  b[128 + 8] = 0xAA & ~0x0C;
  b[40] = 0x01;
  expect_values(deq(Type::Q6_K, b), 0, {{197, -10.5f}, {40, -31}}, "q6_k");
}

TEST(Layout, Q8_K) {
  // {float d; int8 qs[256]; int16 bsums[16]} (292 bytes).
  std::vector<uint8_t> b(292, 0);
  const float d = 0.25f;
  std::memcpy(&b[0], &d, 4);
  b[4 + 255] = static_cast<uint8_t>(-8);
  expect_values(deq(Type::Q8_K, b), 0, {{255, -2}}, "q8_k");
}

TEST(Layout, IQ4_NL) {
  // {fp16 d; uint8 qs[16]}: x = d * levels[q], levels = {-127,-104,-83,-65,-49,-35,-22,-10,1,13,
  // 25,38,53,69,89,113}.
  std::vector<uint8_t> b(18, 0x88);  // level 8 = 1
  put16(b, 0, 0x4000);               // d = 2
  b[2 + 4] = 0xF0;                   // element 4: level 0 = -127 -> -254; element 20: 113 -> 226
  expect_values(deq(Type::IQ4_NL, b), 2, {{4, -254}, {20, 226}}, "iq4_nl");
}

TEST(Layout, IQ4_XS) {
  // {fp16 d; uint16 scales_h; uint8 scales_l[4]; uint8 qs[128]} (136 bytes). Group ib of 32:
  // scale = (nibble ib%2 of scales_l[ib/2]) | (bits 2ib..2ib+1 of scales_h) << 4, minus 32.
  std::vector<uint8_t> b(136, 0x88);
  put16(b, 0, 0x3C00);
  put16(b, 2, 0xAAAA);  // high bits 10 for every group -> 32 + low
  for (int i = 4; i < 8; ++i) b[i] = 0x11;  // low 1 -> scale 1
  // group 3: scale = 32 + 5 - 32 = 5 -> scales_l[1] high nibble 5
  b[5] = 0x51;
  // element 3*32 + 16 + 2 = 114: high nibble of qs[16*3 + 2] = 15 -> 113 * 5 = 565
  b[8 + 50] = 0xF8;
  std::map<int, float> want = {{114, 565}};
  for (int i = 96; i < 128; ++i)
    if (i != 114) want[i] = 5;
  expect_values(deq(Type::IQ4_XS, b), 1, want, "iq4_xs");
}

TEST(Layout, MXFP4) {
  // {uint8 e (E8M0); uint8 qs[16]}: x = 2^(e-127) * e2m1(q); e2m1 = {0,.5,1,1.5,2,3,4,6} with the
  // sign in bit 3.
  std::vector<uint8_t> b(17, 0);
  b[0] = 128;          // 2^1
  b[1 + 1] = 0x7F;     // element 1: q=15 -> -6 -> -12; element 17: q=7 -> 6 -> 12
  b[1 + 9] = 0x01;     // element 9: 0.5 -> 1
  expect_values(deq(Type::MXFP4, b), 0, {{1, -12}, {17, 12}, {9, 1}}, "mxfp4");
  b[0] = 0;            // 2^-127: subnormal scale
  const auto y = deq(Type::MXFP4, b);
  EXPECT_EQ(y[17], 6.0f * std::ldexp(1.0f, -127));
}

TEST(Layout, HalfTypes) {
  std::vector<uint8_t> f16 = {0x00, 0x3C, 0x00, 0xC0, 0x01, 0x00, 0x00, 0x7C};  // 1, -2, 2^-24, inf
  const auto y = deq(Type::F16, f16);
  EXPECT_EQ(y[0], 1.0f);
  EXPECT_EQ(y[1], -2.0f);
  EXPECT_EQ(y[2], std::ldexp(1.0f, -24));
  EXPECT_TRUE(std::isinf(y[3]));
  std::vector<uint8_t> bf = {0x80, 0x3F, 0x40, 0xC0};  // 1.0, -3.0
  const auto z = deq(Type::BF16, bf);
  EXPECT_EQ(z[0], 1.0f);
  EXPECT_EQ(z[1], -3.0f);
}

}  // namespace
}  // namespace paddock::quant
