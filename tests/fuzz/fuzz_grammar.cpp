// libFuzzer target: structured output from untrusted requests. The input's first byte picks the
// front end (even: a JSON schema, odd: GBNF text); the rest up to the first NUL is the schema or
// grammar, and the bytes after it are fed to a matcher one at a time, probing allows() first.
// Any crash, sanitizer report, hang or runaway allocation is a bug; errors are fine.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "grammar/grammar.h"
#include "grammar/json_schema.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 16 * 1024) return 0;
  const bool gbnf = (data[0] & 1) != 0;
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  const size_t nul = rest.find('\0');
  const std::string_view spec = rest.substr(0, nul);
  const std::string_view text = nul == std::string_view::npos ? std::string_view() : rest.substr(nul + 1);
  paddock::Result<std::shared_ptr<const paddock::grammar::Grammar>> g =
      paddock::make_error(paddock::ErrorCode::kInvalidArgument, "unset");
  if (gbnf) {
    g = paddock::grammar::parse_gbnf(spec);
  } else {
    const auto schema = nlohmann::ordered_json::parse(spec, nullptr, false);
    if (schema.is_discarded()) return 0;
    g = paddock::grammar::compile_format(schema);
  }
  if (!g.ok()) return 0;
  paddock::grammar::GrammarMatcher m(*g);
  for (size_t i = 0; i < text.size(); ++i) {
    const std::string_view byte = text.substr(i, 1);
    const bool allowed = m.allows(byte);
    if (m.accept(byte) != allowed) __builtin_trap();  // allows() must predict accept()
    if (!allowed) break;
  }
  (void)m.is_complete();
  return 0;
}
