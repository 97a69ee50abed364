#!/usr/bin/env python3
"""ctest deploy_prometheus: deploy/prometheus passes `promtool check config`, `promtool check
rules` and `promtool test rules`, and every alert in alerts.yml has a unit test in
alerts_test.yml in which it fires (so no alert is shipped untested)."""
import os
import subprocess
import sys

import yaml

D = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "deploy", "prometheus")
failures = []
for args in (["check", "config", "prometheus.yml"], ["check", "rules", "alerts.yml"], ["test", "rules", "alerts_test.yml"]):
    p = subprocess.run(["promtool", *args], cwd=D, capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        failures.append(f"promtool {' '.join(args)}:\n{p.stdout}{p.stderr}")
    else:
        print(f"ok   promtool {' '.join(args)}")
alerts = [r["alert"] for g in yaml.safe_load(open(os.path.join(D, "alerts.yml")))["groups"] for r in g["rules"] if "alert" in r]
firing = {t["alertname"] for case in yaml.safe_load(open(os.path.join(D, "alerts_test.yml")))["tests"]
          for t in case.get("alert_rule_test", []) if t.get("exp_alerts")}
untested = [a for a in alerts if a not in firing]
if untested:
    failures.append(f"alerts without a unit test in which they fire: {untested}")
else:
    print(f"ok   all {len(alerts)} alerts fire in a unit test")
for f in failures:
    print("FAIL", f)
sys.exit(1 if failures else 0)
