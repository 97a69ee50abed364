// `paddock keys create|list|revoke|rotate`: manages the API keys file `paddock serve --keys-file`
// reads. The file holds salted hashes only; a new key's token is printed once, on stdout (so
// `KEY=$(paddock keys create ...)` works). Writes are atomic (temp file, fsync, rename) and
// serialized with a lock file; a running server picks the change up by itself.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "server/auth.h"
#include "server/server.h"

namespace paddock::cli {
namespace {

using server::KeyEntry;
using server::KeyFile;

struct KeysFlags {
  std::string file, role = "user", name, expires, id, grace = "0";
  std::vector<std::string> models;
  int64_t rpm = 0, tpm = 0, streams = 0;
  bool json = false;
};

int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

int fail(const std::string& msg) {
  std::cerr << "Error: " << msg << "\n";
  return 1;
}

// "30d", "12h", "90m" (Go-style durations) from now, or a date/time, or "" (never).
Result<int64_t> parse_expiry(const std::string& s) {
  if (s.empty() || s == "never") return int64_t(0);
  if (s.size() > 1 && s.back() == 'd' && s.find_first_not_of("0123456789") == s.size() - 1)
    return now_s() + std::stoll(s.substr(0, s.size() - 1)) * 86400;
  if (auto d = server::parse_duration_ns(s);
      d.ok() && *d >= 0 && s.find_first_not_of("0123456789") != std::string::npos)
    return now_s() + *d / 1000000000;
  return server::parse_time(s);
}

// Holds an exclusive lock on "<file>.lock" while a command reads and rewrites the file.
class FileLock {
 public:
  explicit FileLock(const std::string& path) {
    fd_ = ::open((path + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ >= 0) ::flock(fd_, LOCK_EX);
  }
  ~FileLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

Result<KeyFile> load(const std::string& path, bool may_be_missing) {
  if (may_be_missing && ::access(path.c_str(), F_OK) != 0) return KeyFile{};
  return server::read_key_file(path);
}

KeyEntry* find(KeyFile& f, const std::string& id) {
  for (auto& k : f.keys)
    if (k.id == id) return &k;
  return nullptr;
}

int create(KeysFlags& fl) {
  KeyEntry e;
  auto role = server::parse_role(fl.role);
  if (!role.ok()) return fail(role.error().message());
  e.role = *role;
  e.name = fl.name;
  for (auto& m : fl.models) e.models.push_back(server::normalize_model(m));
  auto exp = parse_expiry(fl.expires);
  if (!exp.ok()) return fail("--expires: " + exp.error().message());
  e.expires = *exp;
  if (fl.rpm < 0 || fl.tpm < 0 || fl.streams < 0) return fail("limits must be >= 0");
  e.limits = {fl.rpm, fl.tpm, fl.streams};
  FileLock lock(fl.file);
  if (!lock.ok()) return fail("cannot lock " + fl.file + ".lock");
  auto f = load(fl.file, true);
  if (!f.ok()) return fail(f.error().message());
  std::string token;
  do token = server::new_key(e);
  while (find(*f, e.id));
  f->keys.push_back(e);
  if (auto st = server::write_key_file(fl.file, *f); !st.ok()) return fail(st.error().message());
  std::cerr << "created key " << e.id << " (role " << server::role_name(e.role) << ") in " << fl.file
            << "; the token below is shown only this once\n";
  std::cout << token << "\n";
  return 0;
}

int list(KeysFlags& fl) {
  auto f = load(fl.file, false);
  if (!f.ok()) return fail(f.error().message());
  int64_t now = now_s();
  auto status = [&](const KeyEntry& k) {
    return k.revoked ? "revoked" : (k.expires && now >= k.expires) ? "expired" : "active";
  };
  if (fl.json) {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (auto& k : f->keys) {
      nlohmann::ordered_json j{{"id", k.id},
                               {"name", k.name},
                               {"role", server::role_name(k.role)},
                               {"models", k.models},
                               {"created", server::format_time(k.created)},
                               {"expires", server::format_time(k.expires)},
                               {"status", status(k)},
                               {"limits",
                                {{"requests_per_minute", k.limits.requests_per_minute},
                                 {"tokens_per_minute", k.limits.tokens_per_minute},
                                 {"concurrent_streams", k.limits.concurrent_streams}}}};
      out.push_back(j);
    }
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::printf("%-12s  %-16s  %-6s  %-8s  %-20s  %-14s  %s\n", "ID", "NAME", "ROLE", "STATUS", "EXPIRES", "LIMITS r/t/s",
              "MODELS");
  for (auto& k : f->keys) {
    std::string models;
    for (auto& m : k.models) models += (models.empty() ? "" : ",") + m;
    std::string lim = std::to_string(k.limits.requests_per_minute) + "/" + std::to_string(k.limits.tokens_per_minute) +
                      "/" + std::to_string(k.limits.concurrent_streams);
    std::printf("%-12s  %-16s  %-6s  %-8s  %-20s  %-14s  %s\n", k.id.c_str(), k.name.c_str(), server::role_name(k.role),
                status(k), k.expires ? server::format_time(k.expires).c_str() : "never", lim.c_str(),
                models.empty() ? "(all)" : models.c_str());
  }
  return 0;
}

int revoke(KeysFlags& fl) {
  FileLock lock(fl.file);
  auto f = load(fl.file, false);
  if (!f.ok()) return fail(f.error().message());
  KeyEntry* k = find(*f, fl.id);
  if (!k) return fail("no key with id " + fl.id + " in " + fl.file);
  k->revoked = true;
  if (auto st = server::write_key_file(fl.file, *f); !st.ok()) return fail(st.error().message());
  std::cerr << "revoked key " << fl.id << "\n";
  return 0;
}

// A new key with the old one's name, role, models and limits; the old key stops working now, or
// after --grace (so clients can switch over).
int rotate(KeysFlags& fl) {
  FileLock lock(fl.file);
  auto f = load(fl.file, false);
  if (!f.ok()) return fail(f.error().message());
  KeyEntry* old = find(*f, fl.id);
  if (!old) return fail("no key with id " + fl.id + " in " + fl.file);
  if (old->revoked) return fail("key " + fl.id + " is revoked");
  int64_t grace = 0;
  if (fl.grace != "0") {
    auto g = parse_expiry(fl.grace);
    if (!g.ok()) return fail("--grace: " + g.error().message());
    grace = *g - now_s();
  }
  KeyEntry e = *old;
  e.created = 0;
  std::string token;
  do token = server::new_key(e);
  while (find(*f, e.id));
  old = find(*f, fl.id);
  if (grace > 0) old->expires = old->expires ? std::min(old->expires, now_s() + grace) : now_s() + grace;
  else old->revoked = true;
  f->keys.push_back(e);
  if (auto st = server::write_key_file(fl.file, *f); !st.ok()) return fail(st.error().message());
  std::cerr << "rotated key " << fl.id << " -> " << e.id
            << (grace > 0 ? " (the old key expires at " + server::format_time(old->expires) + ")"
                          : " (the old key is revoked)")
            << "; the token below is shown only this once\n";
  std::cout << token << "\n";
  return 0;
}

Registration reg(
    {"keys", 95, [](CLI::App& app, std::function<int()>& run) {
       auto* sub = app.add_subcommand("keys", "Manage the API keys file (serve --keys-file)");
       sub->require_subcommand(1);
       auto fl = std::make_shared<KeysFlags>();
       if (const char* e = std::getenv("PADDOCK_KEYS_FILE"); e && *e) fl->file = e;
       auto file_opt = [&](CLI::App* c) { c->add_option("--file,-f", fl->file, "Keys file (env PADDOCK_KEYS_FILE)"); };
       auto* cr = sub->add_subcommand("create", "Create a key and print its token (once)");
       file_opt(cr);
       cr->add_option("--role", fl->role, "viewer, user or admin (default user)");
       cr->add_option("--name", fl->name, "A label for people");
       cr->add_option("--models", fl->models, "Models the key may use (default all)")->delimiter(',');
       cr->add_option("--expires", fl->expires, "Expiry: 30d, 12h, 2027-01-31, 2027-01-31T12:00:00Z (default never)");
       cr->add_option("--requests-per-minute", fl->rpm, "Inference requests per minute (0 = no limit)");
       cr->add_option("--tokens-per-minute", fl->tpm, "Generated tokens per minute (0 = no limit)");
       cr->add_option("--concurrent-streams", fl->streams, "Inference requests at once (0 = no limit)");
       auto* ls = sub->add_subcommand("list", "List the keys (ids, never secrets)");
       file_opt(ls);
       ls->add_flag("--json", fl->json, "JSON output");
       auto* rv = sub->add_subcommand("revoke", "Revoke a key");
       file_opt(rv);
       rv->add_option("id", fl->id, "Key id")->required();
       auto* ro = sub->add_subcommand("rotate", "Replace a key with a new one of the same role, models and limits");
       file_opt(ro);
       ro->add_option("id", fl->id, "Key id")->required();
       ro->add_option("--grace", fl->grace, "Keep the old key working this long (e.g. 24h; default: revoked now)");
       run = [fl, cr, ls, rv, ro] {
         if (fl->file.empty()) return fail("no keys file: pass --file or set PADDOCK_KEYS_FILE");
         if (cr->parsed()) return create(*fl);
         if (ls->parsed()) return list(*fl);
         if (rv->parsed()) return revoke(*fl);
         if (ro->parsed()) return rotate(*fl);
         return fail("keys: choose create, list, revoke or rotate");
       };
       return sub;
     }});

}  // namespace
}  // namespace paddock::cli
