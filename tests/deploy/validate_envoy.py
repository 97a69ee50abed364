#!/usr/bin/env python3
"""Validates an Envoy v3 bootstrap (YAML) against the API's protobuf structure in
tests/deploy/schemas/envoy.json (generated from envoyproxy/data-plane-api by
make_envoy_schema.py), as Envoy's own loader would before anything else:

  - every field exists in its message (proto names or their lowerCamel JSON names)
  - scalar types (string, bool, integers, doubles), enums by name, Durations ("5s"), wrappers
  - repeated fields are lists, maps are objects; at most one field of each oneof is set
  - typed_config / Any: the "@type" names a message in the schema, and its fields are checked
  - deprecated fields are refused (Envoy rejects many of them by default)

Not checked (an Envoy binary would): protoc-gen-validate rules (required fields, ranges, string
patterns such as header names), cross-field semantics (e.g. a route's cluster exists), types from
outside data-plane-api (cncf/xds), and whether the extensions named are compiled into the
Envoy you run.

    validate_envoy.py envoy.yaml
"""
import json
import os
import re
import sys

import yaml

SCHEMA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schemas", "envoy.json")
ROOT = "envoy.config.bootstrap.v3.Bootstrap"
DURATION = re.compile(r"^-?\d+(\.\d{1,9})?s$")
INTS = {"int32", "int64", "uint32", "uint64", "sint32", "sint64", "fixed32", "fixed64", "sfixed32", "sfixed64"}
WRAPPERS = {"google.protobuf.BoolValue": "bool", "google.protobuf.StringValue": "string",
            "google.protobuf.BytesValue": "bytes", "google.protobuf.DoubleValue": "double",
            "google.protobuf.FloatValue": "float", "google.protobuf.Int32Value": "int32",
            "google.protobuf.Int64Value": "int64", "google.protobuf.UInt32Value": "uint32",
            "google.protobuf.UInt64Value": "uint64"}


def camel(name):
    head, *rest = name.split("_")
    return head + "".join(x[:1].upper() + x[1:] for x in rest)


class Validator:
    def __init__(self, path=SCHEMA):
        s = json.load(open(path))
        self.messages, self.enums, self.external = s["messages"], s["enums"], set(s["external"])

    def scalar(self, v, t, path, errors):
        ok = {
            "bool": isinstance(v, bool),
            "string": isinstance(v, str), "bytes": isinstance(v, str),
            "double": isinstance(v, (int, float)) and not isinstance(v, bool),
            "float": isinstance(v, (int, float)) and not isinstance(v, bool),
        }.get(t)
        if t in INTS:
            ok = (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, str) and re.fullmatch(r"-?\d+", v))
            if ok and t.startswith("uint") and int(v) < 0:
                ok = False
        if not ok:
            errors.append(f"{path}: {v!r} is not a {t}")

    def value(self, v, t, path, errors):
        if t in WRAPPERS:
            return self.scalar(v, WRAPPERS[t], path, errors)
        if t == "google.protobuf.Duration":
            if not (isinstance(v, str) and DURATION.match(v)):
                errors.append(f"{path}: {v!r} is not a duration (like \"30s\" or \"0.5s\")")
            return
        if t in ("google.protobuf.Struct",):
            if not isinstance(v, dict):
                errors.append(f"{path}: expected an object")
            return
        if t in ("google.protobuf.Value", "google.protobuf.ListValue", "google.protobuf.Timestamp"):
            return
        if t == "google.protobuf.Empty":
            if v not in ({}, None):
                errors.append(f"{path}: expected {{}}")
            return
        if t == "google.protobuf.Any":
            if not isinstance(v, dict) or not isinstance(v.get("@type"), str):
                errors.append(f"{path}: an Any needs an \"@type\"")
                return
            inner = v["@type"].rsplit("/", 1)[-1]
            if inner not in self.messages:
                errors.append(f"{path}: @type {inner} is not in the schema (not an Envoy API message, or "
                              "add it to make_envoy_schema.py's roots)")
                return
            return self.message({k: x for k, x in v.items() if k != "@type"}, inner, path, errors)
        if t in self.enums:
            if not ((isinstance(v, str) and v in self.enums[t]) or (isinstance(v, int) and not isinstance(v, bool))):
                errors.append(f"{path}: {v!r} is not one of {t}: {self.enums[t]}")
            return
        if t in self.messages:
            return self.message(v, t, path, errors)
        if t in self.external or "." in t:
            return  # a type from outside data-plane-api: not checked
        return self.scalar(v, t, path, errors)

    def message(self, v, t, path, errors):
        if v is None:
            return
        if not isinstance(v, dict):
            errors.append(f"{path}: expected an object ({t}), got {v!r:.40}")
            return
        fields = self.messages[t]
        by_json = {camel(k): k for k in fields}
        oneofs = {}
        for key, val in v.items():
            name = key if key in fields else by_json.get(key)
            p = f"{path}.{key}" if path else key
            if name is None:
                errors.append(f"{p}: unknown field of {t}")
                continue
            f = fields[name]
            if f.get("deprecated"):
                errors.append(f"{p}: deprecated field of {t}")
            if f.get("oneof"):
                if f["oneof"] in oneofs:
                    errors.append(f"{p}: {oneofs[f['oneof']]} and {key} are both set, but they are one of {f['oneof']}")
                oneofs[f["oneof"]] = key
            if "map" in f:
                if not isinstance(val, dict):
                    errors.append(f"{p}: expected an object (a map)")
                    continue
                for k, x in val.items():
                    self.value(x, f["map"][1], f"{p}[{k}]", errors)
            elif f.get("repeated"):
                if not isinstance(val, list):
                    errors.append(f"{p}: expected a list")
                    continue
                for i, x in enumerate(val):
                    self.value(x, f["type"], f"{p}[{i}]", errors)
            else:
                self.value(val, f["type"], p, errors)


def validate(doc, validator=None):
    errors = []
    (validator or Validator()).message(doc, ROOT, "", errors)
    return errors


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    errors = validate(yaml.safe_load(open(argv[1])))
    for e in errors:
        print(f"{argv[1]}: {e}")
    if not errors:
        print(f"ok: {argv[1]} matches the Envoy v3 API structure")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
