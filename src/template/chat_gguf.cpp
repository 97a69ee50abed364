// template: reads the chat-related metadata of a GGUF (tokenizer.chat_template and the BOS/EOS
// token texts) for render_chat.
#include "gguf/gguf.h"
#include "template/template.h"

namespace paddock::chat_template {

Result<GgufChatInfo> chat_info_from_gguf(const gguf::File& f) {
  GgufChatInfo info;
  auto tmpl = f.get_string("tokenizer.chat_template");
  if (tmpl.ok()) info.chat_template = std::move(*tmpl);
  else if (tmpl.error().code() != ErrorCode::kNotFound) return tmpl.error();
  auto tokens = f.get_string_array("tokenizer.ggml.tokens");
  if (!tokens.ok()) {
    if (tokens.error().code() != ErrorCode::kNotFound) return tokens.error();
    return info;
  }
  auto token_text = [&](const char* key, std::string& out) -> Status {
    auto id = f.get_uint(key);
    if (!id.ok()) return id.error().code() == ErrorCode::kNotFound ? Status::Ok() : Status(id.error());
    if (*id >= tokens->size())
      return make_error(ErrorCode::kCorrupt, "{} = {} is out of range (vocabulary of {})", key, *id, tokens->size());
    out = (*tokens)[*id];
    return Status::Ok();
  };
  RETURN_IF_ERROR(token_text("tokenizer.ggml.bos_token_id", info.bos_token));
  RETURN_IF_ERROR(token_text("tokenizer.ggml.eos_token_id", info.eos_token));
  return info;
}

}  // namespace paddock::chat_template
