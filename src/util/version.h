// The versions a Paddock build reports.
#pragma once

namespace paddock {

// The Ollama API version /api/version reports, because clients decide what to use from it. The
// rule (docs/API.md): the newest Ollama release whose routes and fields this build serves, the
// differences listed there aside; raised when a route or field that clients gate on lands.
inline constexpr const char* kOllamaApiVersion = "0.13.2";

}  // namespace paddock
