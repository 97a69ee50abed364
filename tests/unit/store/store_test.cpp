// The store against a fixture written the way Ollama writes one (tools/store_fixture, Go's
// encoding/json): list fields, byte-exact manifest/config serialisation, copy, delete with
// garbage collection, blob writes with digest checks, symlink escapes, and concurrent writers.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <atomic>
#include <thread>

#include "store/store.h"
#include "test_util.h"
#include "util/sha256.h"

namespace paddock::store {
namespace {

using namespace testing;

class FixtureStore : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = tmp_.path() / "models";
    copy_fixture(root_);
    exp_ = expected();
    int i = 0;
    for (const auto& m : exp_["models"]) set_mtime(root_ / m["path"].get<std::string>(), 1700000000 + 1000 * i, i), ++i;
    auto s = Store::open(root_.string(), false);
    ASSERT_TRUE(s.ok()) << s.error().message();
    store_.emplace(std::move(s).value());
  }
  TempDir tmp_;
  fs::path root_;
  nlohmann::json exp_;
  std::optional<Store> store_;
};

TEST_F(FixtureStore, ListMatchesOllamaFieldByField) {
  auto list = store_->list();
  ASSERT_TRUE(list.ok()) << list.error().message();
  const auto& want = exp_["models"];
  // Invalid entries (bad..name, broken JSON, too deep, bad tag) are skipped.
  ASSERT_EQ(list->size(), want.size());
  // Most recently modified first: the fixture's last model has the newest mtime.
  for (size_t k = 0; k < list->size(); ++k) {
    const auto& got = (*list)[k];
    const auto& w = want[want.size() - 1 - k];
    SCOPED_TRACE(w["name"].get<std::string>());
    EXPECT_EQ(got.display_name, w["name"]);
    EXPECT_EQ(got.size, w["size"].get<uint64_t>());
    EXPECT_EQ(got.digest, w["digest"]);
    EXPECT_EQ(got.details.format, "gguf");
    EXPECT_EQ(got.details.family, w["family"]);
    if (w["families"].is_null()) {
      EXPECT_TRUE(got.details.families.empty());
      EXPECT_TRUE(got.details.to_json()["families"].is_null());
    } else {
      EXPECT_EQ(nlohmann::json(got.details.families), w["families"]);
    }
    EXPECT_EQ(got.details.parameter_size, w["parameter_size"]);
    EXPECT_EQ(got.details.quantization_level, w["quantization_level"]);
    EXPECT_EQ(got.details.context_length, w["context_length"].get<uint64_t>());
    EXPECT_EQ(got.details.embedding_length, w["embedding_length"].get<uint64_t>());
    EXPECT_EQ(got.manifest.layers.size(), w["layer_count"].get<size_t>());
    size_t idx = want.size() - 1 - k;
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(got.modified_at.time_since_epoch()).count();
    EXPECT_EQ(ns, (1700000000 + 1000 * static_cast<int64_t>(idx)) * 1000000000LL + static_cast<int64_t>(idx));
  }
}

TEST_F(FixtureStore, ManifestAndConfigSerializeByteExactLikeGo) {
  for (const auto& w : exp_["models"]) {
    std::string bytes = slurp(root_ / w["path"].get<std::string>());
    auto m = Manifest::parse(bytes);
    ASSERT_TRUE(m.ok()) << m.error().message();
    EXPECT_EQ(m->serialize(), bytes);
    auto cfg_bytes = store_->read_blob(m->config.digest, 1 << 20);
    ASSERT_TRUE(cfg_bytes.ok());
    auto cfg = Config::parse(*cfg_bytes);
    ASSERT_TRUE(cfg.ok()) << cfg.error().message();
    EXPECT_EQ(cfg->serialize(), *cfg_bytes);
  }
}

TEST_F(FixtureStore, TagsJson) {
  setenv("TZ", "UTC", 1);
  tzset();
  auto e = store_->get("tiny");
  ASSERT_TRUE(e.ok());
  auto j = e->to_json();
  EXPECT_EQ(j["name"], "tiny:latest");
  EXPECT_EQ(j["model"], "tiny:latest");
  EXPECT_EQ(j["modified_at"], "2023-11-14T22:13:20Z");  // 1700000000 s, 0 ns
  EXPECT_EQ(j["size"], exp_["models"][0]["size"]);
  EXPECT_EQ(j["digest"], exp_["models"][0]["digest"]);
  EXPECT_EQ(j["details"]["parameter_size"], "808");
  EXPECT_EQ(format_time(std::chrono::system_clock::time_point(std::chrono::nanoseconds(1700000000123456700LL))),
            "2023-11-14T22:13:20.1234567Z");
  setenv("TZ", "PST8PDT", 1);
  tzset();
  EXPECT_EQ(format_time(std::chrono::system_clock::time_point(std::chrono::seconds(1700000000))),
            "2023-11-14T14:13:20-08:00");
  unsetenv("TZ");
  tzset();
}

TEST_F(FixtureStore, GetIsCaseInsensitive) {
  auto a = store_->get("TINY:Latest");
  ASSERT_TRUE(a.ok()) << a.error().message();
  EXPECT_EQ(a->display_name, "tiny:latest");  // on-disk casing
  auto b = store_->get("someone/other.model:V1.0");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->display_name, "someone/Other.Model:v1.0");
  auto c = store_->get("example.com:5000/team/m:t");
  ASSERT_TRUE(c.ok());
  auto missing = store_->get("nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(missing.error().message(), "model \"nope:latest\" not found");
  auto invalid = store_->get("../../etc/passwd");
  ASSERT_FALSE(invalid.ok());
  EXPECT_EQ(invalid.error().code(), ErrorCode::kInvalidArgument);
}

TEST_F(FixtureStore, CopyKeepsBytesAndDigest) {
  ASSERT_TRUE(store_->copy("tiny", "me/copy:v2").ok());
  auto src = store_->get("tiny");
  auto dst = store_->get("me/copy:v2");
  ASSERT_TRUE(src.ok() && dst.ok());
  EXPECT_EQ(dst->digest, src->digest);
  EXPECT_EQ(slurp(root_ / "manifests/registry.ollama.ai/me/copy/v2"),
            slurp(root_ / "manifests/registry.ollama.ai/library/tiny/latest"));
  EXPECT_EQ(store_->copy("missing", "x").error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store_->copy("tiny", "../x").error().code(), ErrorCode::kInvalidArgument);
  // Copy onto a case-variant of an existing name replaces that manifest (no duplicate entry).
  ASSERT_TRUE(store_->copy("tiny:bare", "TINY:LATEST").ok());
  auto list = store_->list();
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), exp_["models"].size() + 1);
  EXPECT_EQ(store_->get("tiny")->digest, store_->get("tiny:bare")->digest);
}

TEST_F(FixtureStore, DeleteCollectsOnlyUnsharedOldBlobs) {
  age_all_blobs(root_, 7200);
  auto tiny = store_->get("tiny");
  ASSERT_TRUE(tiny.ok());
  std::string weights = tiny->manifest.find(kMediaModel)->digest;
  std::string tmpl = tiny->manifest.find(kMediaTemplate)->digest;
  std::string sys = tiny->manifest.find(kMediaSystem)->digest;
  ASSERT_TRUE(store_->remove("tiny:latest").ok());
  EXPECT_FALSE(store_->get("tiny").ok());
  EXPECT_TRUE(*store_->has_blob(weights));   // tiny:bare and others still use it
  EXPECT_FALSE(*store_->has_blob(tmpl));     // only tiny:latest used these
  EXPECT_FALSE(*store_->has_blob(sys));
  EXPECT_TRUE(fs::exists(root_ / "manifests/registry.ollama.ai/library/tiny/bare"));
  // Deleting the last tag of a model removes its now-empty directories.
  ASSERT_TRUE(store_->remove("someone/Other.Model:v1.0").ok());
  EXPECT_FALSE(fs::exists(root_ / "manifests/registry.ollama.ai/someone"));
  EXPECT_TRUE(fs::exists(root_ / "manifests/registry.ollama.ai"));
  EXPECT_EQ(store_->remove("tiny:latest").error().code(), ErrorCode::kNotFound);
}

// Delete works on any manifest the store holds, however malformed: too large to read, not JSON,
// not a manifest. (A 7 MB manifest could only be removed by hand before.)
TEST_F(FixtureStore, DeleteRemovesMalformedManifests) {
  const fs::path dir = root_ / "manifests/registry.ollama.ai/library";
  fs::create_directories(dir / "huge");
  fs::create_directories(dir / "junk");
  fs::create_directories(dir / "empty");
  std::ofstream(dir / "huge/latest") << std::string(kMaxManifestBytes + 1000, ' ') << "{}";
  std::ofstream(dir / "junk/latest") << "not json";
  std::ofstream(dir / "empty/latest");
  EXPECT_FALSE(store_->get("huge").ok());
  for (const char* name : {"huge", "junk", "empty"}) {
    auto st = store_->remove(name);
    EXPECT_TRUE(st.ok()) << name << ": " << st.error().message();
    EXPECT_FALSE(fs::exists(dir / name / "latest")) << name;
    EXPECT_EQ(store_->remove(name).error().code(), ErrorCode::kNotFound) << name;
  }
  for (const auto& w : exp_["models"]) EXPECT_TRUE(store_->get(w["name"].get<std::string>()).ok());
}

TEST_F(FixtureStore, DeleteKeepsRecentBlobs) {
  // Blobs touched within the grace period may belong to an in-flight create on another node.
  auto tiny = store_->get("tiny");
  ASSERT_TRUE(tiny.ok());
  std::string sys = tiny->manifest.find(kMediaSystem)->digest;
  age_all_blobs(root_, 7200);
  set_mtime(root_ / "blobs" / blob_file_name(sys), time(nullptr) - 60, 0);
  ASSERT_TRUE(store_->remove("tiny").ok());
  EXPECT_TRUE(*store_->has_blob(sys));
  EXPECT_FALSE(*store_->has_blob(tiny->manifest.find(kMediaTemplate)->digest));
}

TEST_F(FixtureStore, PruneRemovesUnreferencedAndStale) {
  age_all_blobs(root_, 7200);
  auto orphan = store_->write_blob_bytes("orphan");
  ASSERT_TRUE(orphan.ok());
  std::ofstream(root_ / "blobs" / "sha256-partial-junk") << "x";
  auto removed = store_->prune();
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 0u);  // both are fresh
  age_all_blobs(root_, 7200);
  removed = store_->prune();
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 2u);
  EXPECT_FALSE(*store_->has_blob(*orphan));
  for (const auto& w : exp_["models"]) EXPECT_TRUE(store_->get(w["name"].get<std::string>()).ok());
  auto list = store_->list();
  for (const auto& e : *list) {
    for (const auto& l : e.manifest.layers) EXPECT_TRUE(*store_->has_blob(l.digest));
    EXPECT_TRUE(*store_->has_blob(e.manifest.config.digest));
  }
}

// The list cache re-reads only manifests whose file changed. To see that an unchanged one is
// not read, its config blob is rewritten behind the store's back (which a content-addressed store
// never does): the cached list keeps the old details until the manifest itself changes. Files
// written, replaced or removed by someone else (another node) show at once.
TEST_F(FixtureStore, ListCacheRereadsOnlyChangedManifests) {
  auto names = [](const std::vector<ModelEntry>& l) {
    std::vector<std::string> n;
    for (auto& e : l) n.push_back(e.display_name + " " + e.digest);
    return n;
  };
  ListCache cache(std::chrono::milliseconds(0));
  auto first = store_->list(&cache);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(names(*first), names(*store_->list()));
  EXPECT_EQ(cache.size(), first->size());

  auto tiny = store_->get("tiny:latest");
  ASSERT_TRUE(tiny.ok());
  const fs::path cfg = root_ / "blobs" / blob_file_name(tiny->manifest.config.digest);
  std::string cfg_bytes = slurp(cfg);
  auto doctored = nlohmann::json::parse(cfg_bytes);
  doctored["model_family"] = "doctored";
  std::ofstream(cfg, std::ios::trunc) << doctored.dump();
  auto family = [](const std::vector<ModelEntry>& l, const std::string& name) {
    for (auto& e : l)
      if (e.display_name == name) return e.details.family;
    return std::string("<absent>");
  };
  EXPECT_EQ(family(*store_->list(), "tiny:latest"), "doctored");  // uncached: read again
  EXPECT_NE(family(*store_->list(&cache), "tiny:latest"), "doctored");  // cached: not read
  // The manifest is rewritten (same bytes, new file): read again.
  const fs::path man = root_ / "manifests/registry.ollama.ai/library/tiny/latest";
  std::string man_bytes = slurp(man);
  std::ofstream(man.string() + ".new") << man_bytes;
  fs::rename(man.string() + ".new", man);
  EXPECT_EQ(family(*store_->list(&cache), "tiny:latest"), "doctored");

  // Written in place (no rename), then a new model, then one removed: all seen at the next list.
  auto in_place = nlohmann::json::parse(man_bytes);
  std::ofstream(man, std::ios::trunc) << in_place.dump(2);
  std::string want_digest = sha256_hex(slurp(man));
  fs::create_directories(root_ / "manifests/registry.ollama.ai/library/fresh");
  std::ofstream(root_ / "manifests/registry.ollama.ai/library/fresh/v1") << man_bytes;
  auto other = store_->get("someone/Other.Model:v1.0");
  ASSERT_TRUE(other.ok());
  fs::remove(root_ / "manifests/registry.ollama.ai/someone/Other.Model/v1.0");
  auto after = store_->list(&cache);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(names(*after), names(*store_->list()));
  EXPECT_EQ(family(*after, "fresh:v1"), "doctored");
  EXPECT_EQ(family(*after, "someone/Other.Model:v1.0"), "<absent>");
  for (auto& e : *after) {
    if (e.display_name == "tiny:latest") {
      EXPECT_EQ(e.digest, want_digest);
    }
  }
  EXPECT_EQ(cache.size(), after->size());

  // With the default settling time, files changed in the last 2 s are read every time.
  ListCache settling;
  ASSERT_TRUE(store_->list(&settling).ok());
  EXPECT_LT(settling.size(), after->size());
}

TEST(Store, BlobWriteVerifiesDigest) {
  TempDir tmp;
  auto s = Store::open(tmp.str() + "/m");
  ASSERT_TRUE(s.ok()) << s.error().message();
  std::string data = "hello blob";
  std::string good = "sha256:" + sha256_hex(data);
  std::string bad = "sha256:" + sha256_hex("other");
  auto reader = [&](std::string_view d) {
    size_t off = 0;
    return [d, off](char* buf, size_t n) mutable -> int64_t {
      size_t k = std::min(n, d.size() - off);
      std::memcpy(buf, d.data() + off, k);
      off += k;
      return static_cast<int64_t>(k);
    };
  };
  auto st = s->write_blob(bad, reader(data));
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("digest mismatch"), std::string::npos);
  EXPECT_FALSE(*s->has_blob(bad));
  // No temp file left behind.
  EXPECT_EQ(std::distance(fs::directory_iterator(tmp.path() / "m/blobs"), fs::directory_iterator()), 0);
  ASSERT_TRUE(s->write_blob(good, reader(data)).ok());
  EXPECT_TRUE(*s->has_blob(good));
  EXPECT_EQ(*s->read_blob(good, 100), data);
  EXPECT_EQ(slurp(tmp.path() / "m/blobs" / ("sha256-" + sha256_hex(data))), data);
  // The sha256- form names the same blob.
  EXPECT_TRUE(*s->has_blob("sha256-" + sha256_hex(data)));
  // Traversal and malformed digests never reach the filesystem.
  EXPECT_EQ(s->has_blob("sha256:../../x").error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(s->write_blob("sha256:" + std::string(63, 'a'), reader(data)).error().code(), ErrorCode::kInvalidArgument);
  // A failing reader leaves nothing behind.
  EXPECT_FALSE(s->write_blob(good, [](char*, size_t) -> int64_t { return -1; }).ok());
  EXPECT_EQ(*s->read_blob(good, 100), data);
}

TEST(Store, BlobSizeCap) {
  TempDir tmp;
  StoreOptions o;
  o.max_blob_bytes = 1000;
  auto s = Store::open(tmp.str() + "/m", true, o);
  ASSERT_TRUE(s.ok());
  std::string big(5000, 'x');
  auto st = s->write_blob_bytes(big);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), ErrorCode::kResourceExhausted);
  EXPECT_EQ(std::distance(fs::directory_iterator(tmp.path() / "m/blobs"), fs::directory_iterator()), 0);
}

size_t count_files(const fs::path& dir) {
  return static_cast<size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

TEST(Store, BlobWriterStreamsInPiecesAndCleansUp) {
  TempDir tmp;
  auto s = Store::open(tmp.str() + "/m");
  ASSERT_TRUE(s.ok()) << s.error().message();
  const fs::path blobs = tmp.path() / "m/blobs";
  std::string data;
  for (int i = 0; i < 300000; ++i) data += static_cast<char>('a' + (i * 7) % 26);
  const std::string digest = "sha256:" + sha256_hex(data);
  {
    // Written in uneven pieces; the temp file is in blobs/ until commit renames it.
    auto w = s->begin_blob(digest, data.size());
    ASSERT_TRUE(w.ok()) << w.error().message();
    for (size_t off = 0, k = 1; off < data.size(); off += k, k = k * 3 % 65537 + 1)
      ASSERT_TRUE((*w)->write(std::string_view(data).substr(off, k)).ok());
    EXPECT_EQ(count_files(blobs), 1u);
    EXPECT_FALSE(*s->has_blob(digest));
    EXPECT_EQ((*w)->bytes_written(), data.size());
    ASSERT_TRUE((*w)->commit().ok());
  }
  EXPECT_EQ(*s->read_blob(digest, data.size()), data);
  EXPECT_EQ(count_files(blobs), 1u);
  {
    // Abandoned mid-upload (client gone): destroying the writer removes its temp file.
    auto w = s->begin_blob("sha256:" + sha256_hex("x"), 0);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->write("partial").ok());
    EXPECT_EQ(count_files(blobs), 2u);
  }
  EXPECT_EQ(count_files(blobs), 1u);
  {
    // Wrong digest: commit fails and nothing is left.
    auto w = s->begin_blob("sha256:" + sha256_hex("something else"), 0);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->write(data).ok());
    auto st = (*w)->commit();
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(st.error().message().find("digest mismatch"), std::string::npos);
    EXPECT_EQ(count_files(blobs), 1u);
    EXPECT_FALSE((*w)->write("more").ok());  // spent
  }
  // Bad digests never touch the filesystem.
  EXPECT_EQ(s->begin_blob("sha256:../../etc/passwd", 0).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(count_files(blobs), 1u);
}

TEST(Store, BlobWriterSizeChecks) {
  TempDir tmp;
  StoreOptions o;
  o.max_blob_bytes = 1000;
  auto s = Store::open(tmp.str() + "/m", true, o);
  ASSERT_TRUE(s.ok());
  const fs::path blobs = tmp.path() / "m/blobs";
  std::string d = "sha256:" + sha256_hex("y");
  // A declared size over the cap is refused before a file is created.
  auto big = s->begin_blob(d, 1001);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().code(), ErrorCode::kResourceExhausted);
  EXPECT_EQ(count_files(blobs), 0u);
  // More than the free space of the file system: refused up front as well.
  StoreOptions huge;
  huge.max_blob_bytes = UINT64_MAX;
  auto s2 = Store::open(tmp.str() + "/m", true, huge);
  ASSERT_TRUE(s2.ok());
  auto nospace = s2->begin_blob(d, uint64_t{1} << 62);
  ASSERT_FALSE(nospace.ok());
  EXPECT_EQ(nospace.error().code(), ErrorCode::kResourceExhausted);
  EXPECT_NE(nospace.error().message().find("disk space"), std::string::npos);
  // An undeclared size is capped as it streams.
  auto w = s->begin_blob(d, 0);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->write(std::string(600, 'y')).ok());
  auto st = (*w)->write(std::string(600, 'y'));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), ErrorCode::kResourceExhausted);
  EXPECT_EQ(count_files(blobs), 0u);
}

TEST(Store, ConcurrentUploadsOfOneBlob) {
  TempDir tmp;
  auto s = Store::open(tmp.str() + "/m");
  ASSERT_TRUE(s.ok());
  std::string data(1 << 20, 'q');
  const std::string digest = "sha256:" + sha256_hex(data);
  std::vector<std::thread> ts;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&] {
      auto w = s->begin_blob(digest, data.size());
      if (!w.ok()) return;
      for (size_t off = 0; off < data.size(); off += 4096)
        if (!(*w)->write(std::string_view(data).substr(off, 4096)).ok()) return;
      if ((*w)->commit().ok()) ok++;
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(ok.load(), 4);
  EXPECT_EQ(*s->read_blob(digest, data.size()), data);
  EXPECT_EQ(count_files(tmp.path() / "m/blobs"), 1u);
}

TEST(Store, RefusesSymlinksOutOfTheStore) {
  TempDir tmp;
  fs::path root = tmp.path() / "m";
  copy_fixture(root);
  fs::path outside = tmp.path() / "outside";
  fs::create_directories(outside / "library" / "evil");
  fs::copy_file(root / "manifests/registry.ollama.ai/library/tiny/latest", outside / "library/evil/latest");
  fs::create_directory_symlink(outside, root / "manifests" / "evil.example");
  // A blob symlinked to a secret file.
  std::ofstream(outside / "secret") << "secret";
  std::string fake = "sha256:" + std::string(64, 'b');
  fs::create_symlink(outside / "secret", root / "blobs" / blob_file_name(fake));
  auto s = Store::open(root.string(), false);
  ASSERT_TRUE(s.ok());
  auto e = s->get("evil.example/library/evil");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code(), ErrorCode::kPermissionDenied);
  auto list = s->list();
  ASSERT_TRUE(list.ok());
  for (const auto& m : *list) EXPECT_NE(m.name.host, "evil.example");
  EXPECT_FALSE(*s->has_blob(fake));
  EXPECT_FALSE(s->read_blob(fake, 100).ok());
  EXPECT_EQ(s->blob_path(fake).error().code(), ErrorCode::kPermissionDenied);
  // Writing through the symlinked host directory is refused too.
  EXPECT_FALSE(s->copy("tiny", "evil.example/library/evil2").ok());
  EXPECT_FALSE(fs::exists(outside / "library/evil2"));
}

TEST(Store, ConcurrentWritersLeaveAValidStore) {
  TempDir tmp;
  std::string root = tmp.str() + "/m";
  ASSERT_TRUE(Store::open(root).ok());
  std::string data(3 << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>((i * 2654435761u) >> 13);
  std::string digest = "sha256:" + sha256_hex(data);
  // Four processes (as four nodes sharing a volume would) write the same blob and the same
  // manifest at once, each through its own Store.
  const int kProcs = 4;
  std::vector<pid_t> pids;
  for (int p = 0; p < kProcs; ++p) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int rc = 0;
      for (int round = 0; round < 5 && rc == 0; ++round) {
        auto s = Store::open(root);
        if (!s.ok()) { rc = 1; break; }
        auto d = s->write_blob_bytes(data);
        if (!d.ok() || *d != digest) {
          fprintf(stderr, "child: %s\n", d.ok() ? "wrong digest" : d.error().message().c_str());
          rc = 2;
          break;
        }
        auto cfg = s->write_blob_bytes("{\"model_format\":\"gguf\"}\n");
        if (!cfg.ok()) { rc = 3; break; }
        Manifest m;
        m.config = Layer{std::string(kConfigMediaType), *cfg, 24, "", ""};
        m.layers.push_back(Layer{std::string(kMediaModel), digest, data.size(), "", ""});
        if (!s->write_manifest(*Name::parse("shared:v1"), m).ok()) { rc = 4; break; }
      }
      _exit(rc);
    }
    pids.push_back(pid);
  }
  // Meanwhile, this process keeps reading: it must only ever see whole files.
  auto reader = Store::open(root);
  ASSERT_TRUE(reader.ok());
  for (int i = 0; i < 50; ++i) {
    if (auto b = reader->read_blob(digest, 8 << 20); b.ok()) {
      EXPECT_EQ(b->size(), data.size());
      EXPECT_EQ(sha256_hex(*b), digest.substr(7));
    }
    if (auto e = reader->get("shared:v1"); e.ok()) {
      EXPECT_EQ(e->manifest.layers.size(), 1u);
    }
  }
  for (pid_t pid : pids) {
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
  }
  auto s = Store::open(root);
  auto e = s->get("shared:v1");
  ASSERT_TRUE(e.ok()) << e.error().message();
  EXPECT_EQ(sha256_hex(*s->read_blob(digest, 8 << 20)), digest.substr(7));
  // Only final blob files remain: no temp files.
  int files = 0;
  for (const auto& f : fs::directory_iterator(tmp.path() / "m/blobs")) {
    EXPECT_TRUE(parse_digest(f.path().filename().string(), true).ok()) << f.path();
    ++files;
  }
  EXPECT_EQ(files, 2);
  for (const auto& f : fs::recursive_directory_iterator(tmp.path() / "m/manifests")) {
    EXPECT_EQ(f.path().filename().string().rfind(".tmp-", 0), std::string::npos) << f.path();
  }
}

TEST(Store, WriteManifestNeedsItsBlobs) {
  TempDir tmp;
  auto s = Store::open(tmp.str() + "/m");
  Manifest m;
  m.config = Layer{std::string(kConfigMediaType), "sha256:" + std::string(64, 'c'), 2, "", ""};
  auto st = s->write_manifest(*Name::parse("x"), m);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), ErrorCode::kNotFound);
  EXPECT_FALSE(s->get("x").ok());
}

TEST(Manifest, RejectsMalformed) {
  std::string d = "sha256:" + std::string(64, 'a');
  auto base = [&](const std::string& layer) {
    return R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"x","digest":")" +
           d + R"(","size":1},"layers":[)" + layer + "]}";
  };
  EXPECT_TRUE(Manifest::parse(base("")).ok());
  const std::string bad[] = {
      "", "[]", "{", "{\"schemaVersion\":1}", base(R"({"mediaType":"m","digest":"sha256:../../x","size":1})"),
      base(R"({"mediaType":"m","digest":")" + d + R"(","size":-1})"),
      base(R"({"mediaType":"m","digest":")" + d + R"(","size":"1"})"),
      base(R"({"mediaType":"m","digest":")" + d + R"("})"), base(R"({"digest":")" + d + R"(","size":1})"),
      base("1"), R"({"schemaVersion":2,"layers":[]})",
  };
  for (const auto& b : bad) EXPECT_FALSE(Manifest::parse(b).ok()) << b;
}

TEST(Config, HumanParameterCount) {
  EXPECT_EQ(human_parameter_count(808), "808");
  EXPECT_EQ(human_parameter_count(1500), "2K");
  EXPECT_EQ(human_parameter_count(135000000), "135M");
  EXPECT_EQ(human_parameter_count(134515008), "134.52M");
  EXPECT_EQ(human_parameter_count(1235814400), "1.2B");
  EXPECT_EQ(human_parameter_count(8030261248), "8.0B");
  EXPECT_EQ(human_parameter_count(7000000000), "7B");
}

}  // namespace
}  // namespace paddock::store
