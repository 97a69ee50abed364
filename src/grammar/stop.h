// Stop sequences matched on generated text across token boundaries: text that could still turn
// into a stop string is held back, and a stop string itself is never emitted.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace paddock::grammar {

// Limits on a request's stop strings, shared with the server's request checks (each push costs
// O(stops x longest stop), so these bound the matcher's work per token).
inline constexpr size_t kMaxStops = 64;
inline constexpr size_t kMaxStopBytes = 1024;

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops);
  // Feeds newly decoded text; returns the text that is now safe to emit. When a stop string
  // completes, returns only what precedes it and stopped() becomes true (later pushes return "").
  std::string push(std::string_view text);
  bool stopped() const { return stopped_; }
  // Generation ended for another reason: the held-back text was not a stop after all.
  std::string flush();

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool stopped_ = false;
};

}  // namespace paddock::grammar
