// thinking: the state machine behind ThinkingSplitter and the template heuristic that tells
// whether the output starts inside the thinking section.
#include "server/thinking.h"

#include <cctype>

namespace paddock::server {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

size_t skip_space(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && is_space(s[i])) ++i;
  return i;
}

// Length of the longest suffix of `s` that is a proper prefix of `tag`.
size_t partial_suffix(std::string_view s, std::string_view tag) {
  size_t max = std::min(s.size(), tag.size() - 1);
  for (size_t k = max; k > 0; --k)
    if (s.substr(s.size() - k) == tag.substr(0, k)) return k;
  return 0;
}

}  // namespace

ThinkingSplitter::ThinkingSplitter(bool start_inside, std::string open, std::string close)
    : state_(start_inside ? State::kThinkingStart : State::kLooking),
      open_(std::move(open)),
      close_(std::move(close)) {}

ThinkingSplitter::Out ThinkingSplitter::push(std::string_view text) {
  pending_.append(text.data(), text.size());
  return step();
}

ThinkingSplitter::Out ThinkingSplitter::step() {
  Out out;
  for (;;) {
    switch (state_) {
      case State::kLooking: {
        // Leading whitespace, then either the opening tag (thinking) or anything else (no thinking).
        std::string_view rest = std::string_view(pending_).substr(skip_space(pending_));
        if (rest.empty()) return out;
        if (rest.size() >= open_.size() && rest.substr(0, open_.size()) == open_) {
          pending_.erase(0, pending_.size() - rest.size() + open_.size());
          state_ = State::kThinkingStart;
          continue;
        }
        if (std::string_view(open_).substr(0, rest.size()) == rest) return out;  // may still become the tag
        state_ = State::kContent;
        continue;
      }
      case State::kThinkingStart: {  // whitespace right after the opening tag is dropped
        size_t n = skip_space(pending_);
        pending_.erase(0, n);
        if (pending_.empty()) return out;
        state_ = State::kThinking;
        continue;
      }
      case State::kThinking: {
        size_t pos = pending_.find(close_);
        if (pos != std::string::npos) {
          std::string_view before = std::string_view(pending_).substr(0, pos);
          while (!before.empty() && is_space(before.back())) before.remove_suffix(1);
          out.thinking.append(before);
          pending_.erase(0, pos + close_.size());
          state_ = State::kAfterClose;
          continue;
        }
        // Emit all but a possible partial closing tag and the whitespace before it.
        size_t keep = partial_suffix(pending_, close_);
        size_t end = pending_.size() - keep;
        while (end > 0 && is_space(pending_[end - 1])) --end;
        out.thinking.append(pending_, 0, end);
        pending_.erase(0, end);
        return out;
      }
      case State::kAfterClose: {  // whitespace between the closing tag and the answer is dropped
        size_t n = skip_space(pending_);
        pending_.erase(0, n);
        if (pending_.empty()) return out;
        state_ = State::kContent;
        continue;
      }
      case State::kContent:
        out.content += pending_;
        pending_.clear();
        return out;
    }
  }
}

ThinkingSplitter::Out ThinkingSplitter::flush() {
  Out out;
  switch (state_) {
    case State::kLooking:
    case State::kContent: out.content = std::move(pending_); break;
    case State::kThinking:
    case State::kThinkingStart: {
      // Unterminated thinking: all of it is thinking (trailing whitespace dropped, as at a tag).
      std::string_view s(pending_);
      while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
      if (state_ == State::kThinking) out.thinking.assign(s);
      break;
    }
    case State::kAfterClose: break;
  }
  pending_.clear();
  state_ = State::kContent;
  return out;
}

bool template_opens_thinking(std::string_view tmpl, std::string_view open, std::string_view close) {
  size_t pos = tmpl.rfind(open);
  if (pos == std::string_view::npos) return false;
  std::string_view rest = tmpl.substr(pos + open.size());
  if (rest.find(close) != std::string_view::npos || rest.size() > 400) return false;
  for (size_t i = 0; i < rest.size();) {
    char c = rest[i];
    if (is_space(c) || c == '\'' || c == '"' || c == '{' || c == '}' || c == '%' || c == '-' || c == '+') {
      ++i;
    } else if (c == '\\' && i + 1 < rest.size() && (rest[i + 1] == 'n' || rest[i + 1] == 't')) {
      i += 2;
    } else if (std::isalpha(static_cast<unsigned char>(c))) {
      size_t j = i;
      while (j < rest.size() && (std::isalnum(static_cast<unsigned char>(rest[j])) || rest[j] == '_')) ++j;
      std::string_view word = rest.substr(i, j - i);
      if (word != "end" && word != "endif" && word != "endfor" && word != "endraw") return false;
      i = j;
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace paddock::server
