// UTF-8 decoding per RFC 3629 (no overlongs, no surrogates, max U+10FFFF).
#include "util/utf8.h"

namespace paddock::utf8 {

int sequence_length(uint8_t c) {
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) return c >= 0xC2 ? 2 : 0;
  if ((c & 0xF0) == 0xE0) return 3;
  if ((c & 0xF8) == 0xF0) return c <= 0xF4 ? 4 : 0;
  return 0;
}

int32_t decode(std::string_view s, size_t i, int* len) {
  *len = 1;
  if (i >= s.size()) return -1;
  uint8_t c = static_cast<uint8_t>(s[i]);
  int n = sequence_length(c);
  if (n == 0 || i + static_cast<size_t>(n) > s.size()) return -1;
  if (n == 1) return c;
  uint32_t cp = c & (0x7F >> n);
  for (int k = 1; k < n; ++k) {
    uint8_t d = static_cast<uint8_t>(s[i + k]);
    if ((d & 0xC0) != 0x80) return -1;
    cp = (cp << 6) | (d & 0x3F);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
    return -1;
  *len = n;
  return static_cast<int32_t>(cp);
}

bool is_valid(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    int len;
    if (decode(s, i, &len) < 0) return false;
    i += static_cast<size_t>(len);
  }
  return true;
}

size_t complete_prefix(std::string_view s) {
  // Look back at most 3 bytes for an unfinished multi-byte sequence.
  size_t n = s.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    uint8_t c = static_cast<uint8_t>(s[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead
    int need = sequence_length(c);
    if (need > static_cast<int>(back)) {
      // Would the bytes so far be a valid start? If the continuation bytes are fine, hold back.
      bool ok = true;
      for (size_t k = 1; k < back; ++k)
        if ((static_cast<uint8_t>(s[n - back + k]) & 0xC0) != 0x80) ok = false;
      if (ok) return n - back;
    }
    break;
  }
  return n;
}

void append(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace paddock::utf8
