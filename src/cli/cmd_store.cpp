// `paddock list | show | cp | rm | create`: the model-store commands. Without --models they go
// through the server's API (client_store.cpp) and fail clearly when no server answers; with
// --models DIR they work directly on that store, offline. All the
// logic lives in src/store; this file parses flags and prints like the ollama CLI.
#include <unistd.h>

#include <cmath>
#include <deque>
#include <iostream>

#include <fmt/format.h>

#include "cli/client.h"
#include "cli/client_store.h"
#include "cli/command.h"
#include "store/store.h"
#include "util/fs.h"

namespace paddock::cli {
namespace {

using store::Store;

int fail(const std::string& msg) {
  std::cerr << "Error: " << msg << "\n";
  return 1;
}

Result<Store> open_store(const std::string& dir, bool create) {
  return Store::open(dir.empty() ? default_models_dir() : dir, create);
}

int run_list(const std::string& dir) {
  std::vector<std::vector<std::string>> rows = {{"NAME", "ID", "SIZE", "MODIFIED"}};
  if (use_server(dir)) {
    auto models = remote_list();
    if (!models.ok()) return fail(models.error().message());
    for (const auto& m : *models) rows.push_back({m.name, m.digest.substr(0, 12), human_bytes(m.size), human_ago(m.modified_at)});
    print_table(rows);
    return 0;
  }
  auto s = open_store(dir, false);
  if (s.ok()) {
    auto list = s->list();
    if (!list.ok()) return fail(list.error().message());
    for (const auto& e : *list) {
      rows.push_back({e.display_name, e.digest.substr(0, 12), human_bytes(e.size), human_ago(e.modified_at)});
    }
  } else if (s.error().code() != ErrorCode::kNotFound) {
    return fail(s.error().message());
  }
  print_table(rows);
  return 0;
}

std::string indent_lines(const std::string& text, const std::string& pad) {
  std::string out;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    out += pad + line + "\n";
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
  return out;
}

struct ShowFlags {
  bool license = false, modelfile = false, parameters = false, tmpl = false, system = false, verbose = false;
};

int run_show(const std::string& dir, const std::string& name, const ShowFlags& f) {
  int n = f.license + f.modelfile + f.parameters + f.tmpl + f.system;
  if (n > 1) return fail("only one of --license, --modelfile, --parameters, --system or --template may be given");
  if (use_server(dir)) {
    const char* field = f.license ? "license" : f.modelfile ? "modelfile" : f.parameters ? "parameters"
                        : f.tmpl ? "template" : f.system ? "system" : "";
    return remote_show(name, field, f.verbose);
  }
  auto s = open_store(dir, false);
  if (!s.ok()) {
    if (s.error().code() == ErrorCode::kNotFound) return fail(fmt::format("model \"{}\" not found", name));
    return fail(s.error().message());
  }
  auto r = s->show(name, {.verbose = f.verbose});
  if (!r.ok()) return fail(r.error().message());
  if (f.license) { std::cout << r->license << "\n"; return 0; }
  if (f.modelfile) { std::cout << r->modelfile; return 0; }
  if (f.parameters) { if (!r->parameters.empty()) std::cout << r->parameters << "\n"; return 0; }
  if (f.tmpl) { std::cout << r->template_text << "\n"; return 0; }
  if (f.system) { std::cout << r->system << "\n"; return 0; }

  const auto& d = r->entry.details;
  std::vector<std::vector<std::string>> model = {{"architecture", d.family}, {"parameters", d.parameter_size}};
  const std::string arch = d.family;
  auto info = [&](const std::string& key) -> std::string {
    auto it = r->model_info.find(arch + "." + key);
    return it == r->model_info.end() ? "" : it->dump();
  };
  if (auto c = info("context_length"); !c.empty()) model.push_back({"context length", c});
  if (auto e = info("embedding_length"); !e.empty()) model.push_back({"embedding length", e});
  model.push_back({"quantization", d.quantization_level});
  auto section = [](const std::string& title, const std::vector<std::vector<std::string>>& rows) {
    std::cout << "  " << title << "\n";
    for (const auto& row : rows) {
      std::cout << "    " << (row.size() > 1 ? fmt::format("{:<20}{}", row[0], row[1]) : row[0]) << "\n";
    }
    std::cout << "\n";
  };
  section("Model", model);
  std::vector<std::vector<std::string>> caps;
  for (const auto& c : r->capabilities) caps.push_back({c});
  if (!caps.empty()) section("Capabilities", caps);
  if (!r->parameters.empty()) {
    std::cout << "  Parameters\n" << indent_lines(r->parameters, "    ") << "\n";
  }
  if (!r->system.empty()) std::cout << "  System\n" << indent_lines(r->system, "    ") << "\n";
  if (!r->license.empty()) {
    // The summary shows the first lines; --license prints it all.
    std::string first;
    size_t pos = 0;
    for (int i = 0; i < 2 && pos < r->license.size(); ++i) {
      size_t nl = r->license.find('\n', pos);
      first += (i ? "\n" : "") + r->license.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
      if (nl == std::string::npos) break;
      pos = nl + 1;
    }
    std::cout << "  License\n" << indent_lines(first, "    ") << "\n";
  }
  if (f.verbose) {
    std::cout << "  Metadata\n";
    for (auto it = r->model_info.begin(); it != r->model_info.end(); ++it) {
      std::string v = it.value().is_string() ? it.value().get<std::string>() : it.value().dump();
      if (v.size() > 120) v = v.substr(0, 117) + "...";
      std::cout << "    " << fmt::format("{:<40} {}", it.key(), v) << "\n";
    }
    std::cout << "\n  Tensors\n";
    for (const auto& t : r->tensors) {
      std::cout << "    " << fmt::format("{:<40} {:<6} [{}]", t.name, t.type, fmt::join(t.shape, " ")) << "\n";
    }
    std::cout << "\n";
  }
  return 0;
}

int run_cp(const std::string& dir, const std::string& src, const std::string& dst) {
  if (use_server(dir)) return remote_cp(src, dst);
  auto s = open_store(dir, true);
  if (!s.ok()) return fail(s.error().message());
  auto st = s->copy(src, dst);
  if (!st.ok()) return fail(st.error().message());
  std::cout << "copied '" << src << "' to '" << dst << "'\n";
  return 0;
}

int run_rm(const std::string& dir, const std::vector<std::string>& names) {
  if (use_server(dir)) return remote_rm(names);
  auto s = open_store(dir, false);
  if (!s.ok()) {
    if (s.error().code() == ErrorCode::kNotFound) return fail(fmt::format("model \"{}\" not found", names.front()));
    return fail(s.error().message());
  }
  for (const auto& n : names) {
    auto st = s->remove(n);
    if (!st.ok()) return fail(st.error().message());
    std::cout << "deleted '" << n << "'\n";
  }
  return 0;
}

int run_create(const std::string& dir, const std::string& name, const std::string& file) {
  if (use_server(dir)) return remote_create(name, file);
  std::string path = file.empty() ? "Modelfile" : file;
  auto text = read_file(path, store::kMaxModelfileBytes);
  if (!text.ok()) return fail(text.error().message());
  auto mf = store::Modelfile::parse(*text);
  if (!mf.ok()) return fail(mf.error().message());
  auto s = open_store(dir, true);
  if (!s.ok()) return fail(s.error().message());
  store::CreateOptions o;
  auto slash = path.find_last_of('/');
  o.base_dir = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
  bool tty = ::isatty(STDERR_FILENO);
  int last_pct = -1;
  std::string current;
  o.status = [&](const std::string& st) {
    if (last_pct >= 0 && tty) std::cerr << "\n";
    last_pct = -1;
    current = st;
    std::cerr << st << "\n";
  };
  o.progress = [&](uint64_t done, uint64_t total) {
    int pct = total ? static_cast<int>(done * 100 / total) : 100;
    if (pct == last_pct) return;
    last_pct = pct;
    std::string line = fmt::format("{} {}/{} ({}%)", current, human_bytes(done), human_bytes(total), pct);
    if (tty) std::cerr << "\r" << line << std::flush;
    else if (pct % 10 == 0) std::cerr << line << "\n";
  };
  auto st = s->create(name, *mf, o);
  if (last_pct >= 0 && tty) std::cerr << "\n";
  if (!st.ok()) return fail(st.error().message());
  return 0;
}

// Flag storage with static lifetime (subcommands are set up once per process).
template <typename T>
T* keep() {
  static std::deque<T> storage;
  return &storage.emplace_back();
}

std::string* models_flag(CLI::App* sub) {
  std::string* p = keep<std::string>();
  sub->add_option("--models", *p, "Work offline on this model store directory instead of through the server");
  return p;
}

Registration list_reg({"list", 30, [](CLI::App& app, std::function<int()>& run) {
  auto* sub = app.add_subcommand("list", "List models");
  sub->alias("ls");
  auto* dir = models_flag(sub);
  run = [dir] { return run_list(*dir); };
  return sub;
}});

Registration show_reg({"show", 31, [](CLI::App& app, std::function<int()>& run) {
  auto* sub = app.add_subcommand("show", "Show information for a model");
  auto* dir = models_flag(sub);
  auto* name = keep<std::string>();
  auto* f = keep<ShowFlags>();
  sub->add_option("MODEL", *name, "Model name")->required();
  sub->add_flag("--license", f->license, "Show license of a model");
  sub->add_flag("--modelfile", f->modelfile, "Show Modelfile of a model");
  sub->add_flag("--parameters", f->parameters, "Show parameters of a model");
  sub->add_flag("--template", f->tmpl, "Show template of a model");
  sub->add_flag("--system", f->system, "Show system message of a model");
  sub->add_flag("-v,--verbose", f->verbose, "Show detailed model information");
  run = [dir, name, f] { return run_show(*dir, *name, *f); };
  return sub;
}});

Registration cp_reg({"cp", 32, [](CLI::App& app, std::function<int()>& run) {
  auto* sub = app.add_subcommand("cp", "Copy a model");
  auto* dir = models_flag(sub);
  auto* names = keep<std::vector<std::string>>();
  sub->add_option("SOURCE DESTINATION", *names, "Source and destination")->required()->expected(2);
  run = [dir, names] { return run_cp(*dir, (*names)[0], (*names)[1]); };
  return sub;
}});

Registration rm_reg({"rm", 33, [](CLI::App& app, std::function<int()>& run) {
  auto* sub = app.add_subcommand("rm", "Remove a model");
  auto* dir = models_flag(sub);
  auto* names = keep<std::vector<std::string>>();
  sub->add_option("MODEL", *names, "Model names")->required()->expected(1, -1);
  run = [dir, names] { return run_rm(*dir, *names); };
  return sub;
}});

Registration create_reg({"create", 34, [](CLI::App& app, std::function<int()>& run) {
  auto* sub = app.add_subcommand("create", "Create a model from a Modelfile");
  auto* dir = models_flag(sub);
  auto* name = keep<std::string>();
  auto* file = keep<std::string>();
  sub->add_option("MODEL", *name, "Name of the new model")->required();
  sub->add_option("-f,--file", *file, "Name of the Modelfile (default: Modelfile)");
  run = [dir, name, file] { return run_create(*dir, *name, *file); };
  return sub;
}});

}  // namespace
}  // namespace paddock::cli
