// Runner protocol framing: round trips, byte-at-a-time feeding, caps and garbage.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include "runner/runner.h"

namespace paddock::runner {
namespace {

using json = nlohmann::json;

TEST(Frames, RoundTripByteByByte) {
  std::string wire = encode_frame(json{{"type", "token"}, {"id", 7}, {"text", "héllo"}}) +
                     encode_frame(json{{"type", "done"}, {"id", 7}});
  EXPECT_EQ(uint8_t(wire[0]), wire.find('}') - 3);  // little-endian length of the first frame
  FrameDecoder d;
  std::vector<json> got;
  for (char c : wire) {
    d.feed(&c, 1);
    auto f = d.next();
    ASSERT_TRUE(f.ok());
    if (f->has_value()) got.push_back(**f);
  }
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0]["text"], "héllo");
  EXPECT_EQ(got[1]["type"], "done");
}

TEST(Frames, OversizedAndGarbageAreErrors) {
  FrameDecoder d;
  const char huge[4] = {'\xff', '\xff', '\xff', '\x7f'};
  d.feed(huge, 4);
  EXPECT_FALSE(d.next().ok());
  FrameDecoder g;
  std::string bad = std::string("\x03\x00\x00\x00", 4) + "abc";
  g.feed(bad.data(), bad.size());
  EXPECT_FALSE(g.next().ok());
  FrameDecoder a;
  std::string arr = std::string("\x02\x00\x00\x00", 4) + "[]";
  a.feed(arr.data(), arr.size());
  EXPECT_FALSE(a.next().ok());  // frames are objects
}

TEST(Frames, SocketHelpers) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  ASSERT_TRUE(write_frame(sv[0], json{{"type", "stats"}}).ok());
  auto r = read_frame(sv[1]);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)["type"], "stats");
  close(sv[0]);
  auto eof = read_frame(sv[1]);
  ASSERT_FALSE(eof.ok());
  EXPECT_EQ(eof.error().message(), "closed");
  close(sv[1]);
}

}  // namespace
}  // namespace paddock::runner
