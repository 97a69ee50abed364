// catalog_store: the Catalog over the store module — names and manifests in Ollama's layout,
// /api/create requests turned into Modelfile commands (blob digests and model names only: the
// server never opens a path a client names).
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "server/api_common.h"
#include "server/catalog.h"
#include "store/store.h"

namespace paddock::server {
namespace {

int64_t to_unix_ns(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

std::string param_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  return v.dump();
}

// The store's blob writer behind a BlobUpload. Made on an I/O thread, so it touches no file until
// open() (a sink writer thread): the temp file, the free-space check.
class StoreBlobUpload : public BlobUpload {
 public:
  StoreBlobUpload(store::Store s, std::string digest, uint64_t expected_size)
      : store_(std::move(s)), digest_(std::move(digest)), expected_(expected_size) {}
  Status open() override {
    if (w_) return Status::Ok();
    auto w = store_.begin_blob(digest_, expected_);
    if (!w.ok()) {
      status_ = status_for(w.error());
      return w.error();
    }
    w_ = std::move(w).value();
    return Status::Ok();
  }
  Status write(std::string_view bytes) override {
    RETURN_IF_ERROR(open());
    Status st = w_->write(bytes);
    if (!st.ok()) status_ = status_for(st.error());
    return st;
  }
  int error_status() const override { return status_; }
  Status commit() override {
    RETURN_IF_ERROR(open());  // an empty body was never written
    return w_->commit();
  }

 private:
  static int status_for(const Error& e) {
    switch (e.code()) {
      case ErrorCode::kResourceExhausted: return e.message().find("disk space") != std::string::npos ? 507 : 413;
      case ErrorCode::kInvalidArgument: return 400;
      default: return 500;
    }
  }
  store::Store store_;
  std::string digest_;
  uint64_t expected_;
  std::unique_ptr<store::BlobWriter> w_;
  int status_ = 500;
};

class StoreCatalog : public Catalog {
 public:
  explicit StoreCatalog(store::Store s) : store_(std::move(s)) {}

 private:
  struct FileKey {
    int64_t mtime_ns = 0, ctime_ns = 0;
    uint64_t size = 0, ino = 0, dev = 0;
    bool operator==(const FileKey&) const = default;
  };
  struct Cached {
    std::string path;  // the manifest file
    FileKey key;
    Resolved resolved;  // mem_estimate left for with_context
    uint64_t weights = 0;
    json model_info;
  };
  static constexpr size_t kMaxCached = 1024;

  static std::optional<FileKey> file_key(const std::string& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
    FileKey k;
    k.mtime_ns = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    k.ctime_ns = int64_t(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
    k.size = uint64_t(st.st_size);
    k.ino = uint64_t(st.st_ino);
    k.dev = uint64_t(st.st_dev);
    return k;
  }
  static std::string lower(std::string s) {
    for (char& ch : s) ch = char(std::tolower((unsigned char)ch));
    return s;
  }
  std::string manifest_path(const store::Name& n) const {
    std::string p = store_.root();
    for (auto& c : n.manifest_components()) p += "/" + c;
    return p;
  }
  static Result<Resolved> with_context(const Cached& c, int num_ctx, int num_parallel) {
    Resolved r = c.resolved;
    r.ref.mem_estimate = estimate_memory(c.weights, c.model_info, num_ctx, num_parallel);
    return r;
  }

 public:
  Status validate_name(const std::string& name) const override {
    auto n = store::Name::parse(name);
    if (!n.ok()) return n.error();
    return Status::Ok();
  }

  std::string root() const override { return store_.root(); }

  // The catalogue (/api/tags, /v1/models) from the store's list cache: one stat per manifest, and
  // only manifests that changed (on this node or another) are read again.
  Result<std::vector<CatalogEntry>> list() const override {
    ASSIGN_OR_RETURN(auto entries, store_.list(&list_cache_));
    std::vector<CatalogEntry> out;
    for (auto& e : entries) {
      CatalogEntry c;
      c.name = e.display_name;
      c.size = e.size;
      c.digest = e.digest;
      c.modified_unix_ns = to_unix_ns(e.modified_at);
      c.details = e.details.to_json();
      out.push_back(std::move(c));
    }
    return out;
  }

  // Resolution is cached per name and checked against the manifest file on every use (one stat):
  // the store is shared storage that other nodes write (always by an atomic rename, so a change
  // shows as a new inode, mtime or size), and reading the manifest, config, text layers and GGUF
  // metadata again for every request is what made a burst of requests slow.
  Result<Resolved> resolve(const std::string& name, int num_ctx, int num_parallel) const override {
    ASSIGN_OR_RETURN(auto n, store::Name::parse(name));
    std::string key = lower(n.full());
    std::shared_ptr<const Cached> c;
    {
      std::lock_guard lk(cache_mu_);
      if (auto it = cache_.find(key); it != cache_.end()) c = it->second;
    }
    if (c && file_key(c->path) == c->key) return with_context(*c, num_ctx, num_parallel);
    // (Re)load. The key is taken before and after reading, and the entry kept only when they agree,
    // so a manifest replaced while it was read is never cached under the new file's key.
    std::string path = c ? c->path : manifest_path(n);
    for (int attempt = 0; attempt < 3; ++attempt) {
      auto before = file_key(path);
      auto loaded = load(name, num_ctx, num_parallel);
      if (!loaded.ok()) {
        std::lock_guard lk(cache_mu_);
        cache_.erase(key);
        return loaded.error();
      }
      auto fresh = std::make_shared<Cached>(std::move(loaded).value());
      if (fresh->path == path && before && file_key(path) == before) {
        fresh->key = *before;
        std::lock_guard lk(cache_mu_);
        if (cache_.size() >= kMaxCached) cache_.clear();
        cache_[key] = fresh;
        return with_context(*fresh, num_ctx, num_parallel);
      }
      if (attempt == 2) return with_context(*fresh, num_ctx, num_parallel);  // changing under us: uncached
      path = fresh->path;
    }
    return make_error(ErrorCode::kInternal, "unreachable");
  }

  Result<Cached> load(const std::string& name, int num_ctx, int num_parallel) const {
    ASSIGN_OR_RETURN(auto show, store_.show(name));
    if (show.model_path.empty())
      return make_error(ErrorCode::kInvalidArgument, "model \"{}\" has no GGUF weights layer", name);
    Resolved r;
    r.ref.name = show.entry.display_name;
    r.ref.model_path = show.model_path;
    r.ref.digest = show.entry.digest;
    r.ref.size = show.entry.size;
    r.ref.details = show.entry.details.to_json();
    struct stat st {};
    uint64_t weights = ::stat(show.model_path.c_str(), &st) == 0 ? uint64_t(st.st_size) : show.entry.size;
    (void)num_ctx, (void)num_parallel;  // the estimate is made per request (with_context)
    std::string arch = show.model_info.value("general.architecture", "");
    if (auto c = show.model_info.find(arch + ".context_length"); c != show.model_info.end() && c->is_number_integer())
      r.ref.ctx_train = int(std::clamp<int64_t>(c->get<int64_t>(), 0, kMaxNumCtx));
    bool completion = false, embedding = false;
    for (auto& c : show.capabilities) {
      if (c == "completion") completion = true;
      if (c == "embedding") embedding = true;
    }
    r.ref.embedding = embedding && !completion;
    r.template_text = show.template_text;
    if (auto ct = show.model_info.find("tokenizer.chat_template"); ct != show.model_info.end() && ct->is_string())
      r.chat_template = ct->get<std::string>();
    r.system = show.system;
    r.params = show.params.is_object() ? show.params : json::object();
    r.messages = show.messages.is_array() ? show.messages : json::array();
    r.capabilities = show.capabilities;
    r.modified_unix_ns = to_unix_ns(show.entry.modified_at);
    Cached c;
    c.path = manifest_path(show.entry.name);
    c.resolved = std::move(r);
    c.weights = weights;
    c.model_info = std::move(show.model_info);
    return c;
  }

  Result<json> show(const std::string& name, bool verbose) const override {
    store::ShowOptions o;
    o.verbose = verbose;
    ASSIGN_OR_RETURN(auto s, store_.show(name, o));
    json j = s.to_json();
    if (j.contains("modified_at_ns")) {
      j["modified_at"] = rfc3339_ns(j["modified_at_ns"].get<int64_t>());
      j.erase("modified_at_ns");
    }
    return j;
  }

  Status copy(const std::string& src, const std::string& dst) override {
    std::lock_guard lk(write_mu_);
    return store_.copy(src, dst);
  }
  Status remove(const std::string& name) override {
    std::lock_guard lk(write_mu_);
    return store_.remove(name);
  }
  Result<bool> has_blob(const std::string& digest) const override { return store_.has_blob(digest); }

  Result<std::shared_ptr<BlobUpload>> begin_blob(const std::string& digest, uint64_t expected_size) override {
    ASSIGN_OR_RETURN(std::string d, store::parse_digest(digest, true));
    if (expected_size > store_.max_blob_bytes())
      return make_error(ErrorCode::kResourceExhausted, "blob of {} bytes is larger than the maximum blob size ({} bytes)",
                        expected_size, store_.max_blob_bytes());
    return std::shared_ptr<BlobUpload>(new StoreBlobUpload(store_, std::move(d), expected_size));
  }

  Status create(const json& req, const std::function<void(const json&)>& progress,
                const std::function<bool()>& cancelled) override {
    std::string name;
    for (const char* k : {"model", "name"})
      if (req.contains(k) && req[k].is_string() && !req[k].get_ref<const std::string&>().empty()) {
        name = req[k].get<std::string>();
        break;
      }
    if (name.empty()) return make_error(ErrorCode::kInvalidArgument, "model is required");
    if (auto q = req.find("quantize"); q != req.end() && !q->is_null()) {
      // A known type is valid but not done here yet (501); anything else is the client's error (400).
      static const char* kTypes[] = {"q4_0",   "q4_1",   "q5_0",   "q5_1",   "q8_0",   "q2_k",   "q3_k_s",
                                     "q3_k_m", "q3_k_l", "q4_k_s", "q4_k_m", "q5_k_s", "q5_k_m", "q6_k",
                                     "f16",    "f32",    "bf16",   "q3_k",   "q4_k",   "q5_k"};
      if (!q->is_string())
        return make_error(ErrorCode::kInvalidArgument, "invalid value for 'quantize': expected string");
      std::string t = lower(q->get<std::string>());
      if (std::find(std::begin(kTypes), std::end(kTypes), t) == std::end(kTypes))
        return make_error(ErrorCode::kInvalidArgument, "unsupported quantization type '{}'",
                          q->get<std::string>().substr(0, 64));
      return make_error(ErrorCode::kUnsupported, "quantize is not supported by the server yet; use `paddock quantize`");
    }
    store::Modelfile mf;
    int line = 0;
    auto add = [&](std::string cmd, std::string key, std::string value) {
      mf.commands.push_back(store::ModelfileCommand{std::move(cmd), std::move(key), std::move(value), ++line});
    };
    auto str = [&](const char* k) -> Result<std::optional<std::string>> { return opt_string(req, k); };
    ASSIGN_OR_RETURN(auto from, str("from"));
    std::string from_value;
    if (auto f = req.find("files"); f != req.end() && !f->is_null()) {
      if (!f->is_object()) return make_error(ErrorCode::kInvalidArgument, "invalid value for 'files': expected object");
      for (auto& [fname, digest] : f->items()) {
        if (!digest.is_string()) return make_error(ErrorCode::kInvalidArgument, "invalid digest for file '{}'", fname);
        if (fname.size() < 5 || fname.substr(fname.size() - 5) != ".gguf")
          return make_error(ErrorCode::kUnsupported, "only GGUF files are supported ('{}')", fname);
        if (!from_value.empty()) return make_error(ErrorCode::kInvalidArgument, "more than one GGUF file in 'files'");
        from_value = digest.get<std::string>();
      }
    }
    if (from_value.empty() && from) from_value = *from;
    if (from_value.empty()) return make_error(ErrorCode::kInvalidArgument, "neither 'from' nor 'files' was specified");
    add("from", "", from_value);
    if (auto a = req.find("adapters"); a != req.end() && !a->is_null()) {
      if (!a->is_object()) return make_error(ErrorCode::kInvalidArgument, "invalid value for 'adapters'");
      for (auto& [fname, digest] : a->items()) {
        if (!digest.is_string()) return make_error(ErrorCode::kInvalidArgument, "invalid digest for adapter '{}'", fname);
        add("adapter", "", digest.get<std::string>());
      }
    }
    ASSIGN_OR_RETURN(auto tmpl, str("template"));
    if (tmpl) add("template", "", *tmpl);
    ASSIGN_OR_RETURN(auto system, str("system"));
    if (system) add("system", "", *system);
    if (auto l = req.find("license"); l != req.end() && !l->is_null()) {
      if (l->is_string()) add("license", "", l->get<std::string>());
      else if (l->is_array()) {
        for (auto& x : *l) {
          if (!x.is_string()) return make_error(ErrorCode::kInvalidArgument, "invalid value for 'license'");
          add("license", "", x.get<std::string>());
        }
      } else {
        return make_error(ErrorCode::kInvalidArgument, "invalid value for 'license'");
      }
    }
    if (auto p = req.find("parameters"); p != req.end() && !p->is_null()) {
      if (!p->is_object()) return make_error(ErrorCode::kInvalidArgument, "invalid value for 'parameters': expected object");
      ASSIGN_OR_RETURN(auto checked, parse_options(*p));  // same types and ranges as request options
      (void)checked;
      for (auto& [k, v] : p->items()) {
        if (v.is_array())
          for (auto& x : v) add("parameter", k, param_text(x));
        else
          add("parameter", k, param_text(v));
      }
    }
    if (auto m = req.find("messages"); m != req.end() && !m->is_null()) {
      if (!m->is_array()) return make_error(ErrorCode::kInvalidArgument, "invalid value for 'messages'");
      for (auto& x : *m) {
        if (!x.is_object()) return make_error(ErrorCode::kInvalidArgument, "invalid message");
        ASSIGN_OR_RETURN(auto role, opt_string(x, "role"));
        ASSIGN_OR_RETURN(auto content, opt_string(x, "content"));
        if (!role) return make_error(ErrorCode::kInvalidArgument, "message is missing 'role'");
        add("message", *role, content.value_or(""));
      }
    }
    store::CreateOptions co;
    co.allow_paths = false;
    co.status = [&](const std::string& s) { progress(json{{"status", s}}); };
    co.cancelled = cancelled;
    std::lock_guard lk(write_mu_);
    return store_.create(name, mf, co);
  }

 private:
  store::Store store_;
  mutable std::mutex cache_mu_;
  mutable std::unordered_map<std::string, std::shared_ptr<const Cached>> cache_;  // lower-case full name
  mutable store::ListCache list_cache_;
  std::mutex write_mu_;  // manifest writes in this process one at a time (the store is safe across nodes)
};

}  // namespace

Result<std::unique_ptr<Catalog>> open_catalog(const std::string& root, uint64_t max_blob) {
  store::StoreOptions so;
  so.max_blob_bytes = max_blob;
  ASSIGN_OR_RETURN(auto s, store::Store::open(root, true, so));
  return std::unique_ptr<Catalog>(new StoreCatalog(std::move(s)));
}

}  // namespace paddock::server
