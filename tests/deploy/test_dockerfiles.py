#!/usr/bin/env python3
"""ctest deploy_dockerfiles: the image Dockerfiles pass deploy/docker/check_dockerfile.py, and
every deliberately bad Dockerfile in dockerfiles/ fails it with exactly the rules its
`# expect:` line names (so each rule is shown to catch what it is for)."""
import glob
import os
import re
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CHECK = os.path.join(ROOT, "deploy", "docker", "check_dockerfile.py")
failures = []


def run(path):
    p = subprocess.run([sys.executable, CHECK, path], capture_output=True, text=True, timeout=30)
    rules = set(re.findall(r"^\S+:\d+: ([a-z-]+):", p.stdout, re.M))
    return p.returncode, rules, p.stdout + p.stderr


for image in ("Dockerfile.cpu", "Dockerfile.cuda"):
    rc, rules, out = run(os.path.join(ROOT, "deploy", "docker", image))
    if rc != 0:
        failures.append(f"{image} should pass:\n{out}")

fixtures = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "dockerfiles", "*.Dockerfile")))
if len(fixtures) < 5:
    failures.append(f"expected the bad Dockerfiles in tests/deploy/dockerfiles, found {len(fixtures)}")
for f in fixtures:
    expect = set(re.search(r"^# expect: (.*)$", open(f).read(), re.M).group(1).split())
    rc, rules, out = run(f)
    if rc != 1 or rules != expect:
        failures.append(f"{os.path.basename(f)}: expected rc 1 with {sorted(expect)}, got rc {rc} with {sorted(rules)}:\n{out}")
    else:
        print(f"ok  {os.path.basename(f)} fails with {sorted(rules)}")

for f in failures:
    print("FAIL", f)
sys.exit(1 if failures else 0)
