// store: the public header — model names, manifests and blobs in Ollama's on-disk layout
// (`manifests/<host>/<namespace>/<model>/<tag>`, `blobs/sha256-<hex>`), Modelfiles, and the
// list / show / copy / delete / create operations used by the CLI and the server's /api routes.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/status.h"

namespace paddock::store {

// ---------------------------------------------------------------------------------------------
// Names: `[host/][namespace/]model[:tag]`, defaults registry.ollama.ai / library / latest.
// Every part is checked against Ollama's grammar before any filesystem call: host 1-350 chars
// `[A-Za-z0-9_][A-Za-z0-9_.:-]*`, namespace 1-80 `[A-Za-z0-9_][A-Za-z0-9_-]*`, model and tag
// 1-80 `[A-Za-z0-9_][A-Za-z0-9_.-]*`; no `..` anywhere. Comparison is ASCII case-insensitive.

inline constexpr std::string_view kDefaultHost = "registry.ollama.ai";
inline constexpr std::string_view kDefaultNamespace = "library";
inline constexpr std::string_view kDefaultTag = "latest";
inline constexpr size_t kMaxNameLength = 600;  // whole string, before splitting

struct Name {
  std::string host;
  std::string ns;
  std::string model;
  std::string tag;

  // Parses and validates; missing parts get the defaults. kInvalidArgument on any bad input.
  static Result<Name> parse(std::string_view s);
  // "host/ns/model:tag".
  std::string full() const;
  // Ollama's short display form: default host and namespace dropped ("llama3.2:latest",
  // "me/mine:v1", "example.com:5000/ns/m:t").
  std::string display() const;
  bool equal_fold(const Name& o) const;
  // Path components under the store root: {"manifests", host, ns, model, tag}.
  std::vector<std::string> manifest_components() const;
};

// Validates one part; used by parse and when reading names back from manifest paths.
enum class NamePart { kHost, kNamespace, kModel, kTag };
bool is_valid_name_part(NamePart kind, std::string_view s);

// Digests: canonical form "sha256:<64 lowercase hex>". `accept_dash` also accepts the blob file
// form "sha256-<hex>" (as Ollama does for blob names). Returns the canonical form.
Result<std::string> parse_digest(std::string_view s, bool accept_dash = false);
// "sha256:<hex>" -> "sha256-<hex>" (the blob file name). `digest` must be canonical.
std::string blob_file_name(std::string_view digest);

// ---------------------------------------------------------------------------------------------
// Manifests (Docker/OCI image manifest v2 with Ollama's media types) and the config blob.

inline constexpr std::string_view kManifestMediaType = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kOciManifestMediaType = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kConfigMediaType = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kMediaModel = "application/vnd.ollama.image.model";
inline constexpr std::string_view kMediaTemplate = "application/vnd.ollama.image.template";
inline constexpr std::string_view kMediaPrompt = "application/vnd.ollama.image.prompt";  // legacy template
inline constexpr std::string_view kMediaSystem = "application/vnd.ollama.image.system";
inline constexpr std::string_view kMediaParams = "application/vnd.ollama.image.params";
inline constexpr std::string_view kMediaMessages = "application/vnd.ollama.image.messages";
inline constexpr std::string_view kMediaLicense = "application/vnd.ollama.image.license";
inline constexpr std::string_view kMediaAdapter = "application/vnd.ollama.image.adapter";
inline constexpr std::string_view kMediaProjector = "application/vnd.ollama.image.projector";

// What every reader of the store accepts (list, show, copy, the server); larger files are refused
// as corrupt. Create checks a new model against the same limits before it writes anything, so it
// never makes a model that cannot be read back.
inline constexpr size_t kMaxManifestBytes = 4u << 20;
inline constexpr size_t kMaxConfigBytes = 1u << 20;
inline constexpr size_t kMaxLayers = 4096;               // layers in one manifest
inline constexpr size_t kMaxTextLayerBytes = 16u << 20;  // template, system, license, params, messages

struct Layer {
  std::string media_type;
  std::string digest;  // canonical "sha256:<hex>"
  uint64_t size = 0;
  std::string from;  // optional
  std::string name;  // optional
};

struct Manifest {
  int schema_version = 2;
  std::string media_type{kManifestMediaType};
  Layer config;
  std::vector<Layer> layers;

  // Validates schema, media types and every digest; kCorrupt on anything malformed.
  static Result<Manifest> parse(std::string_view json);
  // Byte-compatible with Go's json.Encoder as Ollama writes it (trailing newline, `<>&` escaped).
  std::string serialize() const;
  uint64_t total_size() const;  // layers + config
  const Layer* find(std::string_view media_type) const;
};

// Ollama's ConfigV2 (types/model/config.go), the fields we read and write.
struct Config {
  std::string model_format;
  std::string model_family;
  std::vector<std::string> model_families;
  bool families_null = false;  // Go wrote `null` for a nil slice
  std::string model_type;      // parameter size, e.g. "1.2B"
  std::string file_type;       // quantization level, e.g. "Q4_K_M"
  std::string renderer, parser, requires_version;
  uint64_t context_length = 0, embedding_length = 0;
  std::string base_name;
  std::vector<std::string> capabilities;
  std::string architecture = "amd64";
  std::string os = "linux";
  std::vector<std::string> diff_ids;  // rootfs.diff_ids

  static Result<Config> parse(std::string_view json);
  std::string serialize() const;
};

// "1.2B", "135M", "8B": Ollama's human parameter count.
std::string human_parameter_count(uint64_t n);

// ---------------------------------------------------------------------------------------------
// Modelfile.

inline constexpr size_t kMaxModelfileBytes = 4u << 20;
inline constexpr size_t kMaxModelfileLine = 256u << 10;

struct ModelfileCommand {
  std::string name;  // lower-case instruction: from, parameter, template, system, adapter,
                     // license, message, requires, renderer, parser
  std::string key;   // PARAMETER name or MESSAGE role
  std::string value;
  int line = 0;  // 1-based line of the instruction
};

struct Modelfile {
  std::vector<ModelfileCommand> commands;
  static Result<Modelfile> parse(std::string_view text);
};

// Parses PARAMETER values into the typed JSON object of the params layer (ints, floats, bools,
// strings; repeated `stop` accumulates into an array). kInvalidArgument naming the key.
Result<nlohmann::json> parameters_to_json(const std::vector<std::pair<std::string, std::string>>& params);

// ---------------------------------------------------------------------------------------------
// The store.

struct ModelDetails {
  std::string parent_model;
  std::string format;
  std::string family;
  std::vector<std::string> families;
  bool families_null = false;
  std::string parameter_size;
  std::string quantization_level;
  uint64_t context_length = 0;
  uint64_t embedding_length = 0;
  nlohmann::json to_json() const;
};

// RFC 3339 with nanoseconds and the local UTC offset, as Go marshals a time.Time
// ("2024-05-17T13:52:19.484416468-07:00").
std::string format_time(std::chrono::system_clock::time_point t);

struct ModelEntry {
  Name name;
  std::string display_name;  // Name::display()
  uint64_t size = 0;         // layers + config
  std::string digest;        // hex sha256 of the manifest file bytes (no prefix)
  std::chrono::system_clock::time_point modified_at;
  ModelDetails details;
  Manifest manifest;
  nlohmann::json to_json() const;  // one /api/tags entry: name, model, modified_at, size, digest, details
};

struct TensorEntry {
  std::string name;
  std::string type;  // "Q4_K", "F32", ...
  std::vector<int64_t> shape;
};

struct ShowResult {
  ModelEntry entry;
  std::string license;      // license layers joined by "\n"
  std::vector<std::string> licenses;
  std::string modelfile;    // like `ollama show --modelfile`
  std::string parameters;   // like `ollama show --parameters`
  nlohmann::json params = nlohmann::json::object();
  std::string template_text;
  std::string system;
  nlohmann::json messages = nlohmann::json::array();
  nlohmann::json model_info = nlohmann::json::object();  // GGUF metadata
  std::vector<TensorEntry> tensors;
  std::vector<std::string> capabilities;
  std::string model_path;  // blob path of the weights
  nlohmann::json to_json() const;  // the /api/show response body
};

struct ShowOptions {
  bool verbose = false;  // include large arrays (tokenizer tokens, ...) in model_info
};

struct StoreOptions {
  // Blobs modified more recently than this are never garbage collected (an in-flight create or
  // pull on another node may be about to reference them).
  std::chrono::seconds gc_grace{3600};
  uint64_t max_blob_bytes = 1ull << 40;  // cap on a single blob write
};

// Progress callback for long copies: (bytes done, bytes total).
using ProgressFn = std::function<void(uint64_t, uint64_t)>;

struct CreateOptions {
  // Directory relative FROM/ADAPTER paths are resolved against.
  std::string base_dir = ".";
  // Offline CLI: FROM may name a local GGUF file. The server passes false: only blob digests
  // and model names are accepted.
  bool allow_paths = true;
  ProgressFn progress;
  std::function<void(const std::string&)> status;  // "creating new layer sha256:…", ...
  // Polled between steps; true stops the create with kCancelled before the manifest is written
  // (a server shutting down), so no partial model appears.
  std::function<bool()> cancelled;
};

// An upload in progress: bytes go to a temp file in blobs/ (".tmp-sha256-<hex>-<random>") while
// they are hashed. commit() checks the digest, fsyncs and renames into place; destroying an
// uncommitted writer (error, disconnect, shutdown) removes the temp file. Memory use is constant.
class BlobWriter {
 public:
  ~BlobWriter();
  BlobWriter(const BlobWriter&) = delete;
  BlobWriter& operator=(const BlobWriter&) = delete;
  // kResourceExhausted past the store's max_blob_bytes; kIo on a write error. After an error the
  // writer is spent (its temp file is gone).
  Status write(std::string_view data);
  // kInvalidArgument on a digest mismatch (nothing is left behind).
  Status commit();
  uint64_t bytes_written() const { return total_; }
  const std::string& digest() const { return digest_; }

 private:
  friend class Store;
  BlobWriter() = default;
  void discard();
  int dir_fd_ = -1;
  int fd_ = -1;
  std::string tmp_, final_, digest_;
  struct Hasher;
  std::unique_ptr<Hasher> hash_;
  uint64_t total_ = 0, max_ = 0;
  bool done_ = false;
};

// What Store::list() parsed, remembered by each manifest file's identity (device, inode, size,
// modification and change times), so that a list on shared storage re-reads only the manifests
// that changed: one stat per manifest instead of reading it and its config blob. A file changed
// less than `settle` ago is not remembered (time stamps are coarse: a rewrite in place within
// the same tick could keep them all). Safe to share between threads.
class ListCache {
 public:
  explicit ListCache(std::chrono::milliseconds settle = std::chrono::seconds(2));
  ~ListCache();
  ListCache(const ListCache&) = delete;
  ListCache& operator=(const ListCache&) = delete;
  size_t size() const;

 private:
  friend class Store;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class Store {
 public:
  // Opens (and with `create`, creates) the store at `root`: blobs/ and manifests/ directories.
  static Result<Store> open(const std::string& root, bool create = true, StoreOptions opts = {});
  const std::string& root() const { return root_; }

  // All valid manifests, most recently modified first. Invalid entries are skipped with a warning.
  // With `cache`, unchanged manifests come from it (and it is updated).
  Result<std::vector<ModelEntry>> list(ListCache* cache = nullptr) const;
  // The entry for one name (case-insensitive match). kNotFound when absent.
  Result<ModelEntry> get(std::string_view name) const;
  Result<ShowResult> show(std::string_view name, const ShowOptions& opts = {}) const;
  Status copy(std::string_view src, std::string_view dst);
  // Removes the manifest, then the blobs no other manifest references (older than gc_grace),
  // then empty manifest directories.
  Status remove(std::string_view name);
  // Whole-store GC: unreferenced blobs and stray temp files older than gc_grace, empty dirs.
  Result<uint64_t> prune();

  // Blobs. `digest` in either "sha256:" or "sha256-" form.
  Result<bool> has_blob(std::string_view digest) const;
  Result<std::string> blob_path(std::string_view digest) const;
  // Streams from `read(buf, n) -> bytes read (0 at end, <0 error)` into a temp file while
  // hashing; verifies against `digest`, fsyncs and renames. Reuses an existing blob.
  Status write_blob(std::string_view digest, const std::function<int64_t(char*, size_t)>& read);
  // Starts a streamed blob write (see BlobWriter). `expected_size` (0 = unknown) is checked up
  // front against max_blob_bytes (kResourceExhausted) and the free space of the file system
  // (kResourceExhausted "not enough disk space").
  Result<std::unique_ptr<BlobWriter>> begin_blob(std::string_view digest, uint64_t expected_size = 0);
  uint64_t max_blob_bytes() const { return opts_.max_blob_bytes; }
  // Copies a local file into a blob, returning its digest (progress reported as it copies).
  Result<std::string> import_file(const std::string& path, const ProgressFn& progress = {});
  Result<std::string> write_blob_bytes(std::string_view data);
  Result<std::string> read_blob(std::string_view digest, size_t max_bytes) const;

  Result<Manifest> read_manifest(const Name& name) const;
  Status write_manifest(const Name& name, const Manifest& m);

  // Create `name` from a parsed Modelfile.
  Status create(std::string_view name, const Modelfile& mf, const CreateOptions& opts = {});

 private:
  Store() = default;
  struct Found {
    Name name;  // as stored on disk
    std::string bytes;
    std::chrono::system_clock::time_point mtime;
  };
  // `read_bytes` false: locate only (Found::bytes stays empty).
  Result<Found> find_manifest(const Name& name, bool read_bytes = true) const;
  Result<ModelEntry> entry_from(const Found& f) const;
  Status touch_blob(std::string_view digest) const;

  std::string root_;
  StoreOptions opts_;
};

}  // namespace paddock::store
