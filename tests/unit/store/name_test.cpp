// Model names and digests: Ollama's defaults and display form, case-insensitive equality, and
// the traversal / malformed-name catalogue of SECURITY.md, all rejected before any path exists.
#include <gtest/gtest.h>

#include "store/store.h"

namespace paddock::store {
namespace {

TEST(Name, Defaults) {
  auto n = Name::parse("llama3.2");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->host, "registry.ollama.ai");
  EXPECT_EQ(n->ns, "library");
  EXPECT_EQ(n->model, "llama3.2");
  EXPECT_EQ(n->tag, "latest");
  EXPECT_EQ(n->full(), "registry.ollama.ai/library/llama3.2:latest");
  EXPECT_EQ(n->display(), "llama3.2:latest");
}

TEST(Name, AllParts) {
  auto n = Name::parse("example.com:5000/team/My_Model-1.5:Q4_K_M");
  ASSERT_TRUE(n.ok()) << n.error().message();
  EXPECT_EQ(n->host, "example.com:5000");
  EXPECT_EQ(n->ns, "team");
  EXPECT_EQ(n->model, "My_Model-1.5");
  EXPECT_EQ(n->tag, "Q4_K_M");
  EXPECT_EQ(n->display(), "example.com:5000/team/My_Model-1.5:Q4_K_M");
  auto ns = Name::parse("someone/mine:v1");
  ASSERT_TRUE(ns.ok());
  EXPECT_EQ(ns->display(), "someone/mine:v1");
  // A non-default host keeps the default namespace in the display form (Ollama drops only a
  // leading run of default parts).
  auto h = Name::parse("example.com/library/x");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->display(), "example.com/library/x:latest");
}

TEST(Name, CaseInsensitiveEquality) {
  auto a = Name::parse("Registry.Ollama.AI/Library/Mistral:LATEST");
  auto b = Name::parse("mistral");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(a->equal_fold(*b));
  EXPECT_EQ(a->display(), "Mistral:LATEST");  // case preserved
  auto c = Name::parse("mistral:7b");
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->equal_fold(*b));
}

TEST(Name, Lengths) {
  EXPECT_TRUE(Name::parse(std::string(80, 'm')).ok());
  EXPECT_FALSE(Name::parse(std::string(81, 'm')).ok());
  EXPECT_FALSE(Name::parse(std::string(129, 'm')).ok());
  EXPECT_TRUE(Name::parse("m:" + std::string(80, 't')).ok());
  EXPECT_FALSE(Name::parse("m:" + std::string(81, 't')).ok());
  EXPECT_TRUE(Name::parse(std::string(80, 'n') + "/m").ok());
  EXPECT_FALSE(Name::parse(std::string(81, 'n') + "/m").ok());
  EXPECT_TRUE(Name::parse(std::string(350, 'h') + "/n/m").ok());
  EXPECT_FALSE(Name::parse(std::string(351, 'h') + "/n/m").ok());
  EXPECT_FALSE(Name::parse(std::string(100000, 'a')).ok());
}

TEST(Name, RejectsCatalogue) {
  const char* bad[] = {
      "../../etc/passwd", "a/../../b", "/abs", "/etc/passwd", "%2e%2e%2f", "%2e%2e/x", "..", ".", "a/..", "../a",
      "x/y/z/w:t", "a/b/c/d", "", ":", "m:", ":tag", "/m", "m/", "a//b", "host//m", "ns/", "a:b:c/d",
      "model+", "model:tag+", "model:tag+Q4_0", "m@sha256-abc", "bad..name", "ns.dot/model", "-lead", ".hidden",
      "m:.tag", "m:-tag", "a\\b", "a b", "a\tb", "name\n", "model\r", "mo%64el", "m?x", "m#x", "m*",
      "ｍodel",            // fullwidth m
      "mоdel",            // Cyrillic o
      "model\xE2\x81\x84x",  // fraction slash
      "caf\xC3\xA9", "\xFF", "http://host/ns/m", "https://host/ns/m",
  };
  for (const char* s : bad) {
    auto n = Name::parse(s);
    EXPECT_FALSE(n.ok()) << "accepted: " << s;
    if (!n.ok()) {
      EXPECT_EQ(n.error().code(), ErrorCode::kInvalidArgument);
    }
  }
  // NUL inside the string.
  EXPECT_FALSE(Name::parse(std::string_view("mod\0el", 6)).ok());
  EXPECT_FALSE(Name::parse(std::string_view("model\0", 6)).ok());
}

TEST(Name, PartValidation) {
  EXPECT_TRUE(is_valid_name_part(NamePart::kHost, "localhost:11434"));
  EXPECT_FALSE(is_valid_name_part(NamePart::kNamespace, "a.b"));
  EXPECT_TRUE(is_valid_name_part(NamePart::kNamespace, "a_b-c"));
  EXPECT_FALSE(is_valid_name_part(NamePart::kModel, "a:b"));
  EXPECT_FALSE(is_valid_name_part(NamePart::kTag, ".tmp-latest-1234"));  // our temp files never look like tags
  EXPECT_FALSE(is_valid_name_part(NamePart::kModel, ""));
  EXPECT_FALSE(is_valid_name_part(NamePart::kModel, ".."));
}

TEST(Digest, Valid) {
  std::string hex(64, 'a');
  auto d = parse_digest("sha256:" + hex);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, "sha256:" + hex);
  auto dash = parse_digest("sha256-" + hex, true);
  ASSERT_TRUE(dash.ok());
  EXPECT_EQ(*dash, "sha256:" + hex);
  EXPECT_EQ(blob_file_name(*d), "sha256-" + hex);
}

TEST(Digest, RejectsCatalogue) {
  std::string hex(64, 'a');
  const std::string bad[] = {
      "sha256:" + hex.substr(1), "sha256:" + hex + "a", "sha256:" + std::string(64, 'A'), "sha256:" + hex.substr(1) + "g",
      "sha256-" + hex.substr(1), "sha256:../../x", "sha256:../../" + hex.substr(6), "sha512:" + hex, hex, "",
      "sha256:", "SHA256:" + hex, "sha256:" + hex.substr(2) + "/x", "sha256:" + hex.substr(1) + std::string(1, '\0'),
      "sha256:%2e%2e" + hex.substr(6), " sha256:" + hex,
  };
  for (const auto& s : bad) EXPECT_FALSE(parse_digest(s, true).ok()) << "accepted: " << s;
  EXPECT_FALSE(parse_digest("sha256-" + hex, false).ok());  // the dash form only where asked for
}

}  // namespace
}  // namespace paddock::store
