// client_store: the store commands as API calls. create parses the Modelfile here, uploads local
// GGUF files as blobs (HEAD first: a blob the server has is not sent again), then POSTs
// /api/create with digests — the server never reads a client's paths.
#include "cli/client_store.h"

#include <cstdio>
#include <iostream>

#include "cli/client.h"
#include "store/store.h"
#include "util/fs.h"
#include "util/sha256.h"

namespace paddock::cli {

using json = nlohmann::json;

namespace {

int fail(const std::string& msg) {
  std::cerr << "Error: " << msg << "\n";
  return 1;
}

Result<json> call(const std::string& method, const std::string& path, const json& body, int* status = nullptr) {
  auto r = Client::from_env().request(method, path, body.is_null() ? "" : body.dump());
  if (!r.ok()) {
    if (r.error().code() != ErrorCode::kIo) return r.error();
    return make_error(ErrorCode::kIo, "{} (or pass --models DIR to work on a model store offline)", r.error().message());
  }
  if (status) *status = r->status;
  if (r->status >= 300) return Error(r->status == 404 ? ErrorCode::kNotFound : ErrorCode::kInternal, server_error(*r));
  if (r->body.empty()) return json::object();
  auto j = json::parse(r->body, nullptr, false);
  if (j.is_discarded()) return make_error(ErrorCode::kInternal, "the server sent invalid JSON");
  return j;
}

}  // namespace

bool use_server(const std::string& models_dir) { return models_dir.empty(); }

Result<std::vector<ListedModel>> remote_list() {
  ASSIGN_OR_RETURN(json j, call("GET", "/api/tags", nullptr));
  std::vector<ListedModel> out;
  if (!j["models"].is_array()) return make_error(ErrorCode::kInternal, "the server's /api/tags has no models list");
  for (auto& m : j["models"]) {
    if (!m.is_object()) continue;
    ListedModel l{m.value("name", ""), m.value("digest", ""), m.value("size", uint64_t(0)), {}};
    if (auto t = parse_rfc3339(m.value("modified_at", ""))) l.modified_at = *t;
    out.push_back(std::move(l));
  }
  return out;
}

int remote_show(const std::string& name, const std::string& field, bool verbose) {
  auto j = call("POST", "/api/show", json{{"model", name}, {"verbose", verbose}});
  if (!j.ok()) return fail(j.error().message());
  if (!field.empty()) {
    std::string key = field == "template" ? "template" : field;
    std::cout << j->value(key, "") << (field == "modelfile" ? "" : "\n");
    return 0;
  }
  const json& d = (*j)["details"];
  std::cout << "  Model\n";
  std::printf("    %-20s%s\n", "architecture", d.value("family", "").c_str());
  std::printf("    %-20s%s\n", "parameters", d.value("parameter_size", "").c_str());
  std::string arch = j->value("model_info", json::object()).value("general.architecture", "");
  const json& mi = (*j)["model_info"];
  if (mi.contains(arch + ".context_length")) std::printf("    %-20s%s\n", "context length", mi[arch + ".context_length"].dump().c_str());
  if (mi.contains(arch + ".embedding_length")) std::printf("    %-20s%s\n", "embedding length", mi[arch + ".embedding_length"].dump().c_str());
  std::printf("    %-20s%s\n\n", "quantization", d.value("quantization_level", "").c_str());
  if (j->contains("capabilities")) {
    std::cout << "  Capabilities\n";
    for (auto& c : (*j)["capabilities"]) std::cout << "    " << c.get<std::string>() << "\n";
    std::cout << "\n";
  }
  if (j->contains("parameters")) std::cout << "  Parameters\n    " << j->value("parameters", "") << "\n\n";
  if (j->contains("system")) std::cout << "  System\n    " << j->value("system", "") << "\n\n";
  return 0;
}

int remote_cp(const std::string& src, const std::string& dst) {
  auto j = call("POST", "/api/copy", json{{"source", src}, {"destination", dst}});
  if (!j.ok()) return fail(j.error().message());
  std::cout << "copied '" << src << "' to '" << dst << "'\n";
  return 0;
}

int remote_rm(const std::vector<std::string>& names) {
  for (auto& n : names) {
    auto j = call("DELETE", "/api/delete", json{{"model", n}});
    if (!j.ok()) return fail(j.error().message());
    std::cout << "deleted '" << n << "'\n";
  }
  return 0;
}

namespace {

// Uploads a local file as a blob unless the server has it; returns "sha256:<hex>".
Result<std::string> upload(const std::string& path) {
  std::cerr << "gathering model components\n";
  ASSIGN_OR_RETURN(std::string hex, sha256_file_hex(path));
  std::string digest = "sha256:" + hex;
  int status = 0;
  auto head = Client::from_env().request("HEAD", "/api/blobs/" + digest);
  if (!head.ok()) return head.error();
  status = head->status;
  if (status == 200) return digest;
  ASSIGN_OR_RETURN(std::string bytes, read_file(path, size_t(64) << 30));
  std::cerr << "copying file " << digest << " (" << human_bytes(bytes.size()) << ")\n";
  auto r = Client::from_env().request("POST", "/api/blobs/" + digest, bytes);
  if (!r.ok()) return r.error();
  if (r->status != 201 && r->status != 200) return make_error(ErrorCode::kInternal, "{}", server_error(*r));
  return digest;
}

bool is_local_file(const std::string& p) {
  FILE* f = std::fopen(p.c_str(), "rb");
  if (!f) return false;
  std::fclose(f);
  return true;
}

}  // namespace

int remote_create(const std::string& name, const std::string& file) {
  std::string path = file.empty() ? "Modelfile" : file;
  auto text = read_file(path, store::kMaxModelfileBytes);
  if (!text.ok()) return fail(text.error().message());
  auto mf = store::Modelfile::parse(*text);
  if (!mf.ok()) return fail(mf.error().message());
  auto slash = path.find_last_of('/');
  std::string base = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
  auto resolve = [&](const std::string& v) {
    if (v == "~" || v.rfind("~/", 0) == 0) {
      const char* home = std::getenv("HOME");
      return std::string(home ? home : "") + v.substr(1);
    }
    return !v.empty() && v[0] == '/' ? v : base + "/" + v;
  };
  json req{{"model", name}, {"stream", true}};
  std::vector<std::pair<std::string, std::string>> params;
  json licenses = json::array(), messages = json::array(), adapters = json::object();
  for (auto& c : mf->commands) {
    if (c.name == "from") {
      std::string p = resolve(c.value);
      if (c.value.rfind("sha256", 0) != 0 && is_local_file(p)) {
        auto d = upload(p);
        if (!d.ok()) return fail(d.error().message());
        std::string fname = p.substr(p.find_last_of('/') + 1);
        if (fname.size() < 5 || fname.substr(fname.size() - 5) != ".gguf") fname += ".gguf";
        req["files"] = json{{fname, *d}};
      } else {
        req["from"] = c.value;
      }
    } else if (c.name == "adapter") {
      auto d = upload(resolve(c.value));
      if (!d.ok()) return fail(d.error().message());
      adapters[c.value.substr(c.value.find_last_of('/') + 1)] = *d;
    } else if (c.name == "parameter") {
      params.emplace_back(c.key, c.value);
    } else if (c.name == "template" || c.name == "system") {
      req[c.name] = c.value;
    } else if (c.name == "license") {
      licenses.push_back(c.value);
    } else if (c.name == "message") {
      messages.push_back(json{{"role", c.key}, {"content", c.value}});
    }
  }
  if (!params.empty()) {
    auto p = store::parameters_to_json(params);
    if (!p.ok()) return fail(p.error().message());
    req["parameters"] = *p;
  }
  if (!licenses.empty()) req["license"] = licenses;
  if (!messages.empty()) req["messages"] = messages;
  if (!adapters.empty()) req["adapters"] = adapters;
  Progress prog;
  auto st = Client::from_env().stream("/api/create", req, [&](const json& line) {
    prog.update(line);
    return true;
  });
  prog.finish();
  if (!st.ok()) return fail(st.error().message());
  return 0;
}

}  // namespace paddock::cli
