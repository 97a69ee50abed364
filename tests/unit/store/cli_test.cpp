// The offline CLI (`paddock list|show|cp|rm|create --models DIR`) run as a subprocess against a
// copy of the fixture store: table output, show flags, create with progress, and errors as one
// line on stderr with a non-zero exit.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>

#include "gguf/gguf.h"
#include "test_util.h"

namespace paddock::store {
namespace {

using namespace testing;

struct Run {
  int rc = -1;
  std::string out, err;
};

Run run(const std::string& args, const fs::path& dir) {
  fs::path err_file = dir / "stderr.txt";
  std::string cmd = std::string(PADDOCK_BIN) + " " + args + " 2>" + err_file.string();
  Run r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int status = ::pclose(p);
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = slurp(err_file);
  return r;
}

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t nl = s.find('\n', pos);
    out.push_back(s.substr(pos, nl - pos));
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
  return out;
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = tmp_.path() / "models";
    copy_fixture(root_);
    flag_ = " --models " + root_.string();
    // Keep the fixture's invalid entries out of the way: their warnings are tested elsewhere.
    fs::remove_all(root_ / "manifests/registry.ollama.ai/library/bad..name");
    fs::remove_all(root_ / "manifests/registry.ollama.ai/library/broken");
    fs::remove_all(root_ / "manifests/registry.ollama.ai/library/deep");
    fs::remove_all(root_ / "manifests/registry.ollama.ai/library/badtag");
    int i = 0;
    const auto exp = expected();
    for (const auto& m : exp["models"]) {
      set_mtime(root_ / m["path"].get<std::string>(), time(nullptr) - 3 * 86400 + i * 3600, 0), ++i;
    }
  }
  TempDir tmp_;
  fs::path root_;
  std::string flag_;
};

TEST_F(Cli, List) {
  auto r = run("list" + flag_, tmp_.path());
  ASSERT_EQ(r.rc, 0) << r.err;
  auto ls = lines(r.out);
  ASSERT_EQ(ls.size(), 5u) << r.out;
  EXPECT_EQ(ls[0].substr(0, 4), "NAME");
  EXPECT_NE(ls[0].find("ID"), std::string::npos);
  EXPECT_NE(ls[0].find("SIZE"), std::string::npos);
  EXPECT_NE(ls[0].find("MODIFIED"), std::string::npos);
  auto exp = expected()["models"];
  // Newest first; ID = first 12 hex digits of the manifest digest; decimal sizes; "N days ago".
  std::string newest = exp[3]["name"];
  EXPECT_EQ(ls[1].substr(0, newest.size()), newest);
  EXPECT_NE(ls[1].find(exp[3]["digest"].get<std::string>().substr(0, 12)), std::string::npos);
  EXPECT_NE(ls[4].find("tiny:latest"), std::string::npos);
  EXPECT_NE(ls[4].find("6.4 KB"), std::string::npos);  // 6419 bytes
  EXPECT_NE(ls[4].find("3 days ago"), std::string::npos) << ls[4];
  EXPECT_NE(ls[1].find("2 days ago"), std::string::npos) << ls[1];  // 69 h
  // `ls` is an alias.
  EXPECT_EQ(run("ls" + flag_, tmp_.path()).out, r.out);
}

TEST_F(Cli, Show) {
  auto r = run("show tiny" + flag_, tmp_.path());
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("architecture        llama"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("quantization        Q4_K_M"), std::string::npos);
  EXPECT_NE(r.out.find("context length      2048"), std::string::npos);
  EXPECT_NE(r.out.find("  Capabilities\n    completion\n    tools\n"), std::string::npos);
  auto t = run("show tiny --template" + flag_, tmp_.path());
  EXPECT_EQ(t.out, expected()["show_tiny"]["template"].get<std::string>() + "\n");
  auto sys = run("show tiny --system" + flag_, tmp_.path());
  EXPECT_EQ(sys.out, expected()["show_tiny"]["system"].get<std::string>() + "\n");
  auto lic = run("show tiny --license" + flag_, tmp_.path());
  EXPECT_EQ(lic.out, "MIT License\n\nCopyright (c) fixture\nSecond license text\n");
  auto p = run("show tiny --parameters" + flag_, tmp_.path());
  EXPECT_EQ(p.out, "num_ctx                        4096\nstop                           \"<|end|>\"\n"
                   "stop                           \"<|user|>\"\ntemperature                    0.6\n");
  auto mf = run("show tiny --modelfile" + flag_, tmp_.path());
  EXPECT_NE(mf.out.find("\nFROM " + root_.string() + "/blobs/sha256-"), std::string::npos) << mf.out;
  auto v = run("show tiny -v" + flag_, tmp_.path());
  EXPECT_NE(v.out.find("general.name"), std::string::npos);
  EXPECT_NE(v.out.find("token_embd.weight"), std::string::npos);
  auto both = run("show tiny --license --system" + flag_, tmp_.path());
  EXPECT_NE(both.rc, 0);
}

TEST_F(Cli, CopyRemoveCreate) {
  auto cp = run("cp tiny me/copy" + flag_, tmp_.path());
  ASSERT_EQ(cp.rc, 0) << cp.err;
  EXPECT_EQ(cp.out, "copied 'tiny' to 'me/copy'\n");
  EXPECT_TRUE(fs::exists(root_ / "manifests/registry.ollama.ai/me/copy/latest"));
  auto rm = run("rm me/copy tiny:bare" + flag_, tmp_.path());
  ASSERT_EQ(rm.rc, 0) << rm.err;
  EXPECT_EQ(rm.out, "deleted 'me/copy'\ndeleted 'tiny:bare'\n");
  EXPECT_FALSE(fs::exists(root_ / "manifests/registry.ollama.ai/me"));

  gguf::Writer w;
  w.set("general.architecture", gguf::Value::str("qwen2"));
  w.set("general.file_type", gguf::Value::u32(7));
  std::vector<float> data(64 * 300, 0.25f);
  ASSERT_TRUE(w.add_tensor("token_embd.weight", 0, {64, 300},
                           std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data.data()), data.size() * 4))
                  .ok());
  ASSERT_TRUE(w.write((tmp_.path() / "sub/w.gguf").string()).ok() ||
              (fs::create_directories(tmp_.path() / "sub"), w.write((tmp_.path() / "sub/w.gguf").string()).ok()));
  std::ofstream(tmp_.path() / "sub/Modelfile") << "FROM ./w.gguf\nPARAMETER temperature 0.1\nSYSTEM be nice\n";
  auto cr = run("create mine:q8 -f " + (tmp_.path() / "sub/Modelfile").string() + flag_, tmp_.path());
  ASSERT_EQ(cr.rc, 0) << cr.err;
  EXPECT_NE(cr.err.find("copying file ./w.gguf"), std::string::npos) << cr.err;
  EXPECT_NE(cr.err.find("(100%)"), std::string::npos) << cr.err;  // progress in bytes copied
  EXPECT_NE(cr.err.find("writing manifest\nsuccess\n"), std::string::npos) << cr.err;
  auto sh = run("show mine:q8" + flag_, tmp_.path());
  EXPECT_NE(sh.out.find("architecture        qwen2"), std::string::npos) << sh.out;
  EXPECT_NE(sh.out.find("parameters          19K"), std::string::npos) << sh.out;  // 19200
  EXPECT_NE(sh.out.find("quantization        Q8_0"), std::string::npos);
}

TEST_F(Cli, ErrorsAreOneLine) {
  std::ofstream(tmp_.path() / "Bad") << "FROM x\nBOGUS 1\n";
  const std::pair<std::string, std::string> cases[] = {
      {"show nope", "Error: model \"nope:latest\" not found\n"},
      {"show ../../etc/passwd", "Error: invalid model name: too many parts\n"},
      {"show ../etc", "Error: invalid model name: bad character in namespace\n"},
      {"rm nope", "Error: model \"nope:latest\" not found\n"},
      {"cp nope x", "Error: model \"nope:latest\" not found\n"},
      {"cp tiny a/b/c/d", "Error: invalid model name: too many parts\n"},
      {"create x -f " + (tmp_.path() / "Bad").string(), "Error: Modelfile line 2: unknown instruction \"BOGUS\"\n"},
      {"create x -f " + (tmp_.path() / "missing").string(), ""},
  };
  for (const auto& [args, want] : cases) {
    auto r = run(args + flag_, tmp_.path());
    EXPECT_NE(r.rc, 0) << args;
    if (!want.empty()) {
      EXPECT_EQ(r.err, want) << args;
    }
    EXPECT_EQ(lines(r.err).size(), 1u) << args << ": " << r.err;
  }
}

}  // namespace
}  // namespace paddock::store
