// HTTP layer tests over raw sockets: keep-alive, chunked streaming, caps (413/431), framing
// conflicts (400), slow headers (408), disconnect detection, 100-continue, HEAD, pipelining.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
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
  std::atomic<int> smuggled{0};    // requests whose target says they were smuggled in a body
  std::mutex mu;

  explicit Fixture(HttpLimits lim = {}) {
    srv = HttpServer::create(2, lim, [this](HttpRequest&& r, std::shared_ptr<Exchange> ex) {
      if (r.target.find("smuggled") != std::string::npos) smuggled++;
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

// Request smuggling (RFC 9112 §6.3): a Transfer-Encoding other than one final "chunked" is a 400
// and the connection closes, so the body can never be read as a second request.
TEST(Http, UnknownTransferEncodingIs400AndCloses) {
  Fixture f;
  for (std::string te :
       {"xchunked", "identity", "", "chunked, identity", "gzip, chunked", "chunked\r\nTransfer-Encoding: x"}) {
    RawClient c(f.port());
    std::string smuggled = "GET /echo?smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
    c.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + te + "\r\n\r\n" + smuggled);
    std::string r = c.read_response();
    EXPECT_EQ(r.rfind("HTTP/1.1 400", 0), 0u) << te << ": " << r;
    EXPECT_NE(r.find("Connection: close"), std::string::npos) << te;
    EXPECT_TRUE(c.wait_closed(3000)) << te;
    EXPECT_EQ(f.smuggled.load(), 0) << te;
  }
}

// Chunk lines must end in CRLF: a bare LF is a 400 at once, not a wait for the body timeout.
TEST(Http, BareLfChunkedBodyIs400NotAHang) {
  HttpLimits lim;
  lim.body_timeout_ms = 20000;
  Fixture f(lim);
  RawClient c(f.port());
  auto t0 = std::chrono::steady_clock::now();
  c.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n");
  std::string r = c.read_response(3000);
  EXPECT_EQ(r.rfind("HTTP/1.1 400", 0), 0u) << r;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
  EXPECT_TRUE(c.wait_closed(3000));
}

// A chunk-size line without an end is bounded too (it is not body bytes, so the body cap alone
// would not stop it).
TEST(Http, EndlessChunkSizeLineIs400) {
  Fixture f;
  RawClient c(f.port());
  c.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;" + std::string(200000, 'a'));
  std::string r = c.read_response(3000);
  EXPECT_EQ(r.rfind("HTTP/1.1 400", 0), 0u) << r.substr(0, 200);
}

// A chunk bigger than the body cap is refused when its size line arrives, before its data.
TEST(Http, ChunkLargerThanTheCapIsRefusedAtItsSizeLine) {
  HttpLimits lim;
  lim.max_body = 1000;
  Fixture f(lim);
  RawClient c(f.port());
  c.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n7fffffff\r\nabc");
  std::string r = c.read_response(3000);
  EXPECT_EQ(r.rfind("HTTP/1.1 413", 0), 0u) << r;
}

// Bare-LF request heads are refused at once too.
TEST(Http, BareLfHeaderIs400) {
  Fixture f;
  RawClient c(f.port());
  c.send("GET /echo HTTP/1.1\nHost: x\n\n");
  std::string r = c.read_response(3000);
  EXPECT_EQ(r.rfind("HTTP/1.1 400", 0), 0u) << r;
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

// Quietly: the server closes without writing a byte (no 408 to a client that asked nothing), both
// on a connection that never sent anything and on a keep-alive one after its response.
TEST(Http, IdleConnectionIsClosedQuietly) {
  HttpLimits lim;
  lim.header_timeout_ms = 300;
  Fixture f(lim);
  {
    RawClient c(f.port());
    std::string got = c.read_until("\x01\x02never", 10000);  // everything until the close
    EXPECT_TRUE(c.wait_closed(0)) << "still open";
    EXPECT_EQ(got, "") << "an idle connection was answered";
  }
  {
    RawClient c(f.port());
    c.send("GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_NE(c.read_response().find("HTTP/1.1 200 OK"), std::string::npos);
    std::string got = c.read_until("\x01\x02never", 10000);
    EXPECT_TRUE(c.wait_closed(0)) << "still open";
    EXPECT_EQ(got, "") << "an idle keep-alive connection was answered";
  }
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

namespace paddock::server {
namespace {

// A sink that records what it receives and whether it was destroyed.
struct CountingSink : BodySink {
  std::atomic<size_t>* bytes;
  std::atomic<int>* alive;
  size_t fail_after;
  CountingSink(std::atomic<size_t>* b, std::atomic<int>* a, size_t fail) : bytes(b), alive(a), fail_after(fail) {
    ++*alive;
  }
  ~CountingSink() override { --*alive; }
  Status write(std::string_view d) override {
    *bytes += d.size();
    if (*bytes > fail_after) return make_error(ErrorCode::kResourceExhausted, "sink is full");
    return Status::Ok();
  }
  int error_status() const override { return 507; }
};

// A sink that cannot open (no room on the disk): the request is refused before its body.
struct NoRoomSink : BodySink {
  std::atomic<int>* alive;
  explicit NoRoomSink(std::atomic<int>* a) : alive(a) { ++*alive; }
  ~NoRoomSink() override { --*alive; }
  Status open() override { return make_error(ErrorCode::kResourceExhausted, "not enough disk space"); }
  Status write(std::string_view) override { return Status::Ok(); }
  int error_status() const override { return 507; }
};

struct SinkFixture {
  std::unique_ptr<HttpServer> srv;
  std::atomic<size_t> bytes{0};
  std::atomic<int> alive{0};
  std::atomic<int> handled{0};
  size_t fail_after = SIZE_MAX;

  explicit SinkFixture(HttpLimits lim = {}) {
    srv = HttpServer::create(
        2, lim,
        [this](HttpRequest&& r, std::shared_ptr<Exchange> ex) {
          handled++;
          ex->respond(201, "text/plain",
                      std::string(r.sink ? "sink " : "body ") + std::to_string(bytes.load()) + " " +
                          std::to_string(r.body.size()));
        },
        [this](const HttpRequest& r, int* status, std::string* err) -> std::shared_ptr<BodySink> {
          if (r.path == "/up/refuse") {
            *status = 400;
            *err = "bad digest";
            return nullptr;
          }
          if (r.path.rfind("/up/", 0) != 0) return nullptr;
          if (r.path == "/up/noroom") return std::make_shared<NoRoomSink>(&alive);
          return std::make_shared<CountingSink>(&bytes, &alive, fail_after);
        });
    EXPECT_TRUE(srv->listen("127.0.0.1", 0).ok());
    srv->start();
  }
  ~SinkFixture() { srv->stop(); }
};

TEST(HttpSink, BodyStreamsToTheSinkNotIntoMemory) {
  HttpLimits lim;
  lim.max_body = 1000;  // the sink route is not bound by the JSON body limit
  lim.upload_prefix = "/up/";
  SinkFixture f(lim);
  RawClient c(f.srv->port());
  std::string body(300000, 'z');
  c.send("POST /up/x HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  std::string r = c.read_response();
  EXPECT_NE(r.find("HTTP/1.1 201"), std::string::npos) << r;
  EXPECT_NE(r.find("sink 300000 0"), std::string::npos) << r;
  // Chunked uploads too; other routes still buffer.
  c.send("POST /up/y HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
  EXPECT_NE(c.read_response().find("sink 300003 0"), std::string::npos);
  c.send("POST /other HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
  EXPECT_NE(c.read_response().find("body 300003 5"), std::string::npos);
}

TEST(HttpSink, RefusedBeforeTheBodyAndSinkErrorsAnswerWithItsStatus) {
  HttpLimits lim;
  lim.upload_prefix = "/up/";
  lim.max_upload = 1u << 20;
  SinkFixture f(lim);
  {
    RawClient c(f.srv->port());
    c.send("POST /up/refuse HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n");
    std::string r = c.read_response();
    EXPECT_NE(r.find("HTTP/1.1 400"), std::string::npos) << r;
    EXPECT_NE(r.find("bad digest"), std::string::npos) << r;
  }
  {
    RawClient c(f.srv->port());
    c.send("POST /up/x HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n");
    EXPECT_NE(c.read_response().find("HTTP/1.1 413"), std::string::npos);
  }
  f.fail_after = 1000;
  {
    RawClient c(f.srv->port());
    c.send("POST /up/x HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + std::string(5000, 'q'));
    std::string r = c.read_response();
    EXPECT_NE(r.find("HTTP/1.1 507"), std::string::npos) << r;
    EXPECT_NE(r.find("sink is full"), std::string::npos) << r;
  }
  EXPECT_EQ(f.handled.load(), 0);
  for (int i = 0; i < 200 && f.alive.load() != 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(f.alive.load(), 0);
}

TEST(HttpSink, DisconnectMidBodyDestroysTheSink) {
  HttpLimits lim;
  lim.upload_prefix = "/up/";
  SinkFixture f(lim);
  {
    RawClient c(f.srv->port());
    c.send("POST /up/x HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n" + std::string(50000, 'a'));
    for (int i = 0; i < 200 && f.bytes.load() < 50000; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_EQ(f.bytes.load(), 50000u);
    EXPECT_EQ(f.alive.load(), 1);
  }  // client closes mid-body
  for (int i = 0; i < 300 && f.alive.load() != 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(f.alive.load(), 0);
  EXPECT_EQ(f.handled.load(), 0);
}

// Uploads are bound by the idle time between reads, not by body_timeout_ms. No step depends on
// the machine being fast: waits for the server are waits for what it did (bytes the sink got),
// and the one sleep only has to last at least as long as something (sleep_for never returns early).
TEST(HttpSink, UploadOutlivesBodyTimeoutWhileBytesArrive) {
  HttpLimits lim;
  lim.upload_prefix = "/up/";
  lim.upload_idle_timeout_ms = 600000;  // never reached here
  lim.body_timeout_ms = 1;              // would end any upload at once if it applied to sink bodies
  SinkFixture f(lim);
  RawClient c(f.srv->port());
  c.send("POST /up/x HTTP/1.1\r\nHost: x\r\nContent-Length: 30\r\n\r\naaaaa");
  for (int i = 0; i < 3000 && f.bytes.load() < 5; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(f.bytes.load(), 5u);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // 50x body_timeout_ms since the header
  c.send(std::string(25, 'a'));
  std::string r = c.read_response(30000);
  EXPECT_NE(r.find("HTTP/1.1 201"), std::string::npos) << r;
  EXPECT_NE(r.find("sink 30 0"), std::string::npos) << r;
  EXPECT_EQ(f.handled.load(), 1);
}

// The idle timeout itself: the header and 15 of 30 bytes come in one segment, then nothing.
TEST(HttpSink, IdleUploadTimesOutWith408) {
  HttpLimits lim;
  lim.upload_prefix = "/up/";
  lim.upload_idle_timeout_ms = 100;
  SinkFixture f(lim);
  RawClient c(f.srv->port());
  c.send("POST /up/x HTTP/1.1\r\nHost: x\r\nContent-Length: 30\r\n\r\n" + std::string(15, 'a'));
  std::string r = c.read_response(30000);
  EXPECT_NE(r.find("HTTP/1.1 408"), std::string::npos) << r;
  EXPECT_TRUE(c.wait_closed(30000));
  for (int i = 0; i < 3000 && f.alive.load() != 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(f.alive.load(), 0);  // the sink (and what it held) is gone
  EXPECT_EQ(f.bytes.load(), 15u);
  EXPECT_EQ(f.handled.load(), 0);
}

// A sink's open() runs before the body is read: a failure there is the answer, and a client
// waiting on 100-continue gets it instead of "100 Continue".
TEST(HttpSink, OpenFailureAnswersBeforeTheBody) {
  HttpLimits lim;
  lim.upload_prefix = "/up/";
  SinkFixture f(lim);
  RawClient c(f.srv->port());
  c.send("POST /up/noroom HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\nExpect: 100-continue\r\n\r\n");
  std::string r = c.read_response();
  EXPECT_EQ(r.find("100 Continue"), std::string::npos) << r;
  EXPECT_NE(r.find("HTTP/1.1 507"), std::string::npos) << r;
  EXPECT_NE(r.find("not enough disk space"), std::string::npos) << r;
  EXPECT_EQ(f.handled.load(), 0);
  for (int i = 0; i < 300 && f.alive.load() != 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(f.alive.load(), 0);
}

// A disk that does not keep up: the sink's write() blocks until the test opens the gate.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  std::atomic<int> waiting{0};
  std::atomic<size_t> bytes{0};
  void pass() {
    ++waiting;
    std::unique_lock lk(mu);
    cv.wait(lk, [this] { return open; });
  }
  void release() {
    {
      std::lock_guard lk(mu);
      open = true;
    }
    cv.notify_all();
  }
};

struct GatedSink : BodySink {
  Gate* gate;
  explicit GatedSink(Gate* g) : gate(g) {}
  Status write(std::string_view d) override {
    gate->pass();
    gate->bytes += d.size();
    return Status::Ok();
  }
};

// The sink blocks (a slow disk) while the client sends 32 MiB with one I/O thread: other requests
// are still answered (the write is not on the I/O thread), the server stops reading the upload
// (what it holds stays near upload_buffer; the client waits in TCP flow control), and once the
// sink goes on every byte arrives. Before the sink writers, the one I/O thread sat in write().
TEST(HttpSink, SlowSinkPausesTheUploadNotTheIoThread) {
  Gate gate;
  HttpLimits lim;
  lim.upload_prefix = "/up/";
  lim.upload_buffer = 256u << 10;
  auto srv = HttpServer::create(
      1, lim,
      [](HttpRequest&& r, std::shared_ptr<Exchange> ex) {
        ex->respond(r.sink ? 201 : 200, "text/plain", r.sink ? "stored" : "pong");
      },
      [&gate](const HttpRequest& r, int*, std::string*) -> std::shared_ptr<BodySink> {
        if (r.path.rfind("/up/", 0) != 0) return nullptr;
        return std::make_shared<GatedSink>(&gate);
      });
  ASSERT_TRUE(srv->listen("127.0.0.1", 0).ok());
  srv->start();
  const size_t total = 32u << 20;
  RawClient up(srv->port());
  std::thread sender([&] {
    up.send("POST /up/x HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(total) + "\r\n\r\n");
    std::string piece(1u << 20, 'u');
    for (size_t sent = 0; sent < total; sent += piece.size()) up.send(piece);
  });
  for (int i = 0; i < 1000 && gate.waiting.load() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_GT(gate.waiting.load(), 0);
  {
    RawClient c(srv->port());
    c.send("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n");
    std::string r = c.read_response(3000);
    EXPECT_NE(r.find("pong"), std::string::npos) << "not answered while the sink was blocked: " << r;
  }
  // However long the sink stays blocked, the server holds one buffer and a read of this upload.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_LE(srv->body_memory(), lim.upload_buffer + (64u << 10));
  EXPECT_GT(srv->body_memory(), 0u);
  gate.release();
  sender.join();
  std::string r = up.read_response(60000);
  EXPECT_NE(r.find("HTTP/1.1 201"), std::string::npos) << r;
  EXPECT_EQ(gate.bytes.load(), total);
  EXPECT_EQ(srv->body_memory(), 0u);
  srv->stop();
}

}  // namespace
}  // namespace paddock::server
