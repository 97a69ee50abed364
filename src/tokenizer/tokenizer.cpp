// tokenizer: the public entry points (from_gguf / from_hf / from_metadata / from_file) and the
// streaming detokenizer.
#include "tokenizer/tokenizer.h"

#include <fstream>
#include <sstream>

#include "tokenizer/tokenizer_impl.h"
#include "util/utf8.h"

namespace paddock::tokenizer {

Result<std::unique_ptr<Tokenizer>> Tokenizer::from_metadata(const MetadataKv& kv) {
  ASSIGN_OR_RETURN(Vocab vb, vocab_from_metadata(kv));
  return TokenizerImpl::build(std::move(vb));
}

Result<std::unique_ptr<Tokenizer>> Tokenizer::from_gguf(const gguf::File& file) { return from_metadata(file.kv()); }

Result<std::unique_ptr<Tokenizer>> Tokenizer::from_hf(const std::string& tokenizer_json, const std::string& tokenizer_config_json) {
  ASSIGN_OR_RETURN(MetadataKv kv, hf_to_gguf_metadata(tokenizer_json, tokenizer_config_json));
  return from_metadata(kv);
}

namespace {
Result<std::string> read_file(const std::string& path, size_t cap) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return make_error(ErrorCode::kNotFound, "cannot open {}", path);
  f.seekg(0, std::ios::end);
  auto size = static_cast<std::streamoff>(f.tellg());
  if (size < 0 || static_cast<size_t>(size) > cap) return make_error(ErrorCode::kInvalidArgument, "{}: larger than {} bytes", path, cap);
  f.seekg(0);
  std::string s(static_cast<size_t>(size), '\0');
  if (!f.read(s.data(), size)) return make_error(ErrorCode::kIo, "cannot read {}", path);
  return s;
}
}  // namespace

Result<std::unique_ptr<Tokenizer>> Tokenizer::from_file(const std::string& path) {
  char magic[4] = {};
  {
    std::ifstream f(path, std::ios::binary);
    if (!f) return make_error(ErrorCode::kNotFound, "cannot open {}", path);
    f.read(magic, 4);
  }
  if (std::string_view(magic, 4) == "GGUF") {
    ASSIGN_OR_RETURN(gguf::File file, gguf::File::open(path));
    return from_gguf(file);
  }
  ASSIGN_OR_RETURN(std::string tj, read_file(path, size_t{1} << 30));
  std::string cj;
  auto slash = path.find_last_of('/');
  std::string dir = slash == std::string::npos ? std::string() : path.substr(0, slash + 1);
  if (auto c = read_file(dir + "tokenizer_config.json", size_t{64} << 20); c.ok()) cj = std::move(c).value();
  return from_hf(tj, cj);
}

// ---- StreamDecoder ----

namespace {
// Appends s with every invalid byte replaced by U+FFFD, so callers always get valid UTF-8.
void append_sanitized(std::string& out, std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    int len = 1;
    if (utf8::decode(s, i, &len) < 0) {
      out += "\xEF\xBF\xBD";
      i += 1;
    } else {
      out.append(s.substr(i, static_cast<size_t>(len)));
      i += static_cast<size_t>(len);
    }
  }
}
}  // namespace

StreamDecoder::StreamDecoder(const Tokenizer& tok, bool skip_special) : tok_(tok), skip_special_(skip_special) {}

std::string StreamDecoder::push(int32_t id) {
  if (id < 0 || id >= tok_.n_vocab()) return {};
  if (skip_special_ && tok_.is_control(id)) return {};
  std::string piece = tok_.token_to_piece(id);
  if (first_) {
    // SentencePiece: the space the encoder prepended is not part of the text.
    if (tok_.add_space_prefix() && !piece.empty() && piece[0] == ' ') piece.erase(0, 1);
    first_ = false;
  }
  pending_ += piece;
  size_t n = utf8::complete_prefix(pending_);
  std::string out;
  append_sanitized(out, std::string_view(pending_).substr(0, n));
  pending_.erase(0, n);
  return out;
}

std::string StreamDecoder::flush() {
  std::string out;
  append_sanitized(out, pending_);
  pending_.clear();
  return out;
}

}  // namespace paddock::tokenizer
