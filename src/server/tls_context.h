// tls_context: what TlsContext is, for tls.cpp and http.cpp only (keeps Asio's SSL headers out of
// every file that includes http.h or server.h).
#pragma once
#include <boost/asio/ssl/context.hpp>

namespace paddock::server {

class TlsContext {
 public:
  boost::asio::ssl::context ctx{boost::asio::ssl::context::tls_server};
};

}  // namespace paddock::server
