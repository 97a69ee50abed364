// Stop strings across token boundaries: held-back text, never emitting the stop, earliest match.
#include "grammar/stop.h"

#include <gtest/gtest.h>

namespace paddock::engine {
namespace {

using namespace paddock::grammar;  // what these tests exercise (src/grammar)

std::string feed(StopMatcher& m, std::vector<std::string> pieces) {
  std::string out;
  for (const auto& p : pieces) out += m.push(p);
  return out;
}

TEST(Stop, AcrossTokenBoundaries) {
  StopMatcher m({"\n\nUser:"});
  EXPECT_EQ(m.push("Hello"), "Hello");
  EXPECT_EQ(m.push("\n"), "");  // could be the start of the stop string
  EXPECT_EQ(m.push("\n"), "");
  EXPECT_EQ(m.push("Us"), "");
  EXPECT_FALSE(m.stopped());
  EXPECT_EQ(m.push("er: more"), "");
  EXPECT_TRUE(m.stopped());
  EXPECT_EQ(m.push("x"), "");
  EXPECT_EQ(m.flush(), "");
}

TEST(Stop, HeldTextIsReleasedWhenItDiverges) {
  StopMatcher m({"END"});
  EXPECT_EQ(m.push("abE"), "ab");
  EXPECT_EQ(m.push("N"), "");
  EXPECT_EQ(m.push("x"), "ENx");
  EXPECT_EQ(m.push("EN"), "");
  EXPECT_EQ(m.flush(), "EN");  // generation ended otherwise: held text was real output
}

TEST(Stop, TextBeforeStopInSamePiece) {
  StopMatcher m({"</s>"});
  EXPECT_EQ(m.push("done.</s>trailing"), "done.");
  EXPECT_TRUE(m.stopped());
}

TEST(Stop, EarliestMatchWins) {
  StopMatcher m({"cd", "bcde"});
  std::string out = feed(m, {"abc", "def"});
  EXPECT_EQ(out, "a");
  EXPECT_TRUE(m.stopped());
  StopMatcher m2({"cd", "bcde"});
  EXPECT_EQ(m2.push("abcdef"), "a");
}

TEST(Stop, MultiByteAndRepeatedPrefix) {
  StopMatcher m({"ää!"});
  std::string out = feed(m, {"x", "ä", "ä", "ä", "!"});
  EXPECT_EQ(out, "xä");
  EXPECT_TRUE(m.stopped());
  StopMatcher none({});
  EXPECT_EQ(feed(none, {"a", "b"}), "ab");
  StopMatcher empty({""});  // empty stop strings are ignored, never match everything
  EXPECT_EQ(empty.push("a"), "a");
  EXPECT_FALSE(empty.stopped());
}

}  // namespace
}  // namespace paddock::engine
