#!/usr/bin/env python3
"""Second oracle for Jinja chat templates: Python Jinja2 configured as Hugging Face transformers
configures it for apply_chat_template (sandboxed, trim_blocks, lstrip_blocks, loopcontrols,
tojson with ensure_ascii=False, raise_exception, strftime_now). Adds python_expected /
python_error to tests/fixtures/template/jinja_cases.json and jinja_features_expected.json, so the
tests can tell transformers.js quirks from real Jinja behaviour.

Run from the repository root after tools/template_oracle.mjs:  python3 tools/template_oracle_jinja2.py
(needs the jinja2 Python package; the version used is recorded in the fixtures).
strftime_now uses a fixed clock: 1700000000 (2023-11-14T22:13:20Z), as the C++ tests do.
"""
import json
from datetime import datetime, timezone

import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

FIX = "tests/fixtures/template"


def make_env():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(fmt):
        return datetime.fromtimestamp(1700000000, tz=timezone.utc).strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def render(env, source, context):
    try:
        return {"python_expected": env.from_string(source).render(**context)}
    except Exception as e:  # noqa: BLE001 - any failure is the oracle's answer
        return {"python_error": f"{type(e).__name__}: {e}"}


def main():
    env = make_env()
    version = f"jinja2@{jinja2.__version__} (Python, HF transformers environment)"
    cases = json.load(open(f"{FIX}/jinja_cases.json", encoding="utf-8"))
    cases["python_oracle"] = version
    for c in cases["cases"]:
        if "note" in c:
            continue
        source = open(f"{FIX}/chat_templates/{c['model']}.jinja", encoding="utf-8").read()
        c.update(render(env, source, c["context"]))
    with open(f"{FIX}/jinja_cases.json", "w", encoding="utf-8") as f:
        json.dump(cases, f, ensure_ascii=False, indent=1)
        f.write("\n")

    feats = json.load(open(f"{FIX}/jinja_features.json", encoding="utf-8"))
    expected = json.load(open(f"{FIX}/jinja_features_expected.json", encoding="utf-8"))
    expected["python_oracle"] = version
    for inp, out in zip(feats["cases"], expected["cases"]):
        out.update(render(env, inp["template"], inp.get("context", feats["default_context"])))
    with open(f"{FIX}/jinja_features_expected.json", "w", encoding="utf-8") as f:
        json.dump(expected, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
