// `paddock gguf-dump FILE`: prints a GGUF file's header, metadata and tensor list as JSON (long
// arrays shortened unless --full). `paddock gguf-tiny OUT` (hidden): writes a tiny llama model
// with random weights; `paddock gguf-sample OUT` (hidden): every metadata type. Both are the
// files tests and tools/gguf_oracle.mjs compare against llama.cpp.
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "gguf/gguf.h"
#include "quant/quant.h"

namespace paddock::cli {
namespace {

nlohmann::json value_json(const gguf::Value& v, size_t max_array) {
  using gguf::ValueType;
  switch (v.type) {
    case ValueType::kUint8: case ValueType::kUint16: case ValueType::kUint32: case ValueType::kUint64: return v.u;
    case ValueType::kInt8: case ValueType::kInt16: case ValueType::kInt32: case ValueType::kInt64: return v.i;
    case ValueType::kFloat32: case ValueType::kFloat64: return v.f;
    case ValueType::kBool: return v.u != 0;
    case ValueType::kString: return v.s;
    case ValueType::kArray: {
      nlohmann::json a = nlohmann::json::array();
      for (size_t k = 0; k < v.arr.size() && k < max_array; ++k) a.push_back(value_json(v.arr[k], max_array));
      if (v.arr.size() > max_array)
        return {{"type", std::string("array of ") + gguf::value_type_name(v.elem_type)},
                {"length", v.arr.size()},
                {"head", a}};
      return a;
    }
  }
  return nullptr;
}

int dump(const std::string& path, bool full) {
  auto f = gguf::File::open(path);
  if (!f.ok()) {
    std::cerr << "paddock: " << f.error().message() << "\n";
    return 1;
  }
  size_t max_array = full ? SIZE_MAX : 16;
  nlohmann::ordered_json j;
  j["version"] = f->version();
  j["alignment"] = f->alignment();
  j["data_offset"] = f->data_offset();
  j["file_size"] = f->file_size();
  j["trailing_bytes"] = f->trailing_bytes();
  nlohmann::ordered_json kv = nlohmann::ordered_json::object();
  for (const auto& [k, v] : f->kv()) kv[k] = value_json(v, max_array);
  j["metadata"] = kv;
  nlohmann::ordered_json ts = nlohmann::ordered_json::array();
  for (const auto& t : f->tensors()) {
    const quant::TypeInfo* info = quant::type_info(t.type);
    ts.push_back({{"name", t.name},
                  {"type", info ? std::string(info->name) : std::to_string(t.type)},
                  {"shape", std::vector<int64_t>(t.ne, t.ne + t.n_dims)},
                  {"offset", t.offset},
                  {"nbytes", t.nbytes}});
  }
  j["tensors"] = ts;
  std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  return 0;
}

Registration reg_dump({"gguf-dump", 900, [](CLI::App& app, std::function<int()>& run) {
  auto* sub = app.add_subcommand("gguf-dump", "Print a GGUF file's metadata and tensors as JSON");
  auto path = std::make_shared<std::string>();
  auto full = std::make_shared<bool>(false);
  sub->add_option("file", *path, "GGUF file")->required();
  sub->add_flag("--full", *full, "Print whole arrays (vocabularies can be long)");
  run = [path, full] { return dump(*path, *full); };
  return sub;
}});

Registration reg_tiny({"gguf-tiny", 901, [](CLI::App& app, std::function<int()>& run) {
  auto* sub = app.add_subcommand("gguf-tiny", "Write a tiny llama model with random weights (for tests)");
  sub->group("");  // hidden from --help
  auto spec = std::make_shared<gguf::TinyLlamaSpec>();
  auto out = std::make_shared<std::string>();
  auto type = std::make_shared<std::string>("f32");
  sub->add_option("out", *out, "Output path")->required();
  sub->add_option("--n-embd", spec->n_embd);
  sub->add_option("--n-layer", spec->n_layer);
  sub->add_option("--n-head", spec->n_head);
  sub->add_option("--n-head-kv", spec->n_head_kv);
  sub->add_option("--n-ff", spec->n_ff);
  sub->add_option("--n-ctx", spec->n_ctx);
  sub->add_option("--seed", spec->seed);
  sub->add_option("--version", spec->version);
  sub->add_option("--alignment", spec->alignment);
  sub->add_option("--type", *type, "f32, f16 or bf16 for the 2-D weights");
  sub->add_flag("--tied-output", spec->tied_output);
  auto pooling = std::make_shared<int>(-1);
  auto chat_template = std::make_shared<std::string>();
  sub->add_option("--pooling", *pooling, "Write llama.pooling_type (0 none, 1 mean, 2 cls, 3 last, 4 rank)");
  sub->add_option("--chat-template", *chat_template, "Write tokenizer.chat_template");
  run = [spec, out, type, pooling, chat_template] {
    auto t = quant::type_from_name(*type);
    if (!t) {
      std::cerr << "paddock: unknown type " << *type << "\n";
      return 1;
    }
    spec->weight_type = static_cast<uint32_t>(*t);
    auto w = gguf::make_tiny_llama(*spec);
    if (w.ok() && *pooling >= 0) w->set("llama.pooling_type", gguf::Value::u32(uint32_t(*pooling)));
    if (w.ok() && !chat_template->empty()) w->set("tokenizer.chat_template", gguf::Value::str(*chat_template));
    Status st = w.ok() ? w->write(*out) : Status(w.error());
    if (!st.ok()) {
      std::cerr << "paddock: " << st.error().message() << "\n";
      return 1;
    }
    return 0;
  };
  return sub;
}});

Registration reg_sample({"gguf-sample", 902, [](CLI::App& app, std::function<int()>& run) {
  auto* sub = app.add_subcommand("gguf-sample", "Write a GGUF file with every metadata type (for tests)");
  sub->group("");  // hidden from --help
  auto out = std::make_shared<std::string>();
  auto version = std::make_shared<uint32_t>(3);
  auto alignment = std::make_shared<uint32_t>(32);
  sub->add_option("out", *out, "Output path")->required();
  sub->add_option("--version", *version);
  sub->add_option("--alignment", *alignment);
  run = [out, version, alignment] {
    auto w = gguf::make_format_sample(*version, *alignment);
    Status st = w.ok() ? w->write(*out) : Status(w.error());
    if (!st.ok()) {
      std::cerr << "paddock: " << st.error().message() << "\n";
      return 1;
    }
    return 0;
  };
  return sub;
}});

}  // namespace
}  // namespace paddock::cli
