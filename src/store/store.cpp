// The store: opening the root, manifests (find case-insensitively, list, read, write), copy,
// delete with garbage collection, and content-addressed blobs written atomically and verified.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <set>

#include "store/fsutil.h"
#include "store/store.h"
#include "util/log.h"
#include "util/sha256.h"

namespace paddock::store {

using detail::UniqueFd;

namespace {

std::chrono::system_clock::time_point mtime_of(const struct stat& st) {
  auto d = std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec);
  return std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(d));
}

bool older_than(const struct stat& st, std::chrono::seconds grace) {
  return std::chrono::system_clock::now() - mtime_of(st) >= grace;
}

Error not_found(std::string_view name) {
  return make_error(ErrorCode::kNotFound, "model \"{}\" not found", name);
}

}  // namespace

Result<Store> Store::open(const std::string& root, bool create, StoreOptions opts) {
  if (root.empty()) return make_error(ErrorCode::kInvalidArgument, "empty model store path");
  if (create) {
    // mkdir -p of the root itself (the user's choice of location, may contain symlinks).
    std::string acc;
    size_t pos = 0;
    while (pos != std::string::npos) {
      size_t next = root.find('/', pos + 1);
      acc = root.substr(0, next);
      if (!acc.empty()) ::mkdir(acc.c_str(), 0755);
      pos = next;
    }
  }
  char buf[PATH_MAX];
  if (!::realpath(root.c_str(), buf)) {
    return make_error(ErrorCode::kNotFound, "model store {} does not exist", root);
  }
  Store s;
  s.root_ = buf;
  s.opts_ = opts;
  if (create) {
    ASSIGN_OR_RETURN(UniqueFd b, detail::open_dir(s.root_, {"blobs"}, true));
    ASSIGN_OR_RETURN(UniqueFd m, detail::open_dir(s.root_, {"manifests"}, true));
  }
  return s;
}

// ---- manifests --------------------------------------------------------------------------------

Result<Store::Found> Store::find_manifest(const Name& name, bool read_bytes) const {
  // Exact path first; otherwise a case-insensitive match among the existing entries.
  std::vector<std::string> comps = {"manifests"};
  const std::string* parts[4] = {&name.host, &name.ns, &name.model, &name.tag};
  for (int level = 0; level < 4; ++level) {
    auto dir = detail::open_dir(root_, comps, false);
    if (!dir.ok()) return dir.error().code() == ErrorCode::kNotFound ? not_found(name.display()) : dir.error();
    std::string want = *parts[level];
    struct stat st {};
    bool exact = ::fstatat(dir->get(), want.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
    if (!exact) {
      ASSIGN_OR_RETURN(auto entries, detail::list_dir(dir->get()));
      std::sort(entries.begin(), entries.end());
      bool found = false;
      for (const auto& e : entries) {
        if (e.size() == want.size() && strncasecmp(e.c_str(), want.c_str(), e.size()) == 0) {
          want = e;
          found = true;
          break;
        }
      }
      if (!found) return not_found(name.display());
    }
    if (level == 3) {
      Found f;
      f.name = name;
      f.name.host = comps[1];
      f.name.ns = comps[2];
      f.name.model = comps[3];
      f.name.tag = want;
      struct stat fst {};
      if (!read_bytes) {  // located only (delete works on a manifest however malformed)
        if (::fstatat(dir->get(), want.c_str(), &fst, AT_SYMLINK_NOFOLLOW) != 0 || S_ISDIR(fst.st_mode))
          return not_found(name.display());
        f.mtime = mtime_of(fst);
        return f;
      }
      auto bytes = detail::read_at(dir->get(), want, kMaxManifestBytes, &fst);
      if (!bytes.ok()) {
        if (bytes.error().code() == ErrorCode::kNotFound) return not_found(name.display());
        return bytes.error().wrap("manifest of " + name.display());
      }
      f.bytes = std::move(bytes).value();
      f.mtime = mtime_of(fst);
      return f;
    }
    comps.push_back(want);
  }
  return not_found(name.display());
}

Result<ModelEntry> Store::entry_from(const Found& f) const {
  ModelEntry e;
  e.name = f.name;
  e.display_name = f.name.display();
  auto m = Manifest::parse(f.bytes);
  if (!m.ok()) return m.error().wrap("manifest of " + e.display_name);
  e.manifest = std::move(m).value();
  e.size = e.manifest.total_size();
  e.digest = sha256_hex(f.bytes);
  e.modified_at = f.mtime;
  e.details.format = "gguf";
  auto cfg_bytes = read_blob(e.manifest.config.digest, kMaxConfigBytes);
  if (cfg_bytes.ok()) {
    auto cfg = Config::parse(*cfg_bytes);
    if (cfg.ok()) {
      if (!cfg->model_format.empty()) e.details.format = cfg->model_format;
      e.details.family = cfg->model_family;
      e.details.families = cfg->model_families;
      e.details.families_null = cfg->families_null;
      e.details.parameter_size = cfg->model_type;
      e.details.quantization_level = cfg->file_type;
      e.details.context_length = cfg->context_length;
      e.details.embedding_length = cfg->embedding_length;
    } else {
      log::warn("model {}: {}", e.display_name, cfg.error().message());
    }
  } else {
    log::warn("model {}: config blob: {}", e.display_name, cfg_bytes.error().message());
  }
  if (const Layer* l = e.manifest.find(kMediaModel)) e.details.parent_model = l->from;
  return e;
}

// ---- the list cache ---------------------------------------------------------------------------

namespace {

struct FileId {
  uint64_t dev = 0, ino = 0, size = 0;
  int64_t mtime_ns = 0, ctime_ns = 0;
  explicit FileId(const struct stat& st)
      : dev(uint64_t(st.st_dev)),
        ino(uint64_t(st.st_ino)),
        size(uint64_t(st.st_size)),
        mtime_ns(int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec),
        ctime_ns(int64_t(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec) {}
  bool operator==(const FileId&) const = default;
};

}  // namespace

struct ListCache::Impl {
  std::chrono::milliseconds settle;
  mutable std::mutex mu;
  std::map<std::string, std::pair<FileId, ModelEntry>> entries;  // by "host/ns/model/tag" as on disk
  // Changed so recently that a second change in the same time-stamp tick could go unseen.
  bool changed_lately(const FileId& id) const {
    int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
    return std::max(id.mtime_ns, id.ctime_ns) > now - int64_t(settle.count()) * 1000000;
  }
};

ListCache::ListCache(std::chrono::milliseconds settle) : impl_(std::make_unique<Impl>()) { impl_->settle = settle; }
ListCache::~ListCache() = default;

size_t ListCache::size() const {
  std::lock_guard lk(impl_->mu);
  return impl_->entries.size();
}

Result<std::vector<ModelEntry>> Store::list(ListCache* cache) const {
  std::vector<ModelEntry> out;
  std::map<std::string, std::pair<FileId, ModelEntry>> seen;  // the cache's next contents
  auto top = detail::open_dir(root_, {"manifests"}, false);
  if (!top.ok()) {
    if (top.error().code() == ErrorCode::kNotFound) return out;
    return top.error();
  }
  // Exactly four levels: host / namespace / model / tag.
  const NamePart kinds[4] = {NamePart::kHost, NamePart::kNamespace, NamePart::kModel, NamePart::kTag};
  std::function<void(std::vector<std::string>&)> walk = [&](std::vector<std::string>& comps) {
    size_t level = comps.size() - 1;  // comps[0] == "manifests"
    auto dir = detail::open_dir(root_, comps, false);
    if (!dir.ok()) {
      log::warn("skipping manifests/{}: {}", fmt::join(comps.begin() + 1, comps.end(), "/"), dir.error().message());
      return;
    }
    auto entries = detail::list_dir(dir->get());
    if (!entries.ok()) return;
    std::sort(entries->begin(), entries->end());
    for (const auto& e : *entries) {
      if (e.rfind(".tmp-", 0) == 0) continue;  // an in-flight atomic write
      if (!is_valid_name_part(kinds[level], e)) {
        log::warn("skipping invalid manifest path entry {:?}", e.substr(0, 200));
        continue;
      }
      if (level < 3) {
        comps.push_back(e);
        walk(comps);
        comps.pop_back();
        continue;
      }
      Found f;
      f.name = Name{comps[1], comps[2], comps[3], e};
      std::string key = comps[1] + "/" + comps[2] + "/" + comps[3] + "/" + e;
      struct stat st {};
      if (cache && ::fstatat(dir->get(), e.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
        std::lock_guard lk(cache->impl_->mu);
        auto it = cache->impl_->entries.find(key);
        if (it != cache->impl_->entries.end() && it->second.first == FileId(st)) {
          out.push_back(it->second.second);
          seen.emplace(key, it->second);
          continue;
        }
      }
      auto bytes = detail::read_at(dir->get(), e, kMaxManifestBytes, &st);
      if (!bytes.ok()) {
        log::warn("skipping manifest {}: {}", f.name.display(), bytes.error().message());
        continue;
      }
      f.bytes = std::move(bytes).value();
      f.mtime = mtime_of(st);
      auto entry = entry_from(f);
      if (!entry.ok()) {
        log::warn("skipping {}", entry.error().message());
        continue;
      }
      // `st` is the file that was read (fstat of the open descriptor).
      if (cache && !cache->impl_->changed_lately(FileId(st))) seen.emplace(key, std::make_pair(FileId(st), *entry));
      out.push_back(std::move(entry).value());
    }
  };
  std::vector<std::string> comps = {"manifests"};
  walk(comps);
  if (cache) {
    std::lock_guard lk(cache->impl_->mu);
    cache->impl_->entries.swap(seen);  // manifests gone from the store leave the cache too
  }
  std::stable_sort(out.begin(), out.end(), [](const ModelEntry& a, const ModelEntry& b) {
    return a.modified_at > b.modified_at;
  });
  return out;
}

Result<ModelEntry> Store::get(std::string_view name) const {
  ASSIGN_OR_RETURN(Name n, Name::parse(name));
  ASSIGN_OR_RETURN(Found f, find_manifest(n));
  return entry_from(f);
}

Result<Manifest> Store::read_manifest(const Name& name) const {
  ASSIGN_OR_RETURN(Found f, find_manifest(name));
  auto m = Manifest::parse(f.bytes);
  if (!m.ok()) return m.error().wrap("manifest of " + name.display());
  return m;
}

Status Store::write_manifest(const Name& name, const Manifest& m) {
  // Every referenced blob must exist: a manifest never points at nothing.
  std::vector<const Layer*> refs = {&m.config};
  for (const auto& l : m.layers) refs.push_back(&l);
  for (const Layer* l : refs) {
    ASSIGN_OR_RETURN(bool have, has_blob(l->digest));
    if (!have) return make_error(ErrorCode::kNotFound, "blob {} not found", l->digest);
  }
  // Reuse the on-disk casing of an existing, case-insensitively equal name.
  Name target = name;
  if (auto f = find_manifest(name); f.ok()) target = f->name;
  auto comps = target.manifest_components();
  std::string file = comps.back();
  comps.pop_back();
  ASSIGN_OR_RETURN(UniqueFd dir, detail::open_dir(root_, comps, true));
  return detail::atomic_write_at(dir.get(), file, m.serialize());
}

Status Store::copy(std::string_view src, std::string_view dst) {
  ASSIGN_OR_RETURN(Name s, Name::parse(src));
  ASSIGN_OR_RETURN(Name d, Name::parse(dst));
  ASSIGN_OR_RETURN(Found f, find_manifest(s));
  // Validate before writing; the bytes are copied verbatim so the digest stays the same.
  auto m = Manifest::parse(f.bytes);
  if (!m.ok()) return m.error().wrap("manifest of " + s.display());
  Name target = d;
  if (auto existing = find_manifest(d); existing.ok()) target = existing->name;
  auto comps = target.manifest_components();
  std::string file = comps.back();
  comps.pop_back();
  ASSIGN_OR_RETURN(UniqueFd dir, detail::open_dir(root_, comps, true));
  return detail::atomic_write_at(dir.get(), file, f.bytes);
}

namespace {

// Digests referenced by every valid manifest in the store.
std::set<std::string> referenced(const std::vector<ModelEntry>& all) {
  std::set<std::string> refs;
  for (const auto& e : all) {
    refs.insert(e.manifest.config.digest);
    for (const auto& l : e.manifest.layers) refs.insert(l.digest);
  }
  return refs;
}

}  // namespace

Status Store::remove(std::string_view name) {
  ASSIGN_OR_RETURN(Name n, Name::parse(name));
  // Located without reading: a manifest too large, unreadable or not JSON is still deleted (the
  // only way to get rid of it short of editing the store by hand); it just names no blobs to collect.
  ASSIGN_OR_RETURN(Found f, find_manifest(n, false));
  auto comps = f.name.manifest_components();
  std::string file = comps.back();
  comps.pop_back();
  Result<Manifest> m = make_error(ErrorCode::kCorrupt, "unread");
  {
    ASSIGN_OR_RETURN(UniqueFd dir, detail::open_dir(root_, comps, false));
    if (auto bytes = detail::read_at(dir.get(), file, kMaxManifestBytes); bytes.ok()) m = Manifest::parse(*bytes);
    if (::unlinkat(dir.get(), file.c_str(), 0) != 0 && errno != ENOENT) {
      return make_error(ErrorCode::kIo, "cannot delete model {}: {}", n.display(), std::strerror(errno));
    }
    ::fsync(dir.get());
  }
  // Prune empty directories model -> namespace -> host (never manifests/ itself).
  while (comps.size() > 1) {
    std::string leaf = comps.back();
    comps.pop_back();
    auto parent = detail::open_dir(root_, comps, false);
    if (!parent.ok() || ::unlinkat(parent->get(), leaf.c_str(), AT_REMOVEDIR) != 0) break;
  }
  if (!m.ok()) return Status::Ok();  // a corrupt manifest names no blobs we can trust
  // Blobs of this model that no remaining manifest uses.
  ASSIGN_OR_RETURN(auto all, list());
  auto refs = referenced(all);
  ASSIGN_OR_RETURN(UniqueFd blobs, detail::open_dir(root_, {"blobs"}, false));
  std::vector<std::string> mine = {m->config.digest};
  for (const auto& l : m->layers) mine.push_back(l.digest);
  for (const auto& d : mine) {
    if (refs.count(d)) continue;
    std::string bf = blob_file_name(d);
    struct stat st {};
    if (::fstatat(blobs.get(), bf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (!older_than(st, opts_.gc_grace)) continue;  // may belong to an in-flight create elsewhere
    ::unlinkat(blobs.get(), bf.c_str(), 0);
  }
  return Status::Ok();
}

Result<uint64_t> Store::prune() {
  ASSIGN_OR_RETURN(auto all, list());
  auto refs = referenced(all);
  ASSIGN_OR_RETURN(UniqueFd blobs, detail::open_dir(root_, {"blobs"}, false));
  ASSIGN_OR_RETURN(auto entries, detail::list_dir(blobs.get()));
  uint64_t removed = 0;
  for (const auto& e : entries) {
    struct stat st {};
    if (::fstatat(blobs.get(), e.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISDIR(st.st_mode)) continue;
    auto d = parse_digest(e, true);
    bool keep = d.ok() && refs.count(*d);
    if (keep || !older_than(st, opts_.gc_grace)) continue;
    if (::unlinkat(blobs.get(), e.c_str(), 0) == 0) ++removed;
  }
  return removed;
}

// ---- blobs ------------------------------------------------------------------------------------

Result<std::string> Store::blob_path(std::string_view digest) const {
  ASSIGN_OR_RETURN(std::string d, parse_digest(digest, true));
  std::string p = root_ + "/blobs/" + blob_file_name(d);
  // Defence in depth for callers that open the path themselves (the runner mmaps it): a blob
  // that is a symlink, or resolves outside the root, is refused.
  struct stat st {};
  if (::lstat(p.c_str(), &st) == 0) {
    char buf[PATH_MAX];
    if (!S_ISREG(st.st_mode) || !::realpath(p.c_str(), buf) || std::string_view(buf).rfind(root_ + "/", 0) != 0) {
      return make_error(ErrorCode::kPermissionDenied, "blob {} is not a regular file in the model store", d);
    }
  }
  return p;
}

Result<bool> Store::has_blob(std::string_view digest) const {
  ASSIGN_OR_RETURN(std::string d, parse_digest(digest, true));
  ASSIGN_OR_RETURN(UniqueFd blobs, detail::open_dir(root_, {"blobs"}, false));
  struct stat st {};
  if (::fstatat(blobs.get(), blob_file_name(d).c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return false;
  return S_ISREG(st.st_mode);
}

Result<std::string> Store::read_blob(std::string_view digest, size_t max_bytes) const {
  ASSIGN_OR_RETURN(std::string d, parse_digest(digest, true));
  ASSIGN_OR_RETURN(UniqueFd blobs, detail::open_dir(root_, {"blobs"}, false));
  auto r = detail::read_at(blobs.get(), blob_file_name(d), max_bytes);
  if (!r.ok() && r.error().code() == ErrorCode::kNotFound) return make_error(ErrorCode::kNotFound, "blob {} not found", d);
  return r;
}

Status Store::touch_blob(std::string_view digest) const {
  ASSIGN_OR_RETURN(UniqueFd blobs, detail::open_dir(root_, {"blobs"}, false));
  // Fresh mtime: a concurrent GC elsewhere leaves it alone while we reference it.
  if (::utimensat(blobs.get(), blob_file_name(digest).c_str(), nullptr, AT_SYMLINK_NOFOLLOW) != 0) {
    return make_error(ErrorCode::kIo, "cannot touch blob {}: {}", digest, std::strerror(errno));
  }
  return Status::Ok();
}

struct BlobWriter::Hasher {
  Sha256 h;
};

BlobWriter::~BlobWriter() {
  discard();
  if (dir_fd_ >= 0) ::close(dir_fd_);
}

void BlobWriter::discard() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (!done_ && dir_fd_ >= 0 && !tmp_.empty()) ::unlinkat(dir_fd_, tmp_.c_str(), 0);
  done_ = true;
}

Status BlobWriter::write(std::string_view data) {
  if (done_) return make_error(ErrorCode::kInternal, "blob writer already finished");
  total_ += data.size();
  if (total_ > max_) {
    discard();
    return make_error(ErrorCode::kResourceExhausted, "blob larger than the maximum blob size ({} bytes)", max_);
  }
  hash_->h.update(data.data(), data.size());
  for (size_t off = 0; off < data.size();) {
    ssize_t w = ::write(fd_, data.data() + off, data.size() - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      discard();
      if (e == ENOSPC || e == EDQUOT) return make_error(ErrorCode::kResourceExhausted, "not enough disk space for blob");
      return make_error(ErrorCode::kIo, "cannot write blob: {}", std::strerror(e));
    }
    off += static_cast<size_t>(w);
  }
  return Status::Ok();
}

Status BlobWriter::commit() {
  if (done_) return make_error(ErrorCode::kInternal, "blob writer already finished");
  std::string got = "sha256:" + hash_->h.finish_hex();
  if (got != digest_) {
    discard();
    return make_error(ErrorCode::kInvalidArgument, "digest mismatch: expected {}, got {}", digest_, got);
  }
  if (::fsync(fd_) != 0) {
    int e = errno;
    discard();
    return make_error(ErrorCode::kIo, "cannot sync blob: {}", std::strerror(e));
  }
  ::close(fd_);
  fd_ = -1;
  // Content-addressed: if another writer got there first, its file has the same bytes; the
  // rename replaces it atomically either way, so readers see one whole file.
  if (::renameat(dir_fd_, tmp_.c_str(), dir_fd_, final_.c_str()) != 0) {
    int e = errno;
    discard();
    return make_error(ErrorCode::kIo, "cannot rename blob: {}", std::strerror(e));
  }
  done_ = true;
  ::fsync(dir_fd_);
  return Status::Ok();
}

Result<std::unique_ptr<BlobWriter>> Store::begin_blob(std::string_view digest, uint64_t expected_size) {
  ASSIGN_OR_RETURN(std::string d, parse_digest(digest, true));
  if (expected_size > opts_.max_blob_bytes)
    return make_error(ErrorCode::kResourceExhausted, "blob of {} bytes is larger than the maximum blob size ({} bytes)",
                      expected_size, opts_.max_blob_bytes);
  ASSIGN_OR_RETURN(UniqueFd blobs, detail::open_dir(root_, {"blobs"}, true));
  if (expected_size > 0) {
    struct statvfs vfs {};
    if (::fstatvfs(blobs.get(), &vfs) == 0) {
      uint64_t avail = static_cast<uint64_t>(vfs.f_bavail) * static_cast<uint64_t>(vfs.f_frsize);
      if (expected_size > avail)
        return make_error(ErrorCode::kResourceExhausted, "not enough disk space for a blob of {} bytes", expected_size);
    }
  }
  std::unique_ptr<BlobWriter> w(new BlobWriter());
  w->digest_ = d;
  w->final_ = blob_file_name(d);
  w->tmp_ = detail::temp_name(w->final_);
  w->max_ = opts_.max_blob_bytes;
  w->hash_ = std::make_unique<BlobWriter::Hasher>();
  w->fd_ = ::openat(blobs.get(), w->tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (w->fd_ < 0) {
    w->done_ = true;
    return make_error(ErrorCode::kIo, "cannot create blob: {}", std::strerror(errno));
  }
  w->dir_fd_ = blobs.release();
  return w;
}

Status Store::write_blob(std::string_view digest, const std::function<int64_t(char*, size_t)>& read) {
  ASSIGN_OR_RETURN(auto w, begin_blob(digest));
  std::vector<char> buf(1 << 20);
  for (;;) {
    int64_t n = read(buf.data(), buf.size());
    if (n < 0) return make_error(ErrorCode::kIo, "reading blob data failed");
    if (n == 0) break;
    if (static_cast<uint64_t>(n) > buf.size()) return make_error(ErrorCode::kInternal, "reader overflow");
    RETURN_IF_ERROR(w->write(std::string_view(buf.data(), static_cast<size_t>(n))));
  }
  return w->commit();
}

Result<std::string> Store::write_blob_bytes(std::string_view data) {
  std::string d = "sha256:" + sha256_hex(data);
  ASSIGN_OR_RETURN(bool have, has_blob(d));
  if (have) {
    RETURN_IF_ERROR(touch_blob(d));
    return d;
  }
  size_t off = 0;
  RETURN_IF_ERROR(write_blob(d, [&](char* buf, size_t n) -> int64_t {
    size_t k = std::min(n, data.size() - off);
    std::memcpy(buf, data.data() + off, k);
    off += k;
    return static_cast<int64_t>(k);
  }));
  return d;
}

Result<std::string> Store::import_file(const std::string& path, const ProgressFn& progress) {
  // Regular files only: no devices, fifos, /proc files or directories.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0) return make_error(ErrorCode::kNotFound, "cannot open {}: {}", path, std::strerror(errno));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return make_error(ErrorCode::kInvalidArgument, "{} is not a regular file", path);
  }
  auto size = static_cast<uint64_t>(st.st_size);
  if (size > opts_.max_blob_bytes) return make_error(ErrorCode::kResourceExhausted, "{} is too large", path);
  // Pass 1: hash (so an existing blob is reused without a copy).
  Sha256 h;
  std::vector<char> buf(1 << 20);
  uint64_t done = 0;
  for (;;) {
    ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return make_error(ErrorCode::kIo, "cannot read {}: {}", path, std::strerror(errno));
    }
    if (n == 0) break;
    h.update(buf.data(), static_cast<size_t>(n));
    done += static_cast<uint64_t>(n);
    if (done > size) return make_error(ErrorCode::kInvalidArgument, "{} grew while being read", path);
  }
  std::string d = "sha256:" + h.finish_hex();
  ASSIGN_OR_RETURN(bool have, has_blob(d));
  if (have) {
    RETURN_IF_ERROR(touch_blob(d));
    if (progress) progress(size, size);
    return d;
  }
  // Pass 2: copy; write_blob re-hashes and rejects the copy if the file changed in between.
  if (::lseek(fd.get(), 0, SEEK_SET) != 0) return make_error(ErrorCode::kIo, "cannot rewind {}", path);
  uint64_t copied = 0;
  RETURN_IF_ERROR(write_blob(d, [&](char* out, size_t n) -> int64_t {
    for (;;) {
      ssize_t r = ::read(fd.get(), out, n);
      if (r < 0 && errno == EINTR) continue;
      if (r > 0) {
        copied += static_cast<uint64_t>(r);
        if (progress) progress(copied, size);
      }
      return r;
    }
  }));
  return d;
}

// ---- JSON views -------------------------------------------------------------------------------

std::string format_time(std::chrono::system_clock::time_point t) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  time_t secs = static_cast<time_t>(ns / 1000000000);
  int64_t frac = ns % 1000000000;
  if (frac < 0) frac += 1000000000, --secs;
  struct tm tm {};
  ::localtime_r(&secs, &tm);
  long off = tm.tm_gmtoff / 60;
  std::string zone = off == 0 ? "Z" : fmt::format("{}{:02}:{:02}", off < 0 ? '-' : '+', std::labs(off) / 60, std::labs(off) % 60);
  // Go trims trailing zeros of the fraction (RFC3339Nano).
  std::string f = frac ? fmt::format(".{:09}", frac) : "";
  while (!f.empty() && f.back() == '0') f.pop_back();
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}{}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec, f, zone);
}

nlohmann::json ModelEntry::to_json() const {
  return {{"name", display_name}, {"model", display_name}, {"modified_at", format_time(modified_at)},
          {"size", size}, {"digest", digest}, {"details", details.to_json()}};
}

nlohmann::json ModelDetails::to_json() const {
  nlohmann::json j = nlohmann::json::object();
  j["parent_model"] = parent_model;
  j["format"] = format;
  j["family"] = family;
  j["families"] = (families_null && families.empty()) ? nlohmann::json(nullptr) : nlohmann::json(families);
  j["parameter_size"] = parameter_size;
  j["quantization_level"] = quantization_level;
  if (context_length) j["context_length"] = context_length;
  if (embedding_length) j["embedding_length"] = embedding_length;
  return j;
}

}  // namespace paddock::store
