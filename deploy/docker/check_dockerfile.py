#!/usr/bin/env python3
"""Checks Dockerfiles against the rules Paddock's images keep (no container engine needed).

    check_dockerfile.py Dockerfile [Dockerfile ...]

Rules (each violation is one line `FILE:LINE: rule: detail`; exit 1 if any):
  pinned-base     every FROM names an earlier stage or an image pinned by tag AND sha256 digest
                  (ARG defaults are expanded; `latest` is not a tag)
  non-root        the final stage has a USER, and its last USER is not root / uid 0
  healthcheck     the final stage has a HEALTHCHECK that is not NONE
  entrypoint      the final stage has an exec-form (JSON) ENTRYPOINT
  no-add-url      no ADD of a URL or git repository (use a pinned, verified download in RUN or COPY)
  no-secrets      no ARG/ENV/LABEL whose name says secret (password, token, key, credential) with a
                  value, no COPY/ADD of key or credential files, no private key or credential
                  literal in any instruction
"""
import json
import re
import sys

DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
SECRET_NAME = re.compile(r"(PASSW(OR)?D|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL|ACCESS_?KEY)", re.I)
SECRET_FILE = re.compile(r"(^|/)(id_rsa|id_ed25519|id_ecdsa|\.env|\.netrc|\.npmrc|\.pypirc|credentials(\.json)?|"
                         r"keys?\.ya?ml|[^/]*\.(pem|key|p12|pfx|jks))$", re.I)
SECRET_LITERAL = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----|AKIA[0-9A-Z]{16}|"
                            r"(password|passwd|secret|token)\s*[=:]\s*['\"]?[^\s'\"$]{6,}|"
                            r"\b(ghp|glpat|xox[bp])[-_][A-Za-z0-9]{10,}", re.I)


def logical_lines(text):
    """Yields (line number, instruction, arguments) with continuations joined, comments dropped."""
    escape = "\\"
    m = re.match(r"#\s*escape\s*=\s*(\S)", text)
    if m:
        escape = m.group(1)
    buf, start = "", 0
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        if not buf and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if buf and line.lstrip().startswith("#"):
            continue  # a comment inside a continued instruction
        if not buf:
            start = n
        if line.endswith(escape):
            buf += line[:-1] + " "
            continue
        buf += line
        parts = buf.strip().split(None, 1)
        yield start, parts[0].upper(), parts[1] if len(parts) > 1 else ""
        buf = ""
    if buf.strip():
        parts = buf.strip().split(None, 1)
        yield start, parts[0].upper(), parts[1] if len(parts) > 1 else ""


def expand(value, args):
    return re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: args.get(m.group(1), m.group(0)), value)


def kv_pairs(rest):
    """ENV/LABEL/ARG arguments as (name, value) pairs (both `k=v ...` and legacy `k v` forms)."""
    if "=" not in rest.split(None, 1)[0]:
        name, _, value = rest.partition(" ")
        return [(name, value.strip())]
    pairs = []
    for m in re.finditer(r'([^\s=]+)(?:=("(?:[^"\\]|\\.)*"|\S*))?', rest):
        value = m.group(2) or ""
        if value.startswith('"'):
            value = value[1:-1]
        pairs.append((m.group(1), value))
    return pairs


def check(path):
    text = open(path, encoding="utf-8").read()
    problems = []

    def bad(line, rule, detail):
        problems.append(f"{path}:{line}: {rule}: {detail}")

    global_args, stages = {}, []  # stages: dicts with name, line, instructions
    for line, ins, rest in logical_lines(text):
        if ins == "FROM":
            words = [w for w in rest.split() if not w.startswith("--")]
            image = words[0] if words else ""
            name = words[2].lower() if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append({"name": name, "line": line, "image": image, "ins": []})
            continue
        if not stages:
            if ins == "ARG":
                for k, v in kv_pairs(rest):
                    global_args[k] = v
            elif ins not in ("ARG",):
                bad(line, "syntax", f"{ins} before the first FROM")
        else:
            stages[-1]["ins"].append((line, ins, rest))
        if ins in ("ARG", "ENV", "LABEL"):
            for k, v in kv_pairs(rest):
                if SECRET_NAME.search(k) and v:
                    bad(line, "no-secrets", f"{ins} {k} carries a value (secrets belong in run-time mounts)")
        if ins in ("COPY", "ADD"):
            srcs = [w for w in rest.split() if not w.startswith("--")][:-1]
            for s in srcs:
                if SECRET_FILE.search(s.strip('"[],')):
                    bad(line, "no-secrets", f"{ins} of a key or credential file {s}")
        if SECRET_LITERAL.search(rest):
            bad(line, "no-secrets", f"{ins} contains a credential or private key literal")
        if ins == "ADD":
            srcs = [w for w in rest.split() if not w.startswith("--")][:-1]
            for s in srcs:
                if re.match(r"^[\"\[]*(https?|ftp)://|^[\"\[]*git@|\.git(#|$)", s):
                    bad(line, "no-add-url", f"ADD {s}: downloads unverified content into a layer")

    if not stages:
        bad(1, "syntax", "no FROM")
        return problems

    seen = set()
    for st in stages:
        image = expand(st["image"], global_args)
        if image.lower() in seen:
            pass
        elif "$" in image:
            bad(st["line"], "pinned-base", f"FROM {st['image']}: an ARG without a default")
        elif image.lower() == "scratch":
            pass
        else:
            ref = image.split("@", 1)[0]
            tag = ref.rsplit(":", 1)[1] if ":" in ref.rsplit("/", 1)[-1] else None
            if not DIGEST.search(image) or not tag or tag == "latest":
                bad(st["line"], "pinned-base", f"FROM {image}: pin both a tag and a sha256 digest (image:tag@sha256:...)")
        if st["name"]:
            seen.add(st["name"])

    final = stages[-1]
    users = [(line, rest.strip()) for line, ins, rest in final["ins"] if ins == "USER"]
    if not users:
        bad(final["line"], "non-root", "the final stage has no USER: the container would run as root")
    else:
        line, user = users[-1]
        who = expand(user, global_args).split(":", 1)[0]
        if who in ("root", "0", ""):
            bad(line, "non-root", f"USER {user}: the final stage runs as root")
    hcs = [(line, rest.strip()) for line, ins, rest in final["ins"] if ins == "HEALTHCHECK"]
    if not hcs:
        bad(final["line"], "healthcheck", "the final stage has no HEALTHCHECK")
    elif hcs[-1][1].upper() == "NONE":
        bad(hcs[-1][0], "healthcheck", "HEALTHCHECK NONE")
    eps = [(line, rest.strip()) for line, ins, rest in final["ins"] if ins == "ENTRYPOINT"]
    if not eps:
        bad(final["line"], "entrypoint", "the final stage has no ENTRYPOINT")
    else:
        try:
            ok = isinstance(json.loads(eps[-1][1]), list)
        except ValueError:
            ok = False
        if not ok:
            bad(eps[-1][0], "entrypoint", "ENTRYPOINT in shell form: signals (SIGTERM drain) would go to /bin/sh")
    return problems


def main(argv):
    if len(argv) < 2:
        print("usage: check_dockerfile.py Dockerfile [Dockerfile ...]", file=sys.stderr)
        return 2
    problems = []
    for path in argv[1:]:
        try:
            problems += check(path)
        except OSError as e:
            problems.append(f"{path}: cannot read: {e.strerror}")
    for p in problems:
        print(p)
    if not problems:
        print(f"ok: {len(argv) - 1} Dockerfile(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
