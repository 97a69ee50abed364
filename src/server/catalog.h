// catalog: the server's view of the model store (names, manifests, blobs) — the store module
// behind a small interface, so the API layer and the manager need nothing else from it.
#pragma once
#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/http.h"
#include "server/manager.h"
#include "util/status.h"

namespace paddock::server {

struct CatalogEntry {
  std::string name;  // display form ("llama3.2:latest")
  uint64_t size = 0;
  std::string digest;  // hex sha256 of the manifest
  int64_t modified_unix_ns = 0;
  nlohmann::json details = nlohmann::json::object();
};

struct Resolved {
  ModelRef ref;
  std::string template_text;  // Ollama TEMPLATE layer ("" = use the GGUF chat template)
  std::string chat_template;  // the GGUF's tokenizer.chat_template ("" if none)
  std::string system;
  nlohmann::json params = nlohmann::json::object();   // default options from the params layer
  nlohmann::json messages = nlohmann::json::array();  // MESSAGE history
  std::vector<std::string> capabilities;
  int64_t modified_unix_ns = 0;

  // True when `cap` is among the capabilities (as /api/show lists them).
  bool has_capability(std::string_view cap) const {
    return std::find(capabilities.begin(), capabilities.end(), cap) != capabilities.end();
  }
};

// A blob upload in progress: a BodySink whose open() creates the temp file (after the free-space
// check), write() hashes and writes what arrives, and commit() verifies the digest and moves the
// blob into place; all of them block on the disk, so never on an I/O thread.
class BlobUpload : public BodySink {
 public:
  virtual Status commit() = 0;
};

class Catalog {
 public:
  virtual ~Catalog() = default;
  // Checks a name against the grammar without touching the filesystem (kInvalidArgument).
  virtual Status validate_name(const std::string& name) const = 0;
  // The store's directory (real path; "" without one): only to keep it out of error messages.
  virtual std::string root() const = 0;
  virtual Result<std::vector<CatalogEntry>> list() const = 0;
  // kNotFound when absent. num_ctx/num_parallel feed the memory estimate.
  virtual Result<Resolved> resolve(const std::string& name, int num_ctx, int num_parallel) const = 0;
  virtual Result<nlohmann::json> show(const std::string& name, bool verbose) const = 0;
  virtual Status copy(const std::string& src, const std::string& dst) = 0;
  virtual Status remove(const std::string& name) = 0;
  virtual Result<bool> has_blob(const std::string& digest) const = 0;
  // A streamed blob upload: the digest and `expected_size` (0 = unknown) against the size cap are
  // checked here, without touching the file system (an I/O thread may call it); the free disk
  // space when it opens. Destroying it uncommitted leaves nothing.
  virtual Result<std::shared_ptr<BlobUpload>> begin_blob(const std::string& digest, uint64_t expected_size) = 0;
  // POST /api/create: `req` is the request body; status lines go to `progress`. `cancelled` is
  // polled between steps (kCancelled, and no manifest written, once it returns true).
  virtual Status create(const nlohmann::json& req, const std::function<void(const nlohmann::json&)>& progress,
                        const std::function<bool()>& cancelled = {}) = 0;
};

// The store-backed catalog; kUnsupported if this build has no store module. `max_blob`: the
// largest blob an upload may write.
Result<std::unique_ptr<Catalog>> open_catalog(const std::string& root, uint64_t max_blob);

}  // namespace paddock::server
