#!/usr/bin/env python3
"""Regenerates tests/deploy/schemas/envoy.json (what validate_envoy.py checks Envoy configs
against) from Envoy's API protos (github.com/envoyproxy/data-plane-api), run by hand:

    make_envoy_schema.py API_DIR SOURCE_TEXT

Keeps, for every message reachable from the roots below, its fields (name, type, repeated/map,
oneof group, deprecated) and every enum's value names: the structure of the API, no comments.
Types outside API_DIR (cncf/xds, udpa annotations) are recorded as external (unchecked).
"""
import json
import os
import re
import sys

ROOTS = [
    "envoy.config.bootstrap.v3.Bootstrap",
    "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
    "envoy.extensions.filters.http.router.v3.Router",
    "envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
    "envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
    "envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
    "envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate",
]
SCALARS = {"double", "float", "int32", "int64", "uint32", "uint64", "sint32", "sint64", "fixed32", "fixed64",
           "sfixed32", "sfixed64", "bool", "string", "bytes"}
TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|[A-Za-z_][\w.]*|\.[A-Za-z_][\w.]*|-?\d[\w.+-]*|\S')


def tokens(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    return TOKEN.findall(text)


class Parser:
    def __init__(self):
        self.messages, self.enums = {}, {}

    def parse_file(self, text):
        t, i, pkg = tokens(text), 0, ""
        while i < len(t):
            if t[i] == "package":
                pkg, i = t[i + 1], i + 3
            elif t[i] == "message":
                i = self.message(t, i, pkg)
            elif t[i] == "enum":
                i = self.enum(t, i, pkg)
            elif t[i] in ("service", "extend"):
                i = self.skip_block(t, t.index("{", i))
            else:
                i = self.skip_statement(t, i)

    @staticmethod
    def skip_block(t, i):  # t[i] == "{"
        depth = 0
        while True:
            depth += {"{": 1, "}": -1}.get(t[i], 0)
            i += 1
            if depth == 0:
                return i

    @staticmethod
    def skip_statement(t, i):
        """Past the next ';' outside brackets (field options [...], option values {...})."""
        depth = 0
        while True:
            if t[i] in ("{", "[", "("):
                depth += 1
            elif t[i] in ("}", "]", ")"):
                depth -= 1
            elif t[i] == ";" and depth == 0:
                return i + 1
            i += 1

    def enum(self, t, i, scope):
        name = f"{scope}.{t[i + 1]}".lstrip(".")
        i += 3
        values = []
        while t[i] != "}":
            if t[i] in ("option", "reserved"):
                i = self.skip_statement(t, i)
            else:
                values.append(t[i])
                i = self.skip_statement(t, i)
        self.enums[name] = values
        return i + 1

    def message(self, t, i, scope):
        name = f"{scope}.{t[i + 1]}".lstrip(".")
        fields = {}
        self.messages[name] = {"scope": name, "fields": fields}
        i += 3
        i = self.body(t, i, name, fields, None)
        return i

    def body(self, t, i, name, fields, oneof):
        while t[i] != "}":
            w = t[i]
            if w == "message":
                i = self.message(t, i, name)
            elif w == "enum":
                i = self.enum(t, i, name)
            elif w in ("option", "reserved", "extensions"):
                i = self.skip_statement(t, i)
            elif w == "oneof":
                i = self.body(t, i + 3, name, fields, t[i + 1])
            elif w == ";":
                i += 1
            else:
                label = None
                if w in ("repeated", "optional", "required"):
                    label, i = w, i + 1
                if t[i] == "map":  # map < K , V > name = N
                    ftype, fname, j = ("map", t[i + 2], t[i + 4]), t[i + 6], i + 7
                else:
                    ftype, fname, j = t[i], t[i + 1], i + 2
                start = j
                j = self.skip_statement(t, j)
                opts = " ".join(t[start:j])
                fields[fname] = {"type": ftype, "repeated": label == "repeated", "oneof": oneof,
                                 "deprecated": bool(re.search(r"deprecated = true", opts))}
                i = j
        return i + 1

    def resolve(self, ref, scope):
        if ref in SCALARS:
            return ref
        if ref.startswith("."):
            return ref[1:]
        parts = scope.split(".")
        while True:
            cand = ".".join(parts + [ref])
            if cand in self.messages or cand in self.enums:
                return cand
            if not parts:
                return ref  # outside the parsed files
            parts.pop()


def main():
    api, source = sys.argv[1], sys.argv[2]
    p = Parser()
    for d, _, files in os.walk(api):
        for f in files:
            if f.endswith(".proto"):
                p.parse_file(open(os.path.join(d, f), encoding="utf-8").read())
    out_msgs, out_enums, external = {}, {}, set()
    todo = list(ROOTS)
    while todo:
        m = todo.pop()
        if m in out_msgs:
            continue
        if m not in p.messages:
            external.add(m)
            continue
        fields = {}
        for fname, f in p.messages[m]["fields"].items():
            if isinstance(f["type"], tuple):
                k, v = p.resolve(f["type"][1], m), p.resolve(f["type"][2], m)
                entry = {"map": [k, v]}
                targets = [v]
            else:
                ty = p.resolve(f["type"], m)
                entry = {"type": ty}
                targets = [ty]
            if f["repeated"]:
                entry["repeated"] = True
            if f["oneof"]:
                entry["oneof"] = f["oneof"]
            if f["deprecated"]:
                entry["deprecated"] = True
            fields[fname] = entry
            for ty in targets:
                if ty in p.enums:
                    out_enums[ty] = p.enums[ty]
                elif ty not in SCALARS and not ty.startswith("google.protobuf."):
                    todo.append(ty)
        out_msgs[m] = fields
    json.dump({"source": source, "roots": ROOTS, "messages": dict(sorted(out_msgs.items())),
               "enums": dict(sorted(out_enums.items())), "external": sorted(external)},
              open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "schemas", "envoy.json"), "w"),
              indent=0, sort_keys=True, separators=(",", ":"))


if __name__ == "__main__":
    main()
