// UTF-8 helpers: validation, decoding one code point, and the length of a valid prefix
// (used by the streaming detokenizer so a multi-byte character is never split).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace paddock::utf8 {

// Length in bytes of the sequence starting with lead byte c (1..4), or 0 if c is not a lead byte.
int sequence_length(uint8_t c);
// Decodes one code point at s[i]; on invalid input returns -1 and sets len to 1.
int32_t decode(std::string_view s, size_t i, int* len);
bool is_valid(std::string_view s);
// Number of leading bytes of s that form complete, valid UTF-8 — except that invalid bytes are
// counted as complete (they will never become valid), so only an incomplete tail is held back.
size_t complete_prefix(std::string_view s);
void append(std::string& out, uint32_t cp);

}  // namespace paddock::utf8
