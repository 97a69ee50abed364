// Model names and digests: parsing and strict validation. Nothing here touches the filesystem;
// every path the store builds is made only of parts that passed these checks.
#include <cctype>

#include "store/store.h"

namespace paddock::store {
namespace {

bool is_alnum_or_underscore(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool fold_eq(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

size_t max_len(NamePart kind) { return kind == NamePart::kHost ? 350 : 80; }

const char* part_name(NamePart kind) {
  switch (kind) {
    case NamePart::kHost: return "host";
    case NamePart::kNamespace: return "namespace";
    case NamePart::kModel: return "model";
    case NamePart::kTag: return "tag";
  }
  return "part";
}

Status check_part(NamePart kind, std::string_view s) {
  if (!is_valid_name_part(kind, s)) {
    if (s.empty()) return make_error(ErrorCode::kInvalidArgument, "invalid model name: empty {}", part_name(kind));
    if (s.size() > max_len(kind)) {
      return make_error(ErrorCode::kInvalidArgument, "invalid model name: {} longer than {} characters",
                        part_name(kind), max_len(kind));
    }
    return make_error(ErrorCode::kInvalidArgument, "invalid model name: bad character in {}", part_name(kind));
  }
  return Status::Ok();
}

}  // namespace

bool is_valid_name_part(NamePart kind, std::string_view s) {
  if (s.empty() || s.size() > max_len(kind)) return false;
  if (!is_alnum_or_underscore(s[0])) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (is_alnum_or_underscore(c) || c == '-') continue;
    if (c == '.' && kind != NamePart::kNamespace) {
      if (i + 1 < s.size() && s[i + 1] == '.') return false;  // no ".." anywhere
      continue;
    }
    if (c == ':' && kind == NamePart::kHost) continue;  // port
    return false;
  }
  return true;
}

Result<Name> Name::parse(std::string_view s) {
  if (s.empty()) return make_error(ErrorCode::kInvalidArgument, "invalid model name: empty");
  if (s.size() > kMaxNameLength) {
    return make_error(ErrorCode::kInvalidArgument, "invalid model name: longer than {} characters", kMaxNameLength);
  }
  // Only printable ASCII may appear at all; this rejects NUL, control characters, %-escapes
  // are caught by the part grammar, and every non-ASCII byte (homoglyphs, fullwidth slashes).
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u > 0x7e) {
      return make_error(ErrorCode::kInvalidArgument, "invalid model name: only ASCII letters, digits and ._-:/ are allowed");
    }
  }
  std::vector<std::string_view> segs;
  size_t start = 0;
  for (;;) {
    size_t slash = s.find('/', start);
    segs.push_back(s.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  if (segs.size() > 3) return make_error(ErrorCode::kInvalidArgument, "invalid model name: too many parts");
  Name n;
  std::string_view last = segs.back();
  size_t colon = last.rfind(':');
  std::string_view model = colon == std::string_view::npos ? last : last.substr(0, colon);
  std::string_view tag = colon == std::string_view::npos ? kDefaultTag : last.substr(colon + 1);
  if (colon != std::string_view::npos && tag.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "invalid model name: empty tag");
  }
  RETURN_IF_ERROR(check_part(NamePart::kModel, model));
  RETURN_IF_ERROR(check_part(NamePart::kTag, tag));
  n.model = std::string(model);
  n.tag = std::string(tag);
  n.ns = std::string(kDefaultNamespace);
  n.host = std::string(kDefaultHost);
  if (segs.size() >= 2) {
    std::string_view ns = segs[segs.size() - 2];
    RETURN_IF_ERROR(check_part(NamePart::kNamespace, ns));
    n.ns = std::string(ns);
  }
  if (segs.size() == 3) {
    RETURN_IF_ERROR(check_part(NamePart::kHost, segs[0]));
    n.host = std::string(segs[0]);
  }
  return n;
}

std::string Name::full() const { return host + "/" + ns + "/" + model + ":" + tag; }

std::string Name::display() const {
  // Drop host, then namespace, while they equal the defaults (left to right, as Ollama does).
  std::string out;
  bool host_default = fold_eq(host, kDefaultHost);
  if (!host_default) out = host + "/" + ns + "/";
  else if (!fold_eq(ns, kDefaultNamespace)) out = ns + "/";
  return out + model + ":" + tag;
}

bool Name::equal_fold(const Name& o) const {
  return fold_eq(host, o.host) && fold_eq(ns, o.ns) && fold_eq(model, o.model) &&
         fold_eq(tag, o.tag);
}

std::vector<std::string> Name::manifest_components() const {
  // Invariant: only validated names exist (parse, or parts checked when listing).
  assert(is_valid_name_part(NamePart::kHost, host) && is_valid_name_part(NamePart::kNamespace, ns) &&
         is_valid_name_part(NamePart::kModel, model) && is_valid_name_part(NamePart::kTag, tag));
  return {"manifests", host, ns, model, tag};
}

Result<std::string> parse_digest(std::string_view s, bool accept_dash) {
  constexpr std::string_view kColon = "sha256:";
  constexpr std::string_view kDash = "sha256-";
  std::string_view hex;
  if (s.substr(0, kColon.size()) == kColon) hex = s.substr(kColon.size());
  else if (accept_dash && s.substr(0, kDash.size()) == kDash) hex = s.substr(kDash.size());
  else return make_error(ErrorCode::kInvalidArgument, "invalid digest: expected sha256:<64 hex characters>");
  if (hex.size() != 64) return make_error(ErrorCode::kInvalidArgument, "invalid digest: expected 64 hex characters");
  for (char c : hex) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return make_error(ErrorCode::kInvalidArgument, "invalid digest: expected lowercase hex");
    }
  }
  return std::string(kColon) + std::string(hex);
}

std::string blob_file_name(std::string_view digest) {
  assert(digest.size() == 71 && digest.substr(0, 7) == "sha256:");
  return "sha256-" + std::string(digest.substr(7));
}

}  // namespace paddock::store
