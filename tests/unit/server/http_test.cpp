// HTTP layer tests over raw sockets: keep-alive, chunked streaming, caps (413/431), framing
// conflicts (400), slow headers (408), disconnect detection, 100-continue, HEAD, pipelining.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "server/http.h"
#include "test_client.h"

namespace paddock::server {
namespace {

using testing::RawClient;

struct Fixture {
  std::unique_ptr<HttpServer> srv;
  std::atomic<int> disconnects{0};
  std::shared_ptr<Exchange> held;  // a stream left open for the disconnect test
  std::mutex mu;

  explicit Fixture(HttpLimits lim = {}) {
    srv = HttpServer::create(2, lim, [this](HttpRequest&& r, std::shared_ptr<Exchange> ex) {
      if (r.path == "/echo") {
        std::string body = r.method + " " + r.target + " " + std::to_string(r.body.size()) + " " + r.header("x-test");
        return ex->respond(200, "text/plain", body);
      }
      if (r.path == "/stream") {
        ex->start_stream(200, "application/x-ndjson");
        for (int i = 0; i < 3; ++i) ex->write("{\"i\":" + std::to_string(i) + "}\n");
        return ex->finish();
      }
      if (r.path == "/hang") {  // never answers until the client leaves
        ex->on_disconnect([this] { disconnects++; });
        std::lock_guard lk(mu);
        held = ex;
        return;
      }
      ex->respond(404, "text/plain", "nope");
    });
    EXPECT_TRUE(srv->listen("127.0.0.1", 0).ok());
    srv->start();
  }
  ~Fixture() { srv->stop(); }
  uint16_t port() const { return srv->port(); }
};

TEST(Http, KeepAliveServesSeveralRequestsOnOneConnection) {
  Fixture f;
  RawClient c(f.port());
  ASSERT_TRUE(c.ok());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(c.send("GET /echo?x=" + std::to_string(i) + " HTTP/1.1\r\nHost: localhost\r\nX-Test: hi\r\n\r\n"));
    std::string r = c.read_response();
    EXPECT_NE(r.find("HTTP/1.1 200 OK"), std::string::npos) << r;
    EXPECT_NE(r.find("GET /echo?x=" + std::to_string(i) + " 0 hi"), std::string::npos) << r;
    EXPECT_EQ(r.find("Connection: close"), std::string::npos);
  }
}

TEST(Http, PostBodyWithContentLengthAndChunked) {
  Fixture f;
  RawClient c(f.port());
  c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
  std::string r1 = c.read_response();
  EXPECT_NE(r1.find("POST /echo 5"), std::string::npos) << r1;
  c.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n");
  EXPECT_NE(c.read_response().find("POST /echo 7"), std::string::npos);
}

TEST(Http, ChunkedStreamingFraming) {
  Fixture f;
  RawClient c(f.port());
  c.send("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string r = c.read_response();
  EXPECT_NE(r.find("Transfer-Encoding: chunked"), std::string::npos);
  EXPECT_NE(r.find("\r\n\r\n8\r\n{\"i\":0}\n\r\n8\r\n{\"i\":1}\n\r\n8\r\n{\"i\":2}\n\r\n0\r\n\r\n"), std::string::npos) << r;
  // The connection stays usable after a stream.
  c.send("GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(c.read_response().find("200 OK"), std::string::npos);
}

TEST(Http, OversizedBodyIs413BeforeReadingIt) {
  HttpLimits lim;
  lim.max_body = 1000;
  Fixture f(lim);
  RawClient c(f.port());
  c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2147483648\r\n\r\n");
  std::string r = c.read_response();
  EXPECT_NE(r.find("HTTP/1.1 413"), std::string::npos) << r;
  EXPECT_TRUE(c.wait_closed());
}

TEST(Http, OversizedChunkedBodyIs413) {
  HttpLimits lim;
  lim.max_body = 1000;
  Fixture f(lim);
  RawClient c(f.port());
  std::string chunk(600, 'a');
  c.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n258\r\n" + chunk + "\r\n258\r\n" + chunk + "\r\n0\r\n\r\n");
  EXPECT_NE(c.read_response().find("HTTP/1.1 413"), std::string::npos);
}

TEST(Http, TooManyHeadersIs431) {
  Fixture f;
  RawClient c(f.port());
  std::string req = "GET /echo HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 1000; ++i) req += "X-H" + std::to_string(i) + ": v\r\n";
  c.send(req + "\r\n");
  EXPECT_NE(c.read_response().find("HTTP/1.1 431"), std::string::npos);
}

TEST(Http, HugeHeaderIs431) {
  Fixture f;
  RawClient c(f.port());
  c.send("GET /echo HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(100 * 1024, 'a') + "\r\n\r\n");
  EXPECT_NE(c.read_response().find("HTTP/1.1 431"), std::string::npos);
}

TEST(Http, ContentLengthWithTransferEncodingIs400) {
  Fixture f;
  for (std::string order : {"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
                            "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n"}) {
    RawClient c(f.port());
    c.send("POST /echo HTTP/1.1\r\nHost: x\r\n" + order + "\r\n5\r\nhello\r\n0\r\n\r\n");
    std::string r = c.read_response();
    EXPECT_NE(r.find("HTTP/1.1 400"), std::string::npos) << r;
    EXPECT_TRUE(c.wait_closed());
  }
}

TEST(Http, GarbageIs400) {
  Fixture f;
  RawClient c(f.port());
  c.send("\x16\x03\x01 not http at all\r\n\r\n");
  EXPECT_NE(c.read_response().find("HTTP/1.1 400"), std::string::npos);
}

TEST(Http, SlowHeadersGet408) {
  HttpLimits lim;
  lim.header_timeout_ms = 300;
  Fixture f(lim);
  RawClient c(f.port());
  c.send("GET /echo HTTP/1.1\r\nHo");  // and then nothing (slowloris)
  std::string r = c.read_response(3000);
  EXPECT_NE(r.find("HTTP/1.1 408"), std::string::npos) << r;
  EXPECT_TRUE(c.wait_closed());
}

TEST(Http, IdleConnectionIsClosedQuietly) {
  HttpLimits lim;
  lim.header_timeout_ms = 200;
  Fixture f(lim);
  RawClient c(f.port());
  EXPECT_TRUE(c.wait_closed(3000));
}

TEST(Http, ClientDisconnectIsReported) {
  Fixture f;
  {
    RawClient c(f.port());
    c.send("GET /hang HTTP/1.1\r\nHost: x\r\n\r\n");
    for (int i = 0; i < 100 && !f.held; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }  // closes
  for (int i = 0; i < 200 && f.disconnects == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(f.disconnects.load(), 1);
  std::lock_guard lk(f.mu);
  ASSERT_TRUE(f.held);
  EXPECT_TRUE(f.held->disconnected());
  EXPECT_FALSE(f.held->write("late"));
}

TEST(Http, ExpectContinue) {
  Fixture f;
  RawClient c(f.port());
  c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
  std::string interim = c.read_until("\r\n\r\n");
  EXPECT_NE(interim.find("HTTP/1.1 100 Continue"), std::string::npos);
  c.send("abc");
  EXPECT_NE(c.read_response().find("POST /echo 3"), std::string::npos);
}

TEST(Http, HeadHasNoBody) {
  Fixture f;
  RawClient c(f.port());
  c.send("HEAD /echo HTTP/1.1\r\nHost: x\r\n\r\nGET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string head = c.read_until("\r\n\r\n");
  EXPECT_NE(head.find("Content-Length: 13"), std::string::npos) << head;  // "HEAD /echo 0 "
  std::string next = c.read_response();
  EXPECT_EQ(next.rfind("HTTP/1.1 200 OK", 0), 0u) << next;  // pipelined request answered next
  EXPECT_NE(next.find("GET /echo 0"), std::string::npos);
}

TEST(Http, Http10ClosesAfterResponse) {
  Fixture f;
  RawClient c(f.port());
  c.send("GET /echo HTTP/1.0\r\n\r\n");
  std::string r = c.read_response();
  EXPECT_NE(r.find("Connection: close"), std::string::npos);
  EXPECT_TRUE(c.wait_closed());
}

TEST(Http, ManyConcurrentConnections) {
  Fixture f;
  std::vector<std::unique_ptr<RawClient>> cs;
  for (int i = 0; i < 200; ++i) {
    cs.push_back(std::make_unique<RawClient>(f.port()));
    ASSERT_TRUE(cs.back()->ok());
    cs.back()->send("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
  }
  for (auto& c : cs) EXPECT_NE(c->read_response().find("0\r\n\r\n"), std::string::npos);
}

}  // namespace
}  // namespace paddock::server
