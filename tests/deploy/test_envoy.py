#!/usr/bin/env python3
"""ctest deploy_envoy: deploy/envoy/envoy.yaml matches the Envoy v3 API structure
(validate_envoy.py; no Envoy binary on CI), its routes keep the timeout and retry rules of
docs/DEPLOYMENT.md (streaming routes are not cut by a total timeout, retries only on 503 and only
on routes that change nothing), the users' guide's route (30 s on /api/) breaks those rules, and
envoy_bad.yaml's mistakes are each reported."""
import os
import re
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import validate_envoy  # noqa: E402

STREAMING = ("/api/generate", "/api/chat", "/v1/chat/completions", "/v1/completions", "/api/pull", "/api/push",
             "/api/create")
READ_ONLY_POST = ("/api/embed", "/v1/embeddings", "/api/show")


def seconds(d):
    return float(d[:-1]) if d else None


def route_rules(routes):
    """Problems with the timeout and retry rules, one line each."""
    problems = []
    for r in routes:
        m, a = r["match"], r.get("route", {})
        prefix = m.get("prefix") or m.get("path") or ""
        methods = [h.get("string_match", {}) for h in m.get("headers", []) if h["name"] == ":method"]
        method = (methods[0].get("exact") or methods[0].get("safe_regex", {}).get("regex")) if methods else None
        t = seconds(a.get("timeout", "15s"))  # Envoy's default route timeout is 15 s
        if prefix.startswith(STREAMING) or prefix in ("/api/", "/api", "/v1/", "/v1"):
            if t != 0 and t < 3600:
                problems.append(f"{prefix}: timeout {a.get('timeout', '15s (default)')} cuts long generations")
        rp = a.get("retry_policy")
        if rp:
            if rp.get("retry_on") != "retriable-status-codes" or rp.get("retriable_status_codes") != [503]:
                problems.append(f"{prefix}: retries on {rp.get('retry_on')} {rp.get('retriable_status_codes')}, not only on 503")
            safe = (method is not None and set(method.split("|")) <= {"GET", "HEAD"}) or prefix.startswith(READ_ONLY_POST)
            if not safe:
                problems.append(f"{prefix} ({method or 'any method'}): a retry could repeat a request that changes something")
    return problems


failures = []
v = validate_envoy.Validator()
path = os.path.join(HERE, "..", "..", "deploy", "envoy", "envoy.yaml")
cfg = yaml.safe_load(open(path))
errors = validate_envoy.validate(cfg, v)
failures += errors
hcm = cfg["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
routes = hcm["route_config"]["virtual_hosts"][0]["routes"]
failures += route_rules(routes)
covered = {r["match"].get("prefix") or r["match"].get("path") for r in routes}
for s in STREAMING:
    if s not in covered:
        failures.append(f"no route of its own for {s}")
if seconds(hcm.get("request_timeout", "0s")) != 0:
    failures.append("the connection manager's request_timeout would cut streams")
if not errors and not failures:
    print(f"ok   envoy.yaml: valid, {len(routes)} routes keep the timeout and retry rules")

# The guide's route and a retried generation break the rules.
guide = [{"match": {"prefix": "/api/"}, "route": {"cluster": "ollama_cluster", "timeout": "30s"}},
         {"match": {"prefix": "/api/generate"}, "route": {"cluster": "c", "timeout": "0s",
          "retry_policy": {"retry_on": "5xx", "num_retries": 3}}}]
got = route_rules(guide)
want = ["/api/: timeout 30s cuts long generations", "/api/generate: retries on 5xx None, not only on 503",
        "/api/generate (any method): a retry could repeat a request that changes something"]
if got != want:
    failures.append(f"route rules on the guide's routes: expected {want}, got {got}")
else:
    print("ok   the guide's 30 s /api/ route and a retried generation are refused")

bad = os.path.join(HERE, "envoy_bad.yaml")
expect = re.findall(r"^# expect: (.*)$", open(bad).read(), re.M)
got = validate_envoy.validate(yaml.safe_load(open(bad)), v)
missing = [e for e in expect if not any(e in g for g in got)]
if missing or len(expect) < 7:
    failures.append(f"envoy_bad.yaml: not reported: {missing}; reported: {got}")
else:
    print(f"ok   envoy_bad.yaml: all {len(expect)} mistakes reported")
for f in failures:
    print("FAIL", f)
sys.exit(1 if failures else 0)
