// api_ollama: Ollama's native REST API (/api/*), field for field as OLLAMA.md §1 describes:
// request validation, runner requests, and NDJSON or single-object responses.
#include <memory>
#include <optional>

#include "server/app.h"
#include "server/thinking.h"
#include "util/log.h"
#include "util/version.h"

namespace paddock::server {
namespace {

using ExPtr = std::shared_ptr<Exchange>;

#define TRY_FIELD(decl, expr)                 \
  auto PADDOCK_CONCAT(_f, __LINE__) = (expr); \
  if (!PADDOCK_CONCAT(_f, __LINE__).ok()) return send_error(*ex, PADDOCK_CONCAT(_f, __LINE__).error()); \
  decl = std::move(PADDOCK_CONCAT(_f, __LINE__)).value()

int64_t since_ns(int64_t t0) { return now_unix_ns() - t0; }

int status_for_runner_error(const json& ev) {
  std::string code = ev.value("code", "");
  if (code == "bad_request") return 400;
  if (code == "timeout") return 504;
  if (code == "cancelled") return 499;
  if (code == "shutdown") return 503;
  return 500;
}

// Turns runner events into Ollama generate/chat responses (streamed or one object).
struct GenStream {
  ExPtr ex;
  std::string model;
  bool chat = false;
  bool stream = true;
  bool want_logprobs = false;
  int64_t t0 = 0;
  bool started = false;
  std::string text;
  std::string thinking;
  std::optional<ThinkingSplitter> splitter;  // set when the request asked for thinking
  json logprobs = json::array();

  json base() const { return json{{"model", model}, {"created_at", rfc3339_ns(now_unix_ns())}}; }
  void write_line(const json& j) {
    if (!started) {
      ex->start_stream(200, "application/x-ndjson");
      started = true;
    }
    ex->write(j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n");
  }
  // One piece of output: accumulated (stream false) or written as a chunk. Ollama omits an
  // empty `thinking`.
  void emit(const ThinkingSplitter::Out& part, const json& lp) {
    if (!stream) {
      text += part.content;
      thinking += part.thinking;
      if (lp.is_array())
        for (auto& x : lp) logprobs.push_back(x);
      return;
    }
    if (part.content.empty() && part.thinking.empty() && !lp.is_array()) return;
    json j = base();
    if (chat) {
      j["message"] = json{{"role", "assistant"}, {"content", part.content}};
      if (!part.thinking.empty()) j["message"]["thinking"] = part.thinking;
    } else {
      j["response"] = part.content;
      if (!part.thinking.empty()) j["thinking"] = part.thinking;
    }
    j["done"] = false;
    if (lp.is_array()) j["logprobs"] = lp;
    write_line(j);
  }
  void on_event(const json& ev, int64_t load_ns) {
    std::string type = ev.value("type", "");
    if (type == "token") {
      const std::string& raw_text = ev["text"].get_ref<const std::string&>();
      json lp = ev.contains("logprobs") ? ev["logprobs"] : json(nullptr);
      ThinkingSplitter::Out part;
      if (splitter) part = splitter->push(raw_text);
      else part.content = raw_text;
      emit(part, want_logprobs && lp.is_array() ? lp : json(nullptr));
    } else if (type == "done") {
      if (splitter) emit(splitter->flush(), nullptr);
      json j = base();
      if (chat) {
        j["message"] = json{{"role", "assistant"}, {"content", stream ? "" : text}};
        if (!stream && !thinking.empty()) j["message"]["thinking"] = thinking;
      } else {
        j["response"] = stream ? "" : text;
        if (!stream && !thinking.empty()) j["thinking"] = thinking;
      }
      j["done"] = true;
      j["done_reason"] = ev.value("done_reason", "stop");
      if (ev.contains("context") && !chat) j["context"] = ev["context"];
      j["total_duration"] = since_ns(t0);
      j["load_duration"] = load_ns;
      j["prompt_eval_count"] = ev.value("prompt_eval_count", 0);
      j["prompt_eval_duration"] = ev.value("prompt_eval_duration", int64_t(0));
      j["eval_count"] = ev.value("eval_count", 0);
      j["eval_duration"] = ev.value("eval_duration", int64_t(0));
      if (!stream && want_logprobs) j["logprobs"] = logprobs;
      if (stream) {
        write_line(j);
        ex->finish();
      } else {
        send_json(*ex, 200, j);
      }
    } else if (type == "rendered") {  // _debug_render_only
      json j = base();
      j["debug_info"] = json{{"rendered_template", ev.value("prompt", "")}};
      send_json(*ex, 200, j);
    } else if (type == "error") {
      std::string msg = ev.value("message", "runner error");
      if (started) {
        ex->write(json{{"error", redact(msg)}}.dump() + "\n");
        ex->finish();
      } else {
        send_error(*ex, status_for_runner_error(ev), msg);
      }
    }
  }
};

// Chat history as agents send it, made the one shape every template path reads: `content` null
// or absent (an assistant turn that only carries tool calls) becomes "", and content as an array
// of text parts ({"type": "text", "text": ...}, as OpenAI-style clients send it) becomes their
// text joined. Anything else in `content` is a 400.
Status normalize_content(json& m) {
  auto c = m.find("content");
  if (c == m.end() || c->is_null()) {
    m["content"] = "";
    return Status::Ok();
  }
  if (c->is_string()) return Status::Ok();
  if (!c->is_array()) return make_error(ErrorCode::kInvalidArgument, "invalid value for 'content': expected string or array of text parts");
  std::string text;
  for (auto& part : *c) {
    std::string type = part.is_object() ? part.value("type", "") : "";
    if (type == "image_url" || type == "image")
      return make_error(ErrorCode::kInvalidArgument, "images are not supported: this server has no vision support yet");
    auto t = part.is_object() ? part.find("text") : part.end();
    if (type != "text" || t == part.end() || !t->is_string())
      return make_error(ErrorCode::kInvalidArgument, "invalid content part: expected {{\"type\": \"text\", \"text\": string}}");
    text += t->get<std::string>();
  }
  m["content"] = std::move(text);
  return Status::Ok();
}

Status check_messages(json& msgs) {
  if (!msgs.is_array()) return make_error(ErrorCode::kInvalidArgument, "invalid value for 'messages': expected array");
  if (msgs.size() > kMaxMessages) return make_error(ErrorCode::kInvalidArgument, "too many messages (at most {})", kMaxMessages);
  for (auto& m : msgs) {
    if (!m.is_object()) return make_error(ErrorCode::kInvalidArgument, "invalid message: expected object");
    RETURN_IF_ERROR(normalize_content(m));
    ASSIGN_OR_RETURN(auto role, opt_string(m, "role"));
    if (!role || role->empty()) return make_error(ErrorCode::kInvalidArgument, "message is missing 'role'");
    if (*role != "system" && *role != "user" && *role != "assistant" && *role != "tool")
      return make_error(ErrorCode::kInvalidArgument, "invalid role '{}' (system, user, assistant or tool)", *role);
    ASSIGN_OR_RETURN(auto content, opt_string(m, "content"));
    ASSIGN_OR_RETURN(auto thinking, opt_string(m, "thinking"));
    ASSIGN_OR_RETURN(auto tool_name, opt_string(m, "tool_name"));
    auto im = m.find("images");
    if (im != m.end() && !im->is_null()) {
      if (!im->is_array()) return make_error(ErrorCode::kInvalidArgument, "invalid value for 'images': expected array");
      if (!im->empty()) return make_error(ErrorCode::kInvalidArgument, "images are not supported: this server has no vision support yet");
    }
    auto tc = m.find("tool_calls");
    if (tc != m.end() && !tc->is_null() && !tc->is_array())
      return make_error(ErrorCode::kInvalidArgument, "invalid value for 'tool_calls': expected array");
  }
  return Status::Ok();
}

// Thinking is split out of the output only when asked for (true or a level), like Ollama; with
// `think` false or absent the output is returned as the model wrote it.
bool think_enabled(const json& think) { return (think.is_boolean() && think.get<bool>()) || think.is_string(); }

Result<json> parse_think(const json& body) {
  auto it = body.find("think");
  if (it == body.end() || it->is_null()) return json(nullptr);
  if (it->is_boolean()) return *it;
  if (it->is_string()) {
    std::string s = it->get<std::string>();
    if (s == "low" || s == "medium" || s == "high" || s == "max") return *it;
  }
  return make_error(ErrorCode::kInvalidArgument, "invalid value for 'think': expected true, false, \"low\", \"medium\", \"high\" or \"max\"");
}

Result<json> parse_format(const json& body) {
  auto it = body.find("format");
  if (it == body.end() || it->is_null()) return json(nullptr);
  if (it->is_string()) {
    std::string s = it->get<std::string>();
    if (s.empty()) return json(nullptr);
    if (s == "json") return *it;
    return make_error(ErrorCode::kInvalidArgument, "invalid format '{}': expected \"json\" or a JSON schema object", s);
  }
  if (it->is_object()) return *it;
  return make_error(ErrorCode::kInvalidArgument, "invalid value for 'format': expected \"json\" or a JSON schema object");
}

// Loads (or with keep_alive 0 unloads) a model for an empty prompt / empty messages.
void load_or_unload(App& app, const ExPtr& ex, const Resolved& res, std::optional<int64_t> keep_alive, bool chat,
                    const AdmissionPtr& adm) {
  auto reply = [ex, name = res.ref.name, chat](const char* reason) {
    json j{{"model", name}, {"created_at", rfc3339_ns(now_unix_ns())}};
    if (chat) j["message"] = json{{"role", "assistant"}, {"content", ""}};
    else j["response"] = "";
    j["done"] = true;
    j["done_reason"] = reason;
    send_json(*ex, 200, j);
  };
  if (keep_alive && *keep_alive == 0) {
    app.mgr->unload(res.ref.model_path);
    return reply("unload");
  }
  app.mgr->acquire(
      res.ref, keep_alive,
      [ex, reply](Result<std::unique_ptr<Slot>> r) {
        if (!r.ok()) return send_error(*ex, r.error());
        reply("load");  // the slot is released when `r` goes away: keep-alive starts now
      },
      adm && adm->take());
}

void handle_generate(App& app, HttpRequest& req, const ExPtr& ex, bool chat, AdmissionPtr adm) {
  int64_t t0 = now_unix_ns();
  TRY_FIELD(json body, parse_body(req.body));
  TRY_FIELD(auto model, opt_string(body, "model"));
  TRY_FIELD(auto stream, opt_bool(body, "stream"));
  TRY_FIELD(auto keep_alive, parse_keep_alive(body));
  TRY_FIELD(auto opts, parse_options(body.value("options", json(nullptr))));
  TRY_FIELD(json think, parse_think(body));
  TRY_FIELD(json format, parse_format(body));
  TRY_FIELD(auto logprobs, opt_bool(body, "logprobs"));
  TRY_FIELD(auto top_logprobs, opt_int(body, "top_logprobs", 0, kMaxTopLogprobs));
  TRY_FIELD(auto truncate, opt_bool(body, "truncate"));
  TRY_FIELD(auto shift, opt_bool(body, "shift"));
  TRY_FIELD(auto render_only, opt_bool(body, "_debug_render_only"));
  TRY_FIELD(auto tmpl, opt_string(body, "template"));
  TRY_FIELD(auto system, opt_string(body, "system"));
  std::optional<std::string> prompt, suffix;
  std::optional<bool> raw;
  json messages = json::array();
  json tools = nullptr;
  json context = nullptr;
  if (chat) {
    auto it = body.find("messages");
    if (it != body.end() && !it->is_null()) {
      messages = std::move(*it);
      auto st = check_messages(messages);
      if (!st.ok()) return send_error(*ex, st.error());
    }
    auto t = body.find("tools");
    if (t != body.end() && !t->is_null()) {
      if (!t->is_array()) return send_error(*ex, 400, "invalid value for 'tools': expected array");
      for (auto& tool : *t)
        if (!tool.is_object()) return send_error(*ex, 400, "invalid tool: expected object");
      tools = *t;
    }
  } else {
    TRY_FIELD(prompt, opt_string(body, "prompt"));
    TRY_FIELD(suffix, opt_string(body, "suffix"));
    TRY_FIELD(raw, opt_bool(body, "raw"));
    auto im = body.find("images");
    if (im != body.end() && !im->is_null()) {
      if (!im->is_array()) return send_error(*ex, 400, "invalid value for 'images': expected array");
      if (!im->empty()) return send_error(*ex, 400, "images are not supported: this server has no vision support yet");
    }
    auto c = body.find("context");
    if (c != body.end() && !c->is_null()) {
      if (!c->is_array()) return send_error(*ex, 400, "invalid value for 'context': expected array of integers");
      for (auto& x : *c)
        if (!x.is_number_integer() || x.get<int64_t>() < 0 || x.get<int64_t>() > INT32_MAX)
          return send_error(*ex, 400, "invalid value for 'context': expected array of token ids");
      if (c->size() > size_t(kMaxNumCtx)) return send_error(*ex, 400, "'context' is longer than any context window");
      context = *c;
    }
    if (raw.value_or(false) && suffix && !suffix->empty())
      return send_error(*ex, 400, "raw mode does not support suffix");
  }
  if (!model || model->empty()) return send_error(*ex, 400, "model is required");
  if (!check_model_access(app, req, ex, *model)) return;
  auto res = resolve_model(app, *model);
  if (!res.ok()) return send_error(*ex, res.error());
  if (res->ref.embedding) return send_error(*ex, 400, fmt::format("\"{}\" does not support {}", *model, chat ? "chat" : "generate"));
  if (think_enabled(think) && !res->has_capability("thinking"))
    return send_error(*ex, 400, fmt::format("\"{}\" does not support thinking", *model));
  // Capabilities as Ollama checks them (tools from the template, insert from .Suffix), same words.
  if (tools.is_array() && !tools.empty() && !res->has_capability("tools"))
    return send_error(*ex, 400, fmt::format("\"{}\" does not support tools", *model));
  if (suffix && !suffix->empty() && !raw.value_or(false) && !res->has_capability("insert"))
    return send_error(*ex, 400, fmt::format("\"{}\" does not support insert", *model));

  bool empty = chat ? messages.empty() : (!prompt || prompt->empty()) && (!suffix || suffix->empty());
  if (empty && !render_only.value_or(false)) return load_or_unload(app, ex, *res, keep_alive, chat, adm);
  // A schema the runner would refuse is a 400 now, before the model is loaded for it.
  const std::string format_text = format.is_object() ? ordered_member_text(req.body, {"format"}) : std::string();
  if (auto st = check_format(format, format_text); !st.ok()) return send_error(*ex, 400, st.error().message());

  GenOptions merged;
  auto model_opts = parse_options(res->params);
  if (model_opts.ok()) merged = *model_opts;
  merged.merge(opts);
  apply_num_ctx(app, *res, merged.values);

  json rr{{"type", "generate"},
          {"mode", chat ? "chat" : "generate"},
          {"options", merged.values},
          {"raw", raw.value_or(false)},
          {"system", system ? json(*system) : json(res->system)},
          {"template", tmpl ? json(*tmpl) : json(res->template_text)},
          {"think", think},
          {"format", format},
          {"format_text", format_text},
          {"top_logprobs", logprobs.value_or(false) ? top_logprobs.value_or(0) : -1},
          {"truncate", truncate.value_or(true)},
          {"shift", shift.value_or(true)},
          {"render_only", render_only.value_or(false)}};
  if (chat) {
    json all = json::array();
    for (auto& m : res->messages) all.push_back(m);
    for (auto& m : messages) all.push_back(m);
    rr["messages"] = all;
    rr["tools"] = tools;
  } else {
    rr["prompt"] = prompt.value_or("");
    rr["suffix"] = suffix.value_or("");
    rr["context"] = context;
    rr["return_context"] = !raw.value_or(false);
  }
  auto gs = std::make_shared<GenStream>();
  gs->ex = ex;
  gs->model = *model;
  gs->chat = chat;
  gs->stream = stream.value_or(true);
  gs->want_logprobs = logprobs.value_or(false);
  gs->t0 = t0;
  if (think_enabled(think))
    gs->splitter.emplace(template_opens_thinking(tmpl ? *tmpl : res->template_text.empty() ? res->chat_template
                                                                                             : res->template_text));
  Job job;
  job.model = std::move(*res);
  job.admission = std::move(adm);
  job.keep_alive_ns = keep_alive;
  job.runner_req = std::move(rr);
  job.on_event = [gs](const json& ev, int64_t load_ns) { gs->on_event(ev, load_ns); };
  job.on_fail = [ex](const Error& e) { send_error(*ex, e); };
  run_job(app, ex, std::move(job));
}

void handle_embed(App& app, HttpRequest& req, const ExPtr& ex, bool legacy, AdmissionPtr adm) {
  int64_t t0 = now_unix_ns();
  TRY_FIELD(json body, parse_body(req.body));
  TRY_FIELD(auto model, opt_string(body, "model"));
  TRY_FIELD(auto keep_alive, parse_keep_alive(body));
  TRY_FIELD(auto opts, parse_options(body.value("options", json(nullptr))));
  TRY_FIELD(auto truncate, opt_bool(body, "truncate"));
  TRY_FIELD(auto dims, opt_int(body, "dimensions", 1, 1 << 20));
  json inputs = json::array();
  if (legacy) {
    TRY_FIELD(auto prompt, opt_string(body, "prompt"));
    if (prompt && !prompt->empty()) inputs.push_back(*prompt);
  } else {
    auto it = body.find("input");
    if (it != body.end() && !it->is_null()) {
      if (it->is_string()) {
        if (!it->get_ref<const std::string&>().empty()) inputs.push_back(*it);
      } else if (it->is_array()) {
        if (it->size() > 4096) return send_error(*ex, 400, "too many inputs (at most 4096)");
        for (auto& x : *it) {
          if (!x.is_string()) return send_error(*ex, 400, "invalid value for 'input': expected string or array of strings");
          inputs.push_back(x);
        }
      } else {
        return send_error(*ex, 400, "invalid value for 'input': expected string or array of strings");
      }
    }
  }
  if (!model || model->empty()) return send_error(*ex, 400, "model is required");
  if (!check_model_access(app, req, ex, *model)) return;
  auto res = resolve_model(app, *model);
  if (!res.ok()) return send_error(*ex, res.error());
  std::string name = *model;
  if (inputs.empty()) {
    if (legacy) return send_json(*ex, 200, json{{"embedding", json::array()}});
    app.mgr->acquire(
        res->ref, keep_alive,
        [ex, name](Result<std::unique_ptr<Slot>> r) {
          if (!r.ok()) return send_error(*ex, r.error());
          send_json(*ex, 200, json{{"model", name}, {"embeddings", json::array()}});
        },
        adm && adm->take());
    return;
  }
  Job job;
  job.model = std::move(*res);
  job.admission = std::move(adm);
  job.keep_alive_ns = keep_alive;
  apply_num_ctx(app, job.model, opts.values);
  job.runner_req = json{{"type", "embed"}, {"inputs", inputs}, {"truncate", truncate.value_or(true)},
                        {"options", opts.values}};
  if (dims) job.runner_req["dimensions"] = *dims;
  job.on_event = [ex, name, t0, legacy](const json& ev, int64_t load_ns) {
    std::string type = ev.value("type", "");
    if (type == "error") return send_error(*ex, status_for_runner_error(ev), ev.value("message", "runner error"));
    if (type != "done") return;
    json embs = ev.value("embeddings", json::array());
    if (legacy) return send_json(*ex, 200, json{{"embedding", embs.empty() ? json::array() : embs[0]}});
    send_json(*ex, 200, json{{"model", name}, {"embeddings", embs}, {"total_duration", since_ns(t0)},
                             {"load_duration", load_ns}, {"prompt_eval_count", ev.value("prompt_eval_count", 0)}});
  };
  job.on_fail = [ex](const Error& e) { send_error(*ex, e); };
  run_job(app, ex, std::move(job));
}

void handle_tags(App& app, const ExPtr& ex) {
  auto list = app.catalog->list();
  if (!list.ok()) return send_error(*ex, list.error());
  json models = json::array();
  for (auto& e : *list)
    models.push_back(json{{"name", e.name}, {"model", e.name}, {"modified_at", rfc3339_ns(e.modified_unix_ns)},
                          {"size", e.size}, {"digest", e.digest}, {"details", e.details}});
  send_json(*ex, 200, json{{"models", models}});
}

std::string name_field(const json& body, std::string& err) {
  for (const char* k : {"model", "name"}) {
    auto it = body.find(k);
    if (it == body.end() || it->is_null()) continue;
    if (!it->is_string()) {
      err = fmt::format("invalid value for '{}': expected string", k);
      return "";
    }
    if (!it->get_ref<const std::string&>().empty()) return it->get<std::string>();
  }
  return "";
}

void handle_show(App& app, HttpRequest& req, const ExPtr& ex) {
  TRY_FIELD(json body, parse_body(req.body));
  TRY_FIELD(auto verbose, opt_bool(body, "verbose"));
  std::string err;
  std::string name = name_field(body, err);
  if (!err.empty()) return send_error(*ex, 400, err);
  if (name.empty()) return send_error(*ex, 400, "model is required");
  if (auto st = app.catalog->validate_name(name); !st.ok())
    return send_error(*ex, 400, name_error(st.error()));
  if (!check_model_access(app, req, ex, name)) return;
  auto r = app.catalog->show(name, verbose.value_or(false));
  if (!r.ok()) {
    if (r.error().code() == ErrorCode::kNotFound) return send_error(*ex, 404, fmt::format("model '{}' not found", name));
    return send_error(*ex, r.error());
  }
  send_json(*ex, 200, *r);
}

void handle_ps(App& app, const ExPtr& ex) {
  json models = json::array();
  for (auto& e : app.mgr->ps()) {
    if (e.loading) continue;
    models.push_back(json{{"name", e.ref.name}, {"model", e.ref.name}, {"size", e.ref.mem_estimate},
                          {"digest", e.ref.digest}, {"details", e.ref.details},
                          {"expires_at", e.expires_at_unix_ns ? rfc3339_ns(e.expires_at_unix_ns) : "2318-11-18T00:00:00Z"},
                          {"size_vram", 0}, {"context_length", e.num_ctx}});
  }
  send_json(*ex, 200, json{{"models", models}});
}

void handle_debug_runners(App& app, const ExPtr& ex) {
  // Blocking stats queries: off the I/O thread, on a tracked worker.
  run_on_worker(app, ex, [&app, ex] {
    json out = json::array();
    for (auto& e : app.mgr->ps()) {
      json j{{"name", e.ref.name}, {"pid", e.pid}, {"active", e.active}, {"loading", e.loading}};
      if (e.runner) {
        auto s = e.runner->stats();
        if (s.ok()) j["stats"] = *s;
        else j["stats_error"] = s.error().message();
      }
      out.push_back(j);
    }
    send_json(*ex, 200, json{{"runners", out}, {"waiting", app.mgr->waiting()}});
  });
}

void handle_copy(App& app, HttpRequest& req, const ExPtr& ex) {
  TRY_FIELD(json body, parse_body(req.body));
  TRY_FIELD(auto src, opt_string(body, "source"));
  TRY_FIELD(auto dst, opt_string(body, "destination"));
  if (!src || src->empty() || !dst || dst->empty()) return send_error(*ex, 400, "source and destination are required");
  for (auto* n : {&*src, &*dst})
    if (auto st = app.catalog->validate_name(*n); !st.ok())
      return send_error(*ex, 400, name_error(st.error()));
  if (!check_model_access(app, req, ex, *src) || !check_model_access(app, req, ex, *dst)) return;
  if (auto* t = track_of(ex.get())) t->set_subject(*src + " -> " + *dst);
  auto st = app.catalog->copy(*src, *dst);
  if (!st.ok()) {
    if (st.error().code() == ErrorCode::kNotFound) return send_error(*ex, 404, fmt::format("model '{}' not found", *src));
    return send_error(*ex, st.error());
  }
  ex->respond(200, "", "");
}

void handle_delete(App& app, HttpRequest& req, const ExPtr& ex) {
  TRY_FIELD(json body, parse_body(req.body));
  std::string err;
  std::string name = name_field(body, err);
  if (!err.empty()) return send_error(*ex, 400, err);
  if (name.empty()) return send_error(*ex, 400, "model is required");
  if (auto st = app.catalog->validate_name(name); !st.ok())
    return send_error(*ex, 400, name_error(st.error()));
  if (!check_model_access(app, req, ex, name)) return;
  if (auto r = app.catalog->resolve(name, app.cfg.num_ctx, app.cfg.num_parallel); r.ok())
    app.mgr->unload(r->ref.model_path);
  auto st = app.catalog->remove(name);
  if (!st.ok()) {
    if (st.error().code() == ErrorCode::kNotFound) return send_error(*ex, 404, fmt::format("model '{}' not found", name));
    return send_error(*ex, st.error());
  }
  ex->respond(200, "", "");
}

void handle_create(App& app, HttpRequest& req, const ExPtr& ex) {
  TRY_FIELD(json body, parse_body(req.body));
  TRY_FIELD(auto stream, opt_bool(body, "stream"));
  std::string err;
  std::string name = name_field(body, err);
  if (!err.empty()) return send_error(*ex, 400, err);
  if (name.empty()) return send_error(*ex, 400, "model is required");
  if (auto st = app.catalog->validate_name(name); !st.ok())
    return send_error(*ex, 400, name_error(st.error()));
  if (!check_model_access(app, req, ex, name)) return;
  if (body.contains("path") && !body["path"].is_null())
    return send_error(*ex, 400, "'path' is not supported: upload files with /api/blobs and name them in 'files'");
  bool streaming = stream.value_or(true);
  // Creating reads GGUF metadata and writes layers: a tracked worker, never the I/O thread.
  // The App outlives it (Server::stop joins the workers); a stop mid-create cancels it before
  // the manifest is written.
  run_on_worker(app, ex, [&app, ex, body, streaming] {
    bool started = false;
    auto progress = [&](const json& status) {
      if (!streaming) return;
      if (!started) {
        ex->start_stream(200, "application/x-ndjson");
        started = true;
      }
      ex->write(status.dump() + "\n");
    };
    auto st = app.catalog->create(body, progress, [&app] { return app.workers.stopping() || app.cut_off.load(); });
    if (!st.ok()) {
      if (started) {
        ex->write(json{{"error", redact(st.error().message())}}.dump() + "\n");
        ex->finish();
      } else {
        send_error(*ex, st.error());
      }
      return;
    }
    if (streaming) {
      progress(json{{"status", "success"}});
      ex->finish();
    } else {
      send_json(*ex, 200, json{{"status", "success"}});
    }
  });
}

void handle_blob(App& app, HttpRequest& req, const ExPtr& ex, const std::string& digest) {
  if (req.method == "HEAD") {
    auto r = app.catalog->has_blob(digest);
    if (!r.ok()) return send_error(*ex, 400, r.error().message());
    return ex->respond(*r ? 200 : 404, "", "");
  }
  // POST: the HTTP layer streamed the body into a BlobUpload (server.cpp upload_sink). Without
  // one (a body that arrived before the sink could be chosen) it is written here from memory.
  std::shared_ptr<BlobUpload> up = std::dynamic_pointer_cast<BlobUpload>(req.sink);
  if (!up) {
    auto r = app.catalog->begin_blob(digest, req.body.size());
    if (!r.ok()) return send_error(*ex, http_status(r.error()), r.error().message());
    up = *r;
    if (auto st = up->write(req.body); !st.ok()) return send_error(*ex, up->error_status(), st.error().message());
  }
  // Verifying and syncing a multi-GB file blocks: a tracked worker, never the I/O thread.
  run_on_worker(app, ex, [ex, up]() mutable {
    auto st = up->commit();
    up.reset();
    if (!st.ok()) return send_error(*ex, st.error().code() == ErrorCode::kIo ? 500 : 400, st.error().message());
    ex->respond(201, "", "");
  });
}

}  // namespace

bool route_ollama(App& app, HttpRequest& req, const std::shared_ptr<Exchange>& ex) {
  const std::string& p = req.path;
  const std::string& m = req.method;
  auto only = [&](std::initializer_list<const char*> methods) {
    for (auto* x : methods)
      if (m == x) return true;
    send_error(*ex, 405, "method not allowed");
    return false;
  };
  // Everything that parses a body, resolves a model or reads the store runs on the request pool;
  // generation requests take their queue place first (a 503 at once when the queue is full).
  auto pooled = [&](bool generation, PooledHandler fn) { run_pooled(app, req, ex, generation, false, std::move(fn)); };
  if (p == "/api/version") {
    if (only({"GET", "HEAD"})) send_json(*ex, 200, json{{"version", kOllamaApiVersion}, {"paddock_version", PADDOCK_VERSION}});
  } else if (p == "/api/generate" || p == "/api/chat") {
    bool chat = p == "/api/chat";
    if (only({"POST"}))
      pooled(true, [chat](App& a, HttpRequest& r, const ExPtr& e, AdmissionPtr adm) {
        handle_generate(a, r, e, chat, std::move(adm));
      });
  } else if (p == "/api/embed" || p == "/api/embeddings") {
    bool legacy = p == "/api/embeddings";
    if (only({"POST"}))
      pooled(true, [legacy](App& a, HttpRequest& r, const ExPtr& e, AdmissionPtr adm) {
        handle_embed(a, r, e, legacy, std::move(adm));
      });
  } else if (p == "/api/tags") {
    if (only({"GET", "HEAD"}))
      pooled(false, [](App& a, HttpRequest&, const ExPtr& e, AdmissionPtr) { handle_tags(a, e); });
  } else if (p == "/api/show") {
    if (only({"POST"}))
      pooled(false, [](App& a, HttpRequest& r, const ExPtr& e, AdmissionPtr) { handle_show(a, r, e); });
  } else if (p == "/api/ps") {
    if (only({"GET"})) handle_ps(app, ex);
  } else if (p == "/api/copy") {
    if (only({"POST"}))
      pooled(false, [](App& a, HttpRequest& r, const ExPtr& e, AdmissionPtr) { handle_copy(a, r, e); });
  } else if (p == "/api/delete") {
    if (only({"DELETE"}))
      pooled(false, [](App& a, HttpRequest& r, const ExPtr& e, AdmissionPtr) { handle_delete(a, r, e); });
  } else if (p == "/api/create") {
    if (only({"POST"}))
      pooled(false, [](App& a, HttpRequest& r, const ExPtr& e, AdmissionPtr) { handle_create(a, r, e); });
  } else if (p == "/api/pull" || p == "/api/push") {
    if (only({"POST"}))
      send_error(*ex, 501,
                 fmt::format("{} from a registry is not supported by this server yet; add models with `paddock create` "
                             "(a Modelfile with FROM <file.gguf>) or POST /api/blobs + /api/create",
                             p == "/api/pull" ? "pulling" : "pushing"));
  } else if (p.rfind("/api/blobs/", 0) == 0) {
    if (only({"HEAD", "POST"}))
      pooled(false,
             [](App& a, HttpRequest& r, const ExPtr& e, AdmissionPtr) { handle_blob(a, r, e, r.path.substr(11)); });
  } else if (p == "/api/debug/runners" && app.cfg.debug_endpoints) {
    if (only({"GET"})) handle_debug_runners(app, ex);
  } else if (p == "/api/status") {
    if (only({"GET"})) send_json(*ex, 200, json{{"cloud", {{"disabled", true}, {"source", "none"}}}});
  } else {
    return false;
  }
  return true;
}

}  // namespace paddock::server
