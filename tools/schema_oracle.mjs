// Oracle for structured output (tests/unit/engine/json_schema_test.cpp): validates, with ajv
// (JSON Schema draft 2020-12, an implementation we did not write), the outputs our grammar
// produced for each schema in tests/fixtures/grammar/schemas.json, and that schema's invalid
// instances; writes tests/fixtures/grammar/schema_outputs.json.
//
// Run from the repository root after building grammar_test:
//   node tools/schema_oracle.mjs build/dev/tests/unit/engine/grammar_test
// Needs ajv under tools/oracles (`npm install --no-audit --no-fund` there; package.json pins it).
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync, mkdtempSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(path.join(root, "tools/oracles/package.json"));
const Ajv2020 = require("ajv/dist/2020").default;
const ajvVersion = require("ajv/package.json").version;

const binary = process.argv[2];
if (!binary) {
  console.error("usage: node tools/schema_oracle.mjs <path to grammar_test>");
  process.exit(2);
}
const schemasPath = path.join(root, "tests/fixtures/grammar/schemas.json");
const schemasText = readFileSync(schemasPath);
const schemas = JSON.parse(schemasText);

// Our outputs, from the test binary in dump mode (it runs with the test's working directory).
const dump = path.join(mkdtempSync(path.join(tmpdir(), "schema-oracle-")), "outputs.json");
execFileSync(path.resolve(binary), ["--gtest_filter=JsonSchema.RandomOutputsMatchAjvValidatedFixture"], {
  cwd: path.join(root, "tests/unit/engine"),
  env: { ...process.env, PADDOCK_SCHEMA_DUMP: dump },
  stdio: ["ignore", "inherit", "inherit"],
});
const ours = JSON.parse(readFileSync(dump, "utf8"));

const results = [];
let nValid = 0, nChecked = 0;
for (let i = 0; i < schemas.length; ++i) {
  const { name, schema, invalid } = schemas[i];
  if (ours[i].name !== name) throw new Error(`dump order differs at ${i}`);
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  const validate = ajv.compile(schema);
  const check = (text) => {
    let doc;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      return { valid: false, errors: [`JSON.parse: ${e.message}`] };
    }
    const valid = validate(doc);
    return { valid, errors: valid ? [] : validate.errors.map((e) => `${e.instancePath} ${e.message}`) };
  };
  const outputs = ours[i].outputs.map((o) => {
    if (!o.complete) return { ...o, valid: null, errors: [] };
    const v = check(o.text);
    nChecked++;
    if (v.valid) nValid++;
    return { ...o, ...v };
  });
  results.push({ name, outputs, invalid: invalid.map((text) => ({ text, ...check(text) })) });
}
const out = {
  meta: {
    oracle: `ajv ${ajvVersion} (Ajv2020, strict: false)`,
    generated_by: "tools/schema_oracle.mjs",
    schemas_sha256: createHash("sha256").update(schemasText).digest("hex"),
  },
  results,
};
writeFileSync(path.join(root, "tests/fixtures/grammar/schema_outputs.json"), JSON.stringify(out, null, 1) + "\n");
console.log(`ajv ${ajvVersion}: ${nValid} of ${nChecked} completed outputs valid`);
