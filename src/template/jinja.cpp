// template: Jinja entry points — parse (lex + parse), render with limits, and the globals that
// need the interpreter's options (strftime_now with an injectable clock).
#include <ctime>

#include "template/jinja_interp.h"
#include "template/template.h"

namespace paddock::chat_template {

struct JinjaTemplate::Program {
  jinja::Body body;
};

Result<JinjaTemplate> JinjaTemplate::parse(const std::string& source) {
  ASSIGN_OR_RETURN(auto tokens, jinja::lex(source));
  ASSIGN_OR_RETURN(jinja::Body body, jinja::parse(std::move(tokens)));
  auto p = std::make_shared<Program>();
  p->body = std::move(body);
  JinjaTemplate t;
  t.program_ = std::move(p);
  return t;
}

Result<std::string> JinjaTemplate::render(const nlohmann::ordered_json& context, const RenderLimits& limits) const {
  using namespace jinja;
  if (!context.is_object() && !context.is_null())
    return Error(ErrorCode::kInvalidArgument, "template context must be a JSON object");
  Value globals = Value::object();
  if (context.is_object()) {
    ASSIGN_OR_RETURN(globals, from_json(context));
  }
  int64_t now = limits.now_unix >= 0 ? limits.now_unix : static_cast<int64_t>(std::time(nullptr));
  bool fixed = limits.now_unix >= 0;
  if (!globals.obj->find("strftime_now")) {
    globals.obj->set("strftime_now", Value::callable("strftime_now", [now, fixed](CallArgs& a) -> Result<Value> {
      const Value& f = a.get(0, "format");
      if (!f.is_string()) return Error(ErrorCode::kInvalidArgument, "strftime_now() needs a format string");
      if (f.s().size() > 256) return Error(ErrorCode::kInvalidArgument, "strftime_now() format too long");
      std::time_t t = static_cast<std::time_t>(now);
      std::tm tm{};
      if (fixed) gmtime_r(&t, &tm);
      else localtime_r(&t, &tm);
      char buf[1024];
      size_t n = std::strftime(buf, sizeof buf, f.s().c_str(), &tm);
      return Value::str(std::string(buf, n));
    }));
  }
  Interp in(limits);
  return in.run(program_->body, std::move(globals));
}

Result<std::string> render_jinja(const std::string& source, const nlohmann::ordered_json& context,
                                 const RenderLimits& limits) {
  ASSIGN_OR_RETURN(JinjaTemplate t, JinjaTemplate::parse(source));
  return t.render(context, limits);
}

Result<std::string> render_jinja(const std::string& source, const nlohmann::json& context,
                                 const RenderLimits& limits) {
  return render_jinja(source, nlohmann::ordered_json::parse(context.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)), limits);
}

}  // namespace paddock::chat_template
