// api_openai: OpenAI-compatible routes (/v1/chat/completions, /v1/completions, /v1/embeddings,
// /v1/models) mapped onto the same runner requests as the native API; SSE streaming with
// `data: [DONE]`, OpenAI-shaped errors.
#include <optional>
#include <random>

#include "server/app.h"
#include "server/thinking.h"
#include "util/log.h"

namespace paddock::server {
namespace {

using ExPtr = std::shared_ptr<Exchange>;

#define TRY_OAI(decl, expr)                   \
  auto PADDOCK_CONCAT(_f, __LINE__) = (expr); \
  if (!PADDOCK_CONCAT(_f, __LINE__).ok()) return send_openai_error(*ex, PADDOCK_CONCAT(_f, __LINE__).error()); \
  decl = std::move(PADDOCK_CONCAT(_f, __LINE__)).value()

std::string random_id(const char* prefix) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* digits = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string s = prefix;
  for (int i = 0; i < 12; ++i) s += digits[rng() % 36];
  return s;
}

int status_for_runner_error(const json& ev) {
  std::string code = ev.value("code", "");
  if (code == "bad_request") return 400;
  if (code == "timeout") return 504;
  if (code == "shutdown") return 503;
  return 500;
}

// Options shared by chat and completions, in Ollama's names.
Result<json> sampling_options(const json& body) {
  json o = json::object();
  ASSIGN_OR_RETURN(auto temperature, opt_number(body, "temperature", 0, 2));
  ASSIGN_OR_RETURN(auto top_p, opt_number(body, "top_p", 0, 1));
  ASSIGN_OR_RETURN(auto fp, opt_number(body, "frequency_penalty", -2, 2));
  ASSIGN_OR_RETURN(auto pp, opt_number(body, "presence_penalty", -2, 2));
  ASSIGN_OR_RETURN(auto seed, opt_int(body, "seed", INT64_MIN, INT64_MAX));
  ASSIGN_OR_RETURN(auto max_tokens, opt_int(body, "max_tokens", 0, kMaxNumPredict));
  ASSIGN_OR_RETURN(auto max_completion, opt_int(body, "max_completion_tokens", 0, kMaxNumPredict));
  ASSIGN_OR_RETURN(auto n, opt_int(body, "n", 1, 1));
  (void)n;
  if (temperature) o["temperature"] = *temperature;
  if (top_p) o["top_p"] = *top_p;
  if (fp) o["frequency_penalty"] = *fp;
  if (pp) o["presence_penalty"] = *pp;
  if (seed) o["seed"] = *seed;
  if (max_completion) o["num_predict"] = *max_completion;
  else if (max_tokens) o["num_predict"] = *max_tokens;
  auto st = body.find("stop");
  if (st != body.end() && !st->is_null()) {
    json stop = json::array();
    if (st->is_string()) stop.push_back(*st);
    else if (st->is_array()) stop = *st;
    else return make_error(ErrorCode::kInvalidArgument, "invalid value for 'stop': expected string or array of strings");
    ASSIGN_OR_RETURN(auto checked, parse_options(json{{"stop", stop}}));
    o["stop"] = checked.values["stop"];
  }
  return o;
}

// Ollama's mapping of OpenAI's reasoning controls onto `think`: `reasoning_effort` or
// `reasoning.effort` "low"|"medium"|"high"|"max" -> that level, "none" -> false; absent -> unset.
Result<json> parse_reasoning(const json& body) {
  std::optional<std::string> effort;
  ASSIGN_OR_RETURN(effort, opt_string(body, "reasoning_effort"));
  if (auto r = body.find("reasoning"); !effort && r != body.end() && !r->is_null()) {
    if (!r->is_object()) return make_error(ErrorCode::kInvalidArgument, "invalid value for 'reasoning': expected object");
    ASSIGN_OR_RETURN(effort, opt_string(*r, "effort"));
  }
  if (!effort) return json(nullptr);
  if (*effort == "none") return json(false);
  if (*effort == "low" || *effort == "medium" || *effort == "high" || *effort == "max") return json(*effort);
  return make_error(ErrorCode::kInvalidArgument, "invalid reasoning effort '{}': expected none, low, medium, high or max",
                    *effort);
}

// Converts OpenAI message content (string or array of parts) into plain text.
Result<json> convert_messages(const json& msgs) {
  if (!msgs.is_array() || msgs.empty())
    return make_error(ErrorCode::kInvalidArgument, "'messages' must be a non-empty array");
  if (msgs.size() > kMaxMessages) return make_error(ErrorCode::kInvalidArgument, "too many messages");
  json out = json::array();
  for (auto& m : msgs) {
    if (!m.is_object()) return make_error(ErrorCode::kInvalidArgument, "invalid message: expected object");
    ASSIGN_OR_RETURN(auto role, opt_string(m, "role"));
    if (!role) return make_error(ErrorCode::kInvalidArgument, "message is missing 'role'");
    std::string r = *role == "developer" ? "system" : *role;
    if (r != "system" && r != "user" && r != "assistant" && r != "tool")
      return make_error(ErrorCode::kInvalidArgument, "invalid role '{}'", *role);
    std::string text;
    auto c = m.find("content");
    if (c != m.end() && !c->is_null()) {
      if (c->is_string()) text = c->get<std::string>();
      else if (c->is_array()) {
        for (auto& part : *c) {
          if (!part.is_object()) return make_error(ErrorCode::kInvalidArgument, "invalid content part");
          std::string type = part.value("type", "");
          if (type == "text") {
            ASSIGN_OR_RETURN(auto t, opt_string(part, "text"));
            text += t.value_or("");
          } else if (type == "image_url") {
            return make_error(ErrorCode::kInvalidArgument, "images are not supported: this server has no vision support yet");
          } else {
            return make_error(ErrorCode::kInvalidArgument, "unsupported content part type '{}'", type);
          }
        }
      } else {
        return make_error(ErrorCode::kInvalidArgument, "invalid value for 'content': expected string or array");
      }
    }
    json om{{"role", r}, {"content", text}};
    if (m.contains("tool_calls") && m["tool_calls"].is_array()) {
      json calls = json::array();
      for (auto& tc : m["tool_calls"]) {
        if (!tc.is_object() || !tc.contains("function")) continue;
        json fn = tc["function"];
        json args = json::object();
        if (fn.contains("arguments") && fn["arguments"].is_string()) {
          args = json::parse(fn["arguments"].get<std::string>(), nullptr, false);
          if (args.is_discarded()) args = json::object();
        }
        calls.push_back(json{{"function", {{"name", fn.value("name", "")}, {"arguments", args}}}});
      }
      om["tool_calls"] = calls;
    }
    if (m.contains("tool_call_id") && m["tool_call_id"].is_string()) om["tool_call_id"] = m["tool_call_id"];
    out.push_back(om);
  }
  return out;
}

struct SseStream {
  ExPtr ex;
  std::string id, model;
  bool chat = true;
  bool stream = false;
  bool include_usage = false;
  int top_logprobs = -1;
  int64_t created = 0;
  bool started = false;
  std::string text;
  std::string reasoning;
  std::optional<ThinkingSplitter> splitter;  // set when the request asked for reasoning
  json logprobs = json::array();

  void send_event(const json& j) {
    if (!started) {
      ex->start_stream(200, "text/event-stream", {{"Cache-Control", "no-cache"}});
      started = true;
    }
    ex->write("data: " + j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n");
  }
  json chunk_base() const {
    return json{{"id", id}, {"object", chat ? "chat.completion.chunk" : "text_completion"}, {"created", created},
                {"model", model}, {"system_fingerprint", "fp_paddock"}};
  }
  json convert_logprobs(const json& lp) const {
    // Runner: [{token, logprob, bytes?, top_logprobs:[{token, logprob}]}] -> OpenAI content items.
    return lp;
  }
  static std::string finish_reason(const std::string& r) { return r == "length" ? "length" : "stop"; }

  // One piece of output: accumulated (stream false) or sent as a chunk. Thinking goes to
  // `reasoning` (Ollama's field in its OpenAI compatibility layer), omitted when empty.
  void emit(const ThinkingSplitter::Out& part, const json& lp) {
    if (!stream) {
      text += part.content;
      reasoning += part.thinking;
      if (lp.is_array())
        for (auto& x : lp) logprobs.push_back(x);
      return;
    }
    if (part.content.empty() && part.thinking.empty() && lp.is_null()) return;
    json c = chunk_base();
    json choice{{"index", 0}, {"finish_reason", nullptr}};
    if (chat) {
      choice["delta"] = json{{"role", "assistant"}, {"content", part.content}};
      if (!part.thinking.empty()) choice["delta"]["reasoning"] = part.thinking;
    } else {
      choice["text"] = part.content;
    }
    choice["logprobs"] = lp.is_null() ? json(nullptr) : json{{"content", convert_logprobs(lp)}};
    c["choices"] = json::array({choice});
    send_event(c);
  }
  void on_event(const json& ev, int64_t) {
    std::string type = ev.value("type", "");
    if (type == "token") {
      const std::string& raw_text = ev["text"].get_ref<const std::string&>();
      json lp = ev.contains("logprobs") && top_logprobs >= 0 ? ev["logprobs"] : json(nullptr);
      ThinkingSplitter::Out part;
      if (splitter) part = splitter->push(raw_text);
      else part.content = raw_text;
      emit(part, lp);
    } else if (type == "done") {
      if (splitter) emit(splitter->flush(), nullptr);
      int pt = ev.value("prompt_eval_count", 0), ct = ev.value("eval_count", 0);
      json usage{{"prompt_tokens", pt}, {"completion_tokens", ct}, {"total_tokens", pt + ct}};
      std::string fr = finish_reason(ev.value("done_reason", "stop"));
      if (stream) {
        json c = chunk_base();
        json choice{{"index", 0}, {"finish_reason", fr}, {"logprobs", nullptr}};
        if (chat) choice["delta"] = json{{"role", "assistant"}, {"content", ""}};
        else choice["text"] = "";
        c["choices"] = json::array({choice});
        send_event(c);
        if (include_usage) {
          json u = chunk_base();
          u["choices"] = json::array();
          u["usage"] = usage;
          send_event(u);
        }
        ex->write("data: [DONE]\n\n");
        ex->finish();
        return;
      }
      json r{{"id", id}, {"object", chat ? "chat.completion" : "text_completion"}, {"created", created},
             {"model", model}, {"system_fingerprint", "fp_paddock"}, {"usage", usage}};
      json choice{{"index", 0}, {"finish_reason", fr}};
      choice["logprobs"] = top_logprobs >= 0 ? json{{"content", convert_logprobs(logprobs)}} : json(nullptr);
      if (chat) {
        choice["message"] = json{{"role", "assistant"}, {"content", text}};
        if (!reasoning.empty()) choice["message"]["reasoning"] = reasoning;
      } else {
        choice["text"] = text;
      }
      r["choices"] = json::array({choice});
      send_json(*ex, 200, r);
    } else if (type == "error") {
      std::string msg = ev.value("message", "runner error");
      if (started) {
        send_event(
            json{{"error", {{"message", redact(msg)}, {"type", "api_error"}, {"param", nullptr}, {"code", nullptr}}}});
        ex->write("data: [DONE]\n\n");
        ex->finish();
      } else {
        send_openai_error(*ex, status_for_runner_error(ev), msg);
      }
    }
  }
};

void handle_completion(App& app, HttpRequest& req, const ExPtr& ex, bool chat, AdmissionPtr adm) {
  TRY_OAI(json body, parse_body(req.body));
  TRY_OAI(auto model, opt_string(body, "model"));
  TRY_OAI(auto stream, opt_bool(body, "stream"));
  TRY_OAI(json opts, sampling_options(body));
  TRY_OAI(auto logprobs_b, opt_bool(body, "logprobs"));
  TRY_OAI(auto top_logprobs, opt_int(body, "top_logprobs", 0, kMaxTopLogprobs));
  bool include_usage = false;
  if (auto so = body.find("stream_options"); so != body.end() && !so->is_null()) {
    if (!so->is_object()) return send_openai_error(*ex, 400, "invalid value for 'stream_options'", "stream_options");
    TRY_OAI(auto iu, opt_bool(*so, "include_usage"));
    include_usage = iu.value_or(false);
  }
  json format = nullptr;
  std::string format_text;  // the schema with its member order kept
  if (auto rf = body.find("response_format"); rf != body.end() && !rf->is_null()) {
    if (!rf->is_object()) return send_openai_error(*ex, 400, "invalid value for 'response_format'", "response_format");
    std::string t = rf->value("type", "");
    if (t == "json_object") format = "json";
    else if (t == "json_schema") {
      auto js = rf->find("json_schema");
      if (js == rf->end() || !js->is_object() || !js->contains("schema"))
        return send_openai_error(*ex, 400, "response_format json_schema needs a 'schema'", "response_format");
      format = (*js)["schema"];
      format_text = ordered_member_text(req.body, {"response_format", "json_schema", "schema"});
    } else if (t != "text") {
      return send_openai_error(*ex, 400, "invalid response_format type '" + t + "'", "response_format");
    }
  }
  int tl = -1;
  if (chat) {
    if (logprobs_b.value_or(false)) tl = int(top_logprobs.value_or(0));
  } else {
    TRY_OAI(auto lp, opt_int(body, "logprobs", 0, 5));
    if (lp) tl = int(*lp);
  }
  TRY_OAI(json think, parse_reasoning(body));
  json rr{{"type", "generate"}, {"mode", chat ? "chat" : "generate"}, {"format", format}, {"format_text", format_text}, {"top_logprobs", tl},
          {"raw", false}, {"render_only", false}, {"truncate", true}, {"shift", true}, {"think", think}};
  if (chat) {
    auto m = body.find("messages");
    if (m == body.end()) return send_openai_error(*ex, 400, "'messages' is required", "messages");
    TRY_OAI(json msgs, convert_messages(*m));
    rr["messages"] = msgs;
    if (auto t = body.find("tools"); t != body.end() && !t->is_null()) {
      if (!t->is_array()) return send_openai_error(*ex, 400, "invalid value for 'tools'", "tools");
      rr["tools"] = *t;
    }
  } else {
    auto p = body.find("prompt");
    if (p == body.end() || !p->is_string())
      return send_openai_error(*ex, 400, "'prompt' is required and must be a string", "prompt");
    rr["prompt"] = *p;
    TRY_OAI(auto suffix, opt_string(body, "suffix"));
    rr["suffix"] = suffix.value_or("");
    rr["return_context"] = false;
    if (p->get_ref<const std::string&>().empty() && !suffix) rr["prompt"] = "";
  }
  if (!model || model->empty()) return send_openai_error(*ex, 400, "'model' is required", "model");
  if (!check_model_access(app, req, ex, *model)) return;
  auto res = resolve_model(app, *model);
  if (!res.ok()) return send_openai_error(*ex, res.error());
  // Ollama's answer to a reasoning effort for a model without the thinking capability.
  if (((think.is_boolean() && think.get<bool>()) || think.is_string()) && !res->has_capability("thinking"))
    return send_openai_error(*ex, 400, fmt::format("\"{}\" does not support thinking", *model));
  if (rr.contains("tools") && rr["tools"].is_array() && !rr["tools"].empty() && !res->has_capability("tools"))
    return send_openai_error(*ex, 400, fmt::format("\"{}\" does not support tools", *model), "tools");
  if (!chat && rr.value("suffix", "") != "" && !res->has_capability("insert"))
    return send_openai_error(*ex, 400, fmt::format("\"{}\" does not support insert", *model), "suffix");
  // A schema the runner would refuse is a 400 now, before the model is loaded for it.
  if (auto st = check_format(format, format_text); !st.ok())
    return send_openai_error(*ex, 400, st.error().message(), "response_format");
  GenOptions merged;
  if (auto mo = parse_options(res->params); mo.ok()) merged = *mo;
  for (auto& [k, v] : opts.items()) merged.values[k] = v;
  apply_num_ctx(app, *res, merged.values);
  rr["options"] = merged.values;
  rr["system"] = res->system;
  rr["template"] = res->template_text;
  if (chat) {
    json all = res->messages;
    for (auto& m : rr["messages"]) all.push_back(m);
    rr["messages"] = all;
  }
  auto s = std::make_shared<SseStream>();
  s->ex = ex;
  s->id = random_id(chat ? "chatcmpl-" : "cmpl-");
  s->model = *model;
  s->chat = chat;
  s->stream = stream.value_or(false);
  s->include_usage = include_usage;
  s->top_logprobs = tl;
  s->created = now_unix_ns() / 1000000000;
  if (chat && ((think.is_boolean() && think.get<bool>()) || think.is_string()))
    s->splitter.emplace(template_opens_thinking(res->template_text.empty() ? res->chat_template : res->template_text));
  Job job;
  job.model = std::move(*res);
  job.admission = std::move(adm);
  job.runner_req = std::move(rr);
  job.on_event = [s](const json& ev, int64_t l) { s->on_event(ev, l); };
  job.on_fail = [ex](const Error& e) { send_openai_error(*ex, e); };
  run_job(app, ex, std::move(job));
}

void handle_embeddings(App& app, HttpRequest& req, const ExPtr& ex, AdmissionPtr adm) {
  TRY_OAI(json body, parse_body(req.body));
  TRY_OAI(auto model, opt_string(body, "model"));
  TRY_OAI(auto dims, opt_int(body, "dimensions", 1, 1 << 20));
  TRY_OAI(auto enc, opt_string(body, "encoding_format"));
  if (enc && *enc != "float" && *enc != "base64")
    return send_openai_error(*ex, 400, "invalid encoding_format '" + *enc + "'", "encoding_format");
  bool b64 = enc && *enc == "base64";
  json inputs = json::array();
  auto in = body.find("input");
  if (in == body.end() || in->is_null()) return send_openai_error(*ex, 400, "'input' is required", "input");
  if (in->is_string()) inputs.push_back(*in);
  else if (in->is_array()) {
    if (in->size() > 2048) return send_openai_error(*ex, 400, "too many inputs (at most 2048)", "input");
    for (auto& x : *in) {
      if (!x.is_string()) return send_openai_error(*ex, 400, "'input' must be a string or an array of strings", "input");
      inputs.push_back(x);
    }
  } else {
    return send_openai_error(*ex, 400, "'input' must be a string or an array of strings", "input");
  }
  if (inputs.empty()) return send_openai_error(*ex, 400, "'input' must not be empty", "input");
  if (!model || model->empty()) return send_openai_error(*ex, 400, "'model' is required", "model");
  if (!check_model_access(app, req, ex, *model)) return;
  auto res = resolve_model(app, *model);
  if (!res.ok()) return send_openai_error(*ex, res.error());
  std::string name = *model;
  Job job;
  job.model = std::move(*res);
  job.admission = std::move(adm);
  job.runner_req = json{{"type", "embed"}, {"inputs", inputs}, {"truncate", true}, {"options", json::object()}};
  if (dims) job.runner_req["dimensions"] = *dims;
  job.on_event = [ex, name, b64](const json& ev, int64_t) {
    std::string type = ev.value("type", "");
    if (type == "error") return send_openai_error(*ex, status_for_runner_error(ev), ev.value("message", "runner error"));
    if (type != "done") return;
    json data = json::array();
    int i = 0;
    for (auto& e : ev.value("embeddings", json::array())) {
      json item{{"object", "embedding"}, {"index", i++}};
      if (b64) {
        std::vector<float> v = e.get<std::vector<float>>();
        const auto* bytes = reinterpret_cast<const unsigned char*>(v.data());
        size_t n = v.size() * sizeof(float);
        static const char* tbl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        std::string s;
        for (size_t k = 0; k < n; k += 3) {
          uint32_t x = uint32_t(bytes[k]) << 16 | (k + 1 < n ? uint32_t(bytes[k + 1]) << 8 : 0) | (k + 2 < n ? bytes[k + 2] : 0);
          s += tbl[(x >> 18) & 63];
          s += tbl[(x >> 12) & 63];
          s += k + 1 < n ? tbl[(x >> 6) & 63] : '=';
          s += k + 2 < n ? tbl[x & 63] : '=';
        }
        item["embedding"] = s;
      } else {
        item["embedding"] = e;
      }
      data.push_back(item);
    }
    int pt = ev.value("prompt_eval_count", 0);
    send_json(*ex, 200, json{{"object", "list"}, {"data", data}, {"model", name},
                             {"usage", {{"prompt_tokens", pt}, {"total_tokens", pt}}}});
  };
  job.on_fail = [ex](const Error& e) { send_openai_error(*ex, e); };
  run_job(app, ex, std::move(job));
}

json model_object(const CatalogEntry& e) {
  std::string owner = "library";
  auto slash = e.name.find('/');
  if (slash != std::string::npos) {
    auto second = e.name.find('/', slash + 1);
    owner = second == std::string::npos ? e.name.substr(0, slash) : e.name.substr(slash + 1, second - slash - 1);
  }
  return json{{"id", e.name}, {"object", "model"}, {"created", e.modified_unix_ns / 1000000000}, {"owned_by", owner}};
}

// RFC 3986 percent-decoding of a path segment; nullopt for a malformed escape.
std::optional<std::string> percent_decode(std::string_view s) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    int hi = i + 1 < s.size() ? hex(s[i + 1]) : -1, lo = i + 2 < s.size() ? hex(s[i + 2]) : -1;
    if (hi < 0 || lo < 0) return std::nullopt;
    out += char(hi * 16 + lo);
    i += 2;
  }
  return out;
}

// GET /v1/models and /v1/models/{id} (the id percent-decoded: clients send "llama3.2%3Alatest").
void handle_models(App& app, const std::string& p, const ExPtr& ex) {
  auto list = app.catalog->list();
  if (!list.ok()) return send_openai_error(*ex, list.error());
  if (p == "/v1/models") {
    json data = json::array();
    for (auto& e : *list) data.push_back(model_object(e));
    return send_json(*ex, 200, json{{"object", "list"}, {"data", data}});
  }
  auto id = percent_decode(p.substr(11));
  if (!id) return send_openai_error(*ex, 400, "invalid model name: bad percent-encoding", "model");
  auto st = app.catalog->validate_name(*id);
  if (!st.ok()) return send_openai_error(*ex, 400, name_error(st.error()), "model");
  auto r = app.catalog->resolve(*id, app.cfg.num_ctx, app.cfg.num_parallel);
  if (!r.ok()) return send_openai_error(*ex, 404, fmt::format("model \"{}\" not found", *id), "model");
  for (auto& e : *list)
    if (e.name == r->ref.name) {
      json o = model_object(e);
      o["id"] = *id;
      return send_json(*ex, 200, o);
    }
  send_openai_error(*ex, 404, fmt::format("model \"{}\" not found", *id), "model");
}

}  // namespace

bool route_openai(App& app, HttpRequest& req, const std::shared_ptr<Exchange>& ex) {
  const std::string& p = req.path;
  auto post_only = [&] {
    if (req.method == "POST") return true;
    send_openai_error(*ex, 405, "method not allowed");
    return false;
  };
  // As for /api: the work runs on the request pool, generation takes its queue place first.
  auto pooled = [&](bool generation, PooledHandler fn) { run_pooled(app, req, ex, generation, true, std::move(fn)); };
  if (p == "/v1/chat/completions" || p == "/v1/completions") {
    bool chat = p == "/v1/chat/completions";
    if (post_only())
      pooled(true, [chat](App& a, HttpRequest& r, const ExPtr& e, AdmissionPtr adm) {
        handle_completion(a, r, e, chat, std::move(adm));
      });
  } else if (p == "/v1/embeddings") {
    if (post_only())
      pooled(true, [](App& a, HttpRequest& r, const ExPtr& e, AdmissionPtr adm) {
        handle_embeddings(a, r, e, std::move(adm));
      });
  } else if (p == "/v1/models" || p.rfind("/v1/models/", 0) == 0) {
    if (req.method != "GET") {
      send_openai_error(*ex, 405, "method not allowed");
      return true;
    }
    pooled(false, [](App& a, HttpRequest& r, const ExPtr& e, AdmissionPtr) { handle_models(a, r.path, e); });
  } else {
    return false;
  }
  return true;
}

}  // namespace paddock::server
