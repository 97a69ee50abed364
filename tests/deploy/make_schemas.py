#!/usr/bin/env python3
"""Regenerates tests/deploy/schemas/*.json, the API schemas validate_k8s.py checks manifests
against, from the upstream generated specs (run by hand when moving to a new version; the
test itself never touches the network).

    make_schemas.py --k8s SWAGGER_JSON --k8s-source TEXT \
        --crd FILE.yaml --crd-source TEXT [--crd FILE.yaml --crd-source TEXT ...]

SWAGGER_JSON is Kubernetes' api/openapi-spec/swagger.json of the release (here: the copy
kubernetes-client/python v32.0.1 keeps as kubernetes/swagger.json.unprocessed, release-1.32).
CRD files are the projects' published CustomResourceDefinitions. Only the kinds in KINDS and the
definitions they reach are kept, with descriptions dropped: the files hold the API's structure
(fields, types, required, enums, list keys), nothing else.
"""
import argparse
import hashlib
import json
import os
import sys

import yaml

# The built-in kinds the manifests use (group "" = core).
KINDS = [
    ("", "v1", "ConfigMap"), ("", "v1", "Secret"), ("", "v1", "Service"), ("", "v1", "ServiceAccount"),
    ("", "v1", "PersistentVolumeClaim"), ("", "v1", "PersistentVolume"), ("", "v1", "ResourceQuota"),
    ("", "v1", "LimitRange"), ("", "v1", "Namespace"),
    ("apps", "v1", "Deployment"), ("apps", "v1", "StatefulSet"), ("apps", "v1", "DaemonSet"),
    ("batch", "v1", "Job"), ("policy", "v1", "PodDisruptionBudget"),
    ("autoscaling", "v2", "HorizontalPodAutoscaler"), ("scheduling.k8s.io", "v1", "PriorityClass"),
    ("networking.k8s.io", "v1", "NetworkPolicy"), ("networking.k8s.io", "v1", "Ingress"),
    ("rbac.authorization.k8s.io", "v1", "Role"), ("rbac.authorization.k8s.io", "v1", "RoleBinding"),
    ("rbac.authorization.k8s.io", "v1", "ClusterRole"), ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding"),
    ("storage.k8s.io", "v1", "StorageClass"),
]
KEEP = {"type", "format", "properties", "items", "additionalProperties", "required", "enum", "$ref",
        "x-kubernetes-int-or-string", "x-kubernetes-preserve-unknown-fields", "x-kubernetes-embedded-resource",
        "x-kubernetes-list-type", "x-kubernetes-list-map-keys", "anyOf", "oneOf", "allOf", "not", "pattern",
        "maxLength", "minLength", "maximum", "minimum", "exclusiveMaximum", "exclusiveMinimum", "maxItems",
        "minItems", "maxProperties", "minProperties", "nullable", "default"}


def strip(node):
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k not in KEEP:
                continue
            if k == "properties":
                out[k] = {name: strip(s) for name, s in v.items()}
            elif k == "default":
                out[k] = v
            else:
                out[k] = strip(v)
        return out
    if isinstance(node, list):
        return [strip(x) for x in node]
    return node


def sha256(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--k8s", required=True)
    ap.add_argument("--k8s-source", required=True)
    ap.add_argument("--k8s-version", required=True)
    ap.add_argument("--crd", action="append", default=[])
    ap.add_argument("--crd-source", action="append", default=[])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "schemas"))
    a = ap.parse_args()
    if len(a.crd) != len(a.crd_source):
        sys.exit("every --crd needs its --crd-source")

    spec = json.load(open(a.k8s))
    defs = spec["definitions"]
    kinds, todo = {}, []
    for name, d in defs.items():
        for gvk in d.get("x-kubernetes-group-version-kind", []):
            key = (gvk["group"], gvk["version"], gvk["kind"])
            if key in KINDS and len(d.get("x-kubernetes-group-version-kind")) == 1:
                kinds["/".join(key)] = name
                todo.append(name)
    missing = [k for k in KINDS if "/".join(k) not in kinds]
    if missing:
        sys.exit(f"not in the spec: {missing}")
    keep = {}
    todo.append("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")
    while todo:
        name = todo.pop()
        if name in keep:
            continue
        keep[name] = strip(defs[name])
        stack = [defs[name]]
        while stack:
            n = stack.pop()
            if isinstance(n, dict):
                if "$ref" in n:
                    todo.append(n["$ref"].rsplit("/", 1)[1])
                stack.extend(n.values())
            elif isinstance(n, list):
                stack.extend(n)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, f"kubernetes-{a.k8s_version}.json"), "w") as f:
        json.dump({"source": {"what": f"Kubernetes {a.k8s_version} OpenAPI v2 spec, reduced by make_schemas.py",
                              "from": a.k8s_source, "sha256": sha256(a.k8s)},
                   "kinds": dict(sorted(kinds.items())), "definitions": dict(sorted(keep.items()))},
                  f, indent=1, sort_keys=True)
        f.write("\n")

    crds, sources = {}, []
    for path, src in zip(a.crd, a.crd_source):
        doc = yaml.safe_load(open(path))
        spec = doc["spec"]
        for v in spec["versions"]:
            if not v.get("served", True):
                continue
            key = f"{spec['group']}/{v['name']}/{spec['names']['kind']}"
            crds[key] = strip(v["schema"]["openAPIV3Schema"])
        sources.append({"from": src, "sha256": sha256(path)})
    with open(os.path.join(a.out, "crds.json"), "w") as f:
        json.dump({"source": sources, "kinds": dict(sorted(crds.items()))}, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
