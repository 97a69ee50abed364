// `paddock tokenize --tokenizer FILE [--special] [--no-bos] [--json] TEXT|-` prints token ids (or
// ids with their pieces as JSON); `paddock detokenize --tokenizer FILE [--skip-special] IDS...|-`
// prints the text. FILE is a GGUF model or a Hugging Face tokenizer.json. Offline tools: no server.
#include <charconv>
#include <iostream>
#include <iterator>

#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "tokenizer/tokenizer.h"

namespace paddock::cli {
namespace {

constexpr size_t kMaxStdin = size_t{1} << 30;

bool read_stdin(std::string* out) {
  out->clear();
  char buf[1 << 16];
  while (std::cin.read(buf, sizeof(buf)) || std::cin.gcount() > 0) {
    out->append(buf, static_cast<size_t>(std::cin.gcount()));
    if (out->size() > kMaxStdin) return false;
  }
  return true;
}

std::unique_ptr<tokenizer::Tokenizer> load(const std::string& path) {
  auto t = tokenizer::Tokenizer::from_file(path);
  if (!t.ok()) {
    const std::string& m = t.error().message();
    std::cerr << "paddock: " << (m.rfind(path, 0) == 0 ? "" : path + ": ") << m << "\n";
    return nullptr;
  }
  return std::move(t).value();
}

int tokenize(const std::string& path, std::string text, bool special, bool add_special, bool as_json) {
  if (text == "-" && !read_stdin(&text)) {
    std::cerr << "paddock: standard input is larger than " << kMaxStdin << " bytes\n";
    return 1;
  }
  auto tok = load(path);
  if (!tok) return 1;
  std::vector<int32_t> ids = tok->encode(text, add_special, special);
  if (as_json) {
    nlohmann::json j = nlohmann::json::array();
    for (int32_t id : ids) j.push_back({{"id", id}, {"piece", tok->token_to_piece(id)}, {"token", tok->token_text(id)}});
    std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else {
    for (size_t i = 0; i < ids.size(); ++i) std::cout << (i ? " " : "") << ids[i];
    std::cout << "\n";
  }
  return 0;
}

int detokenize(const std::string& path, const std::vector<std::string>& args, bool skip_special) {
  std::string all;
  if (args.size() == 1 && args[0] == "-") {
    if (!read_stdin(&all)) {
      std::cerr << "paddock: standard input is larger than " << kMaxStdin << " bytes\n";
      return 1;
    }
  } else {
    for (const auto& a : args) all += a + " ";
  }
  auto tok = load(path);
  if (!tok) return 1;
  std::vector<int32_t> ids;
  const char* p = all.data();
  const char* end = all.data() + all.size();
  while (p < end) {
    if (*p == ' ' || *p == ',' || *p == '\n' || *p == '\t' || *p == '\r' || *p == '[' || *p == ']') {
      ++p;
      continue;
    }
    int64_t v = 0;
    auto [q, ec] = std::from_chars(p, end, v);
    if (ec != std::errc() || v < 0 || v >= tok->n_vocab()) {
      const char* e = p;
      while (e < end && *e != ' ' && *e != ',' && *e != '\n') ++e;
      std::cerr << "paddock: '" << std::string(p, static_cast<size_t>(e - p)) << "' is not a token id in [0, " << tok->n_vocab() << ")\n";
      return 1;
    }
    ids.push_back(static_cast<int32_t>(v));
    p = q;
  }
  std::cout << tok->decode(ids, skip_special) << std::flush;
  return 0;
}

struct TokenizeArgs {
  std::string file, text;
  bool special = false, no_bos = false, json = false;
};
struct DetokenizeArgs {
  std::string file;
  std::vector<std::string> ids;
  bool skip_special = false;
};

Registration reg_tok({"tokenize", 600, [](CLI::App& app, std::function<int()>& run) {
  auto a = std::make_shared<TokenizeArgs>();
  auto* sub = app.add_subcommand("tokenize", "Print the token ids of a text (offline)");
  sub->add_option("--tokenizer", a->file, "GGUF model or tokenizer.json")->required();
  sub->add_flag("--special", a->special, "Recognise special tokens written in the text (<|eot_id|>, ...)");
  sub->add_flag("--no-bos", a->no_bos, "Do not add BOS/EOS even if the vocabulary asks for them");
  sub->add_flag("--json", a->json, "Print [{id, piece, token}, ...] as JSON");
  sub->add_option("text", a->text, "Text, or - for standard input")->required();
  run = [a] { return tokenize(a->file, a->text, a->special, !a->no_bos, a->json); };
  return sub;
}});

Registration reg_detok({"detokenize", 601, [](CLI::App& app, std::function<int()>& run) {
  auto a = std::make_shared<DetokenizeArgs>();
  auto* sub = app.add_subcommand("detokenize", "Print the text of token ids (offline)");
  sub->add_option("--tokenizer", a->file, "GGUF model or tokenizer.json")->required();
  sub->add_flag("--skip-special", a->skip_special, "Drop control tokens (BOS, EOS, ...)");
  sub->add_option("ids", a->ids, "Token ids, or - to read them from standard input")->required();
  run = [a] { return detokenize(a->file, a->ids, a->skip_special); };
  return sub;
}});

}  // namespace
}  // namespace paddock::cli
