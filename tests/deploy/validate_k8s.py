#!/usr/bin/env python3
"""Validates Kubernetes objects against the API schemas in tests/deploy/schemas/ (no cluster, no
network), then checks that the objects of one rendering fit together.

    validate_k8s.py FILE.yaml|DIR ...       (a DIR is rendered with `kubectl kustomize DIR`)

Schema validation (each object, by apiVersion and kind):
  - the kind must be known: a built-in kind of Kubernetes 1.32 or one of the CRDs in crds.json
  - every field must exist in the schema (an unknown field is an error, as `kubectl apply
    --validate=strict` and the API server's strict field validation make it), types must match
    (string/integer/number/boolean/object/array, int-or-string, resource quantities), required
    fields must be present, enums, patterns, lengths and bounds hold (where the schema states them),
    list-map keys and set items are unique
  - metadata is checked against ObjectMeta for CRD objects too
Not checked: CEL rules (x-kubernetes-validations), and validation the API server does in Go code
beyond the schema (e.g. DNS-label syntax of names, immutable fields, cross-field rules such as
"limits >= requests").

Consistency checks (objects of one rendering): volume mounts name a volume; ConfigMaps and PVCs a
pod uses exist in the rendering (Secrets may come from outside); Services select some pod
template and their named targetPorts exist on it; named probe ports exist; HPA, PDB, KEDA and
ServiceMonitor targets exist; priority classes exist; terminationGracePeriodSeconds covers the
preStop sleep plus paddock's --drain-timeout.
"""
import json
import os
import re
import subprocess
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
K8S_VERSION = "1.32"
QUANTITY = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([KMGTPE]i|[numkMGTPE]|[eE][+-]?\d+)?$")
QUANTITY_DEF = "io.k8s.apimachinery.pkg.api.resource.Quantity"
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


class Schemas:
    def __init__(self, directory=os.path.join(HERE, "schemas")):
        k = json.load(open(os.path.join(directory, f"kubernetes-{K8S_VERSION}.json")))
        self.defs = k["definitions"]
        self.builtin = k["kinds"]  # "group/version/Kind" -> definition name
        self.crds = json.load(open(os.path.join(directory, "crds.json")))["kinds"]

    def lookup(self, api_version, kind):
        group, _, version = api_version.rpartition("/")
        key = f"{group}/{version}/{kind}"
        if key in self.builtin:
            return {"$ref": "#/definitions/" + self.builtin[key]}, False
        if key in self.crds:
            return self.crds[key], True
        return None, False


def type_ok(value, t):
    if t == "string":
        return isinstance(value, str)
    if t == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if t == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if t == "boolean":
        return isinstance(value, bool)
    if t == "object":
        return isinstance(value, dict)
    if t == "array":
        return isinstance(value, list)
    return True


class Validator:
    def __init__(self, schemas):
        self.s = schemas

    def validate_object(self, obj):
        """Returns a list of 'path: problem' strings for one top-level object."""
        errors = []
        if not isinstance(obj, dict) or "apiVersion" not in obj or "kind" not in obj:
            return ["<object>: not a Kubernetes object (apiVersion and kind required)"]
        schema, is_crd = self.s.lookup(obj["apiVersion"], obj["kind"])
        if schema is None:
            return [f"{obj['apiVersion']}/{obj['kind']}: unknown kind (not in Kubernetes {K8S_VERSION} nor the CRDs in crds.json)"]
        if is_crd:
            body = {k: v for k, v in obj.items() if k != "metadata"}
            self.check(body, schema, "", errors, True)
            if "metadata" in obj:
                self.check(obj["metadata"], {"$ref": "#/definitions/" + OBJECT_META}, ".metadata", errors, False)
        else:
            self.check(obj, schema, "", errors, False)
        return errors

    def check(self, v, sch, path, errors, crd):
        if "$ref" in sch:
            name = sch["$ref"].rsplit("/", 1)[1]
            if name == QUANTITY_DEF:
                if not (isinstance(v, (int, float)) and not isinstance(v, bool)) and not (
                        isinstance(v, str) and QUANTITY.match(v)):
                    errors.append(f"{path or '.'}: {v!r} is not a resource quantity")
                return
            sch = self.s.defs[name]
        if v is None:
            return  # null is "unset" to the API server for optional fields
        if sch.get("x-kubernetes-int-or-string") or sch.get("format") == "int-or-string":
            if not (isinstance(v, (int, str)) and not isinstance(v, bool)):
                errors.append(f"{path}: {v!r} must be an integer or a string")
            return
        for sub in sch.get("allOf", []):
            self.check(v, sub, path, errors, crd)
        for key in ("anyOf", "oneOf"):
            if key in sch:
                results = []
                for sub in sch[key]:
                    e = []
                    self.check(v, sub, path, e, crd)
                    results.append(e)
                passing = sum(1 for e in results if not e)
                if passing == 0:
                    errors.append(f"{path}: matches none of the {key} alternatives: {min(results, key=len)[0]}")
                elif key == "oneOf" and passing > 1:
                    errors.append(f"{path}: matches more than one oneOf alternative")
        t = sch.get("type")
        if t and not type_ok(v, t):
            errors.append(f"{path or '.'}: expected {t}, got {type(v).__name__} {v!r:.60}")
            return
        if "enum" in sch and v not in sch["enum"]:
            errors.append(f"{path}: {v!r} is not one of {sch['enum']}")
        if isinstance(v, str):
            if "pattern" in sch and not re.search(sch["pattern"], v):
                errors.append(f"{path}: {v!r} does not match {sch['pattern']}")
            if "maxLength" in sch and len(v) > sch["maxLength"]:
                errors.append(f"{path}: longer than {sch['maxLength']}")
            if "minLength" in sch and len(v) < sch["minLength"]:
                errors.append(f"{path}: shorter than {sch['minLength']}")
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            if "maximum" in sch and v > sch["maximum"]:
                errors.append(f"{path}: {v} is above {sch['maximum']}")
            if "minimum" in sch and v < sch["minimum"]:
                errors.append(f"{path}: {v} is below {sch['minimum']}")
        if isinstance(v, dict):
            props = sch.get("properties")
            addl = sch.get("additionalProperties")
            preserve = sch.get("x-kubernetes-preserve-unknown-fields") or sch.get("x-kubernetes-embedded-resource")
            for req in sch.get("required", []):
                if req not in v:
                    errors.append(f"{path}: required field {req!r} is missing")
            if props is None and addl is None and not crd:
                return  # an untyped object in the built-in spec (RawExtension, FieldsV1)
            for k, val in v.items():
                p = f"{path}.{k}"
                if props and k in props:
                    self.check(val, props[k], p, errors, crd)
                elif isinstance(addl, dict):
                    self.check(val, addl, p, errors, crd)
                elif addl is True or preserve:
                    continue
                else:
                    errors.append(f"{p}: unknown field")
            if "maxProperties" in sch and len(v) > sch["maxProperties"]:
                errors.append(f"{path}: more than {sch['maxProperties']} entries")
            if "minProperties" in sch and len(v) < sch["minProperties"]:
                errors.append(f"{path}: fewer than {sch['minProperties']} entries")
        if isinstance(v, list):
            items = sch.get("items")
            if items:
                for i, item in enumerate(v):
                    self.check(item, items, f"{path}[{i}]", errors, crd)
            if "maxItems" in sch and len(v) > sch["maxItems"]:
                errors.append(f"{path}: more than {sch['maxItems']} items")
            if "minItems" in sch and len(v) < sch["minItems"]:
                errors.append(f"{path}: fewer than {sch['minItems']} items")
            lt = sch.get("x-kubernetes-list-type")
            if lt == "map" and sch.get("x-kubernetes-list-map-keys"):
                keys = sch["x-kubernetes-list-map-keys"]
                seen = set()
                for item in v:
                    if isinstance(item, dict):
                        k = tuple(json.dumps(item.get(x), sort_keys=True) for x in keys)
                        if k in seen:
                            errors.append(f"{path}: duplicate entry for key {dict(zip(keys, k))}")
                        seen.add(k)
            elif lt == "set":
                dumped = [json.dumps(x, sort_keys=True) for x in v]
                if len(set(dumped)) != len(dumped):
                    errors.append(f"{path}: duplicate items in a set")


# ---------------------------------------------------------------- consistency of one rendering

def duration_seconds(text):
    m = re.fullmatch(r"\s*(\d+)\s*(ms|s|m|h)?\s*", str(text))
    if not m:
        return None
    n = int(m.group(1))
    return {None: n, "s": n, "ms": n / 1000, "m": n * 60, "h": n * 3600}[m.group(2)]


def pod_templates(objs):
    for o in objs:
        spec = o.get("spec") or {}
        if o["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            yield o, spec.get("template", {})


def matches(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def consistency(objs):
    errors = []
    names = {}
    for o in objs:
        names.setdefault(o["kind"], set()).add(o.get("metadata", {}).get("name"))
    config = {}  # paddock config keys from ConfigMaps holding a paddock.yaml
    for o in objs:
        if o["kind"] == "ConfigMap":
            for k, text in (o.get("data") or {}).items():
                if k.endswith("paddock.yaml"):
                    config.update(yaml.safe_load(text) or {})
    templates = list(pod_templates(objs))
    for owner, tpl in templates:
        where = f"{owner['kind']}/{owner['metadata']['name']}"
        spec = tpl.get("spec", {})
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        pc = spec.get("priorityClassName")
        if pc and pc not in names.get("PriorityClass", set()) and pc not in ("system-cluster-critical", "system-node-critical"):
            errors.append(f"{where}: priorityClassName {pc!r} is not defined in this rendering")
        for v in volumes.values():
            if "configMap" in v and not v["configMap"].get("optional") and v["configMap"]["name"] not in names.get("ConfigMap", set()):
                errors.append(f"{where}: volume {v['name']} uses ConfigMap {v['configMap']['name']!r}, not in this rendering")
            if "persistentVolumeClaim" in v and v["persistentVolumeClaim"]["claimName"] not in names.get("PersistentVolumeClaim", set()):
                errors.append(f"{where}: volume {v['name']} uses PVC {v['persistentVolumeClaim']['claimName']!r}, not in this rendering")
        grace = spec.get("terminationGracePeriodSeconds", 30)
        for c in spec.get("containers", []) + spec.get("initContainers", []):
            cwhere = f"{where} container {c['name']}"
            for m in c.get("volumeMounts", []):
                if m["name"] not in volumes:
                    errors.append(f"{cwhere}: volumeMount {m['name']!r} names no volume")
            for ef in c.get("envFrom", []):
                ref = ef.get("configMapRef")
                if ref and not ref.get("optional") and ref["name"] not in names.get("ConfigMap", set()):
                    errors.append(f"{cwhere}: envFrom ConfigMap {ref['name']!r} is not in this rendering")
            ports = {p.get("name") for p in c.get("ports", []) if p.get("name")}
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                pr = c.get(probe) or {}
                port = (pr.get("httpGet") or pr.get("tcpSocket") or {}).get("port")
                if isinstance(port, str) and port not in ports:
                    errors.append(f"{cwhere}: {probe} uses port {port!r}, which the container does not name")
            args = c.get("args", []) + c.get("command", [])
            # A paddock server: the paddock image with its own entrypoint (`paddock serve`).
            if "paddock" in str(c.get("image", "")) and "command" not in c:
                drain = None
                for i, a in enumerate(args):
                    if a == "--drain-timeout" and i + 1 < len(args):
                        drain = duration_seconds(args[i + 1])
                    elif str(a).startswith("--drain-timeout="):
                        drain = duration_seconds(a.split("=", 1)[1])
                if drain is None:
                    drain = duration_seconds(config.get("drain-timeout", "30s"))
                pre = (((c.get("lifecycle") or {}).get("preStop") or {}).get("sleep") or {}).get("seconds", 0)
                if drain is not None and grace < pre + drain:
                    errors.append(f"{cwhere}: terminationGracePeriodSeconds {grace} < preStop {pre} s + drain-timeout {drain} s: "
                                  "the kubelet would SIGKILL requests still draining")
    for o in objs:
        kind, name = o["kind"], o.get("metadata", {}).get("name")
        spec = o.get("spec") or {}
        if kind == "Service" and spec.get("selector"):
            hit = [(ow, t) for ow, t in templates if matches(spec["selector"], t.get("metadata", {}).get("labels", {}))
                   and ow["kind"] != "Job"]
            if not hit:
                errors.append(f"Service/{name}: its selector {spec['selector']} matches no pod template")
            for p in spec.get("ports", []):
                tp = p.get("targetPort")
                if isinstance(tp, str) and hit and not any(
                        tp in {q.get("name") for c in t["spec"]["containers"] for q in c.get("ports", [])} for _, t in hit):
                    errors.append(f"Service/{name}: targetPort {tp!r} is not a named container port")
        if kind in ("HorizontalPodAutoscaler", "ScaledObject"):
            ref = spec.get("scaleTargetRef", {})
            if ref.get("name") not in names.get(ref.get("kind", "Deployment"), set()):
                errors.append(f"{kind}/{name}: scaleTargetRef {ref} is not in this rendering")
        if kind == "PodDisruptionBudget":
            sel = (spec.get("selector") or {}).get("matchLabels", {})
            if not any(matches(sel, t.get("metadata", {}).get("labels", {})) for _, t in templates):
                errors.append(f"PodDisruptionBudget/{name}: selector matches no pod template")
        if kind == "NetworkPolicy":
            sel = (spec.get("podSelector") or {}).get("matchLabels", {})
            if sel and not any(matches(sel, t.get("metadata", {}).get("labels", {})) for _, t in templates):
                errors.append(f"NetworkPolicy/{name}: podSelector matches no pod template")
        if kind == "ServiceMonitor":
            sel = (spec.get("selector") or {}).get("matchLabels", {})
            svcs = [s for s in objs if s["kind"] == "Service" and matches(sel, s["metadata"].get("labels", {}))]
            if not svcs:
                errors.append(f"ServiceMonitor/{name}: selector matches no Service")
            for ep in spec.get("endpoints", []):
                if "port" in ep and not any(ep["port"] in {p.get("name") for p in s["spec"].get("ports", [])} for s in svcs):
                    errors.append(f"ServiceMonitor/{name}: endpoint port {ep['port']!r} is not a Service port name")
    return errors


def load(path):
    if os.path.isdir(path):
        p = subprocess.run(["kubectl", "kustomize", path], capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise RuntimeError(f"kubectl kustomize {path} failed: {p.stderr.strip()}")
        text = p.stdout
    else:
        text = open(path).read()
    return [d for d in yaml.safe_load_all(text) if d is not None]


def validate_docs(docs, validator, with_consistency=True):
    errors = []
    for o in docs:
        label = f"{o.get('kind', '?')}/{(o.get('metadata') or {}).get('name', '?')}"
        errors += [f"{label} {e}" for e in validator.validate_object(o)]
    if with_consistency and not errors:
        errors += consistency(docs)
    return errors


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    validator = Validator(Schemas())
    bad = 0
    for path in argv[1:]:
        try:
            docs = load(path)
        except (RuntimeError, OSError, yaml.YAMLError) as e:
            print(f"{path}: {e}")
            bad += 1
            continue
        errors = validate_docs(docs, validator)
        for e in errors:
            print(f"{path}: {e}")
        bad += bool(errors)
        if not errors:
            print(f"ok: {path}: {len(docs)} objects valid against Kubernetes {K8S_VERSION} and the CRD schemas")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
