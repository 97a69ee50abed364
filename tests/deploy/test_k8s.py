#!/usr/bin/env python3
"""ctest deploy_k8s: every kustomize overlay in deploy/k8s renders (`kubectl kustomize`), every
object is valid against the Kubernetes 1.32 / CRD schemas (validate_k8s.py) and fits with the
others, the overlays hold what issue 13 asks of them, the PrometheusRule carries exactly
deploy/prometheus/alerts.yml, the server configuration they ship is accepted by the real
`paddock serve --print-config` (PADDOCK_BIN), and the validator rejects each deliberately bad
manifest in k8s_bad/ with the error its `# expect:` lines name.

    test_k8s.py                          run the checks
    test_k8s.py --write-prometheusrule   regenerate overlays/cluster/prometheusrule.yaml
"""
import glob
import os
import re
import subprocess
import sys
import tempfile

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
K8S = os.path.join(ROOT, "deploy", "k8s")
sys.path.insert(0, HERE)
import validate_k8s  # noqa: E402

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL", msg)


def ok(msg):
    print("ok  ", msg)


def by_kind(docs, kind, name=None):
    return [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]


def server_container(docs):
    dep = by_kind(docs, "Deployment", "paddock")[0]
    return dep, [c for c in dep["spec"]["template"]["spec"]["containers"] if c["name"] == "paddock"][0]


def alerts_groups():
    return yaml.safe_load(open(os.path.join(ROOT, "deploy", "prometheus", "alerts.yml")))["groups"]


def write_prometheusrule():
    obj = {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
           "metadata": {"name": "paddock", "labels": {"release": "prometheus"}},
           "spec": {"groups": alerts_groups()}}
    hdr = ("# The alert rules of deploy/prometheus/alerts.yml (their promtool unit tests are in\n"
           "# alerts_test.yml) for the Prometheus operator. ctest deploy_k8s fails if the two differ;\n"
           "# regenerate with: python3 tests/deploy/test_k8s.py --write-prometheusrule\n")
    with open(os.path.join(K8S, "overlays", "cluster", "prometheusrule.yaml"), "w") as f:
        f.write(hdr + yaml.safe_dump(obj, sort_keys=False, width=110))


def check_server_pod(name, docs):
    dep, c = server_container(docs)
    pod = dep["spec"]["template"]["spec"]
    lim = c["resources"]["limits"]
    if str(lim.get("nvidia.com/gpu")) != "1":
        fail(f"{name}: the server has no nvidia.com/gpu limit of 1")
    if not c["resources"]["requests"].get("memory") or not lim.get("memory"):
        fail(f"{name}: memory requests and limits must both be set")
    probes = {p: c.get(p, {}).get("httpGet", {}).get("path") for p in ("livenessProbe", "readinessProbe", "startupProbe")}
    if probes != {"livenessProbe": "/livez", "readinessProbe": "/readyz", "startupProbe": "/readyz"}:
        fail(f"{name}: probes are {probes}")
    sp = c["startupProbe"]
    if sp["periodSeconds"] * sp["failureThreshold"] < 600:
        fail(f"{name}: the startup probe allows less than the 10 minutes a model may take to load")
    sc, psc = c["securityContext"], pod["securityContext"]
    want = sc.get("readOnlyRootFilesystem") is True and sc.get("allowPrivilegeEscalation") is False and \
        sc.get("capabilities", {}).get("drop") == ["ALL"] and psc.get("runAsNonRoot") is True and \
        psc.get("seccompProfile", {}).get("type") == "RuntimeDefault"
    if not want:
        fail(f"{name}: securityContext is not non-root / read-only / drop ALL / seccomp RuntimeDefault")
    if "preStop" not in c.get("lifecycle", {}):
        fail(f"{name}: no preStop hook")
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    if ports != {"api": 11434, "metrics": 8080}:
        fail(f"{name}: container ports are {ports}")
    svc = by_kind(docs, "Service", "paddock")[0]
    sports = {p["name"]: p["port"] for p in svc["spec"]["ports"]}
    if sports != {"api": 11434, "metrics": 8080}:
        fail(f"{name}: Service ports are {sports}")
    vols = {v["name"]: v for v in pod["volumes"]}
    if vols.get("keys", {}).get("secret", {}).get("secretName") != "paddock-keys" or "--keys-file" not in c["args"]:
        fail(f"{name}: the keys file is not a Secret mount passed with --keys-file")
    if by_kind(docs, "PersistentVolumeClaim", "paddock-models") == []:
        fail(f"{name}: no model store claim")
    return dep, c


def paddock_config_check(name, docs, paddock, help_text):
    """The shipped configuration is accepted by the real server: the ConfigMap's paddock.yaml and
    the container's flags, through `paddock serve ... --print-config`."""
    dep, c = server_container(docs)
    cms = [d for d in by_kind(docs, "ConfigMap") if "paddock.yaml" in (d.get("data") or {})]
    if len(cms) != 1:
        fail(f"{name}: expected one ConfigMap with paddock.yaml, found {len(cms)}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        cfg = os.path.join(tmp, "paddock.yaml")
        open(cfg, "w").write(cms[0]["data"]["paddock.yaml"])
        args, unchecked, it = [], [], iter(c["args"])
        for a in it:
            if a == "--config":
                next(it)
                continue
            flag = a.split("=", 1)[0]
            takes_value = "=" not in a
            value = next(it) if takes_value else None
            # Every flag the manifests pass must be one this binary has.
            if not re.search(r"(^|\s)" + re.escape(flag) + r"\b", help_text):
                fail(f"{name}: the manifests pass {flag}, which paddock serve does not have")
                unchecked.append(flag)
                continue
            # A Secret-mounted file (the keys file) stands in as a real one made here with the
            # real `paddock keys create`, so --print-config reads and checks it.
            if flag == "--keys-file" and value is not None:
                keys = os.path.join(tmp, "keys.yaml")
                if not os.path.exists(keys):
                    k = subprocess.run([paddock, "keys", "create", "--file", keys, "--role", "user"],
                                       capture_output=True, text=True, timeout=30)
                    if k.returncode != 0:
                        fail(f"{name}: paddock keys create: {k.stderr.strip()}")
                value = keys
            args += [a] + ([value] if takes_value else [])
        env = dict(os.environ, HOME=tmp)
        p = subprocess.run([paddock, "serve", "--config", cfg, *args, "--print-config"], capture_output=True,
                           text=True, timeout=30, env=env)
        if p.returncode != 0:
            fail(f"{name}: paddock serve --config <ConfigMap> {' '.join(args)} --print-config: {p.stderr.strip()}")
            return
        for key in yaml.safe_load(cms[0]["data"]["paddock.yaml"]):
            if key != "metrics" and not re.search(rf"^{re.escape(key)}: .*# file ", p.stdout, re.M):
                fail(f"{name}: --print-config does not show {key} as coming from the config file")
        ok(f"{name}: paddock serve accepts the ConfigMap and the flags {args}"
           + (f" (not in this binary yet, unchecked: {unchecked})" if unchecked else ""))


def main():
    if "--write-prometheusrule" in sys.argv:
        write_prometheusrule()
        return 0
    validator = validate_k8s.Validator(validate_k8s.Schemas())
    paddock = os.environ.get("PADDOCK_BIN")
    help_text = ""
    if paddock:
        help_text = subprocess.run([paddock, "serve", "--help"], capture_output=True, text=True, timeout=30).stdout

    overlays = ["base"] + sorted("overlays/" + os.path.basename(d) for d in glob.glob(os.path.join(K8S, "overlays", "*")))
    if len(overlays) < 5:
        fail(f"expected base and 4 overlays, found {overlays}")
    rendered = {}
    for o in overlays:
        try:
            docs = validate_k8s.load(os.path.join(K8S, o))
        except RuntimeError as e:
            fail(str(e))
            continue
        errors = validate_k8s.validate_docs(docs, validator)
        for e in errors:
            fail(f"{o}: {e}")
        if not errors:
            ok(f"{o}: {len(docs)} objects valid and consistent")
        rendered[o] = docs
    for f in sorted(glob.glob(os.path.join(K8S, "storage", "*.yaml"))):
        errors = validate_k8s.validate_docs(validate_k8s.load(f), validator, with_consistency=False)
        for e in errors:
            fail(f"storage/{os.path.basename(f)}: {e}")
        if not errors:
            ok(f"storage/{os.path.basename(f)} valid")

    for o, docs in rendered.items():
        check_server_pod(o, docs)
        if paddock:
            paddock_config_check(o, docs, paddock, help_text)

    # The manifests and the image agree: user, store path, ports, the health check's port.
    docker = open(os.path.join(ROOT, "deploy", "docker", "Dockerfile.cuda")).read()
    base = rendered.get("base", [])
    if base:
        dep, c = server_container(base)
        uid = re.search(r"^USER (\d+)", docker, re.M).group(1)
        models = re.search(r"PADDOCK_MODELS=(\S+)", docker).group(1)
        hc_port = re.search(r"HEALTHCHECK[^\n]*\n[^\n]*127\.0\.0\.1:(\d+)/livez", docker).group(1)
        mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
        if str(dep["spec"]["template"]["spec"]["securityContext"]["runAsUser"]) != uid:
            fail(f"base: runAsUser differs from the image's USER {uid}")
        if mounts.get("models") != models:
            fail(f"base: the store is mounted at {mounts.get('models')}, the image expects {models}")
        if {p["containerPort"] for p in c["ports"]} != {int(x) for x in re.findall(r"^EXPOSE (.*)$", docker, re.M)[0].split()}:
            fail("base: container ports differ from the image's EXPOSE")
        if int(hc_port) != {p["name"]: p["containerPort"] for p in c["ports"]}["metrics"]:
            fail("base: the image's HEALTHCHECK port is not the metrics port")
        cfg = yaml.safe_load([d for d in by_kind(base, "ConfigMap")][0]["data"]["paddock.yaml"])
        if cfg.get("models") != models or cfg.get("metrics", {}).get("addr", "").rsplit(":", 1)[-1] != hc_port:
            fail("base: paddock.yaml's models / metrics addr disagree with the image")
        else:
            ok("base: the manifests and the image agree on user, store, ports and health check")
        for w in ("/tmp", "/var/lib/paddock"):
            if w not in mounts.values():
                fail(f"base: {w} is not a volume, but the root filesystem is read-only")

    # What each overlay must hold.
    single = rendered.get("overlays/single-gpu", [])
    if single:
        dep, _ = server_container(single)
        pvc = by_kind(single, "PersistentVolumeClaim", "paddock-models")[0]
        if dep["spec"].get("replicas") != 1 or dep["spec"]["strategy"]["type"] != "Recreate" or \
                pvc["spec"]["accessModes"] != ["ReadWriteOnce"]:
            fail("single-gpu: expected 1 replica, Recreate and a ReadWriteOnce volume")
    cluster = rendered.get("overlays/cluster", [])
    if cluster:
        dep, c = server_container(cluster)
        kinds = {d["kind"] for d in cluster}
        need = {"PodDisruptionBudget", "HorizontalPodAutoscaler", "PriorityClass", "ResourceQuota", "NetworkPolicy",
                "Role", "RoleBinding", "ServiceMonitor", "PrometheusRule", "Job", "HTTPRoute"}
        if not need <= kinds:
            fail(f"cluster: missing {sorted(need - kinds)}")
        if dep["spec"]["replicas"] != 3:
            fail("cluster: expected 3 replicas")
        pvc = by_kind(cluster, "PersistentVolumeClaim", "paddock-models")[0]
        if pvc["spec"]["accessModes"] != ["ReadWriteMany"]:
            fail("cluster: the model store must be ReadWriteMany")
        hpa = by_kind(cluster, "HorizontalPodAutoscaler")[0]
        if hpa["spec"]["metrics"][0]["pods"]["metric"]["name"] != "ollama_request_queue_length":
            fail("cluster: the HPA does not scale on ollama_request_queue_length")
        if not by_kind(cluster, "Deployment", "paddock-redis"):
            fail("cluster: no Redis for shared rate limits")
        quota = by_kind(cluster, "ResourceQuota")[0]["spec"]["hard"]
        if "requests.nvidia.com/gpu" not in quota or "limits.memory" not in quota:
            fail("cluster: the ResourceQuota does not cap GPUs and memory")
        route = by_kind(cluster, "HTTPRoute")[0]
        gen = [r for r in route["spec"]["rules"] if any(m["path"]["value"] == "/api/generate" for m in r["matches"])][0]
        t = gen["timeouts"]["request"]
        secs = sum(int(n) * {"h": 3600, "m": 60, "s": 1, "ms": 0.001}[u] for n, u in re.findall(r"(\d+)(ms|h|m|s)", t))
        if secs < 600:
            fail(f"cluster: the generation route's timeout {t} would cut long generations (the guide's 30 s does)")
        rule = by_kind(cluster, "PrometheusRule")[0]
        if rule["spec"]["groups"] != alerts_groups():
            fail("cluster: prometheusrule.yaml differs from deploy/prometheus/alerts.yml "
                 "(python3 tests/deploy/test_k8s.py --write-prometheusrule)")
        else:
            ok("cluster: the PrometheusRule carries deploy/prometheus/alerts.yml")
        pols = {p["metadata"]["name"]: p for p in by_kind(cluster, "NetworkPolicy")}
        srv = pols.get("paddock-server")
        if not srv or srv["spec"]["policyTypes"] != ["Ingress", "Egress"]:
            fail("cluster: the server NetworkPolicy must restrict ingress and egress")
    keda = rendered.get("overlays/cluster-keda", [])
    if keda:
        if by_kind(keda, "HorizontalPodAutoscaler") or not by_kind(keda, "ScaledObject"):
            fail("cluster-keda: expected a ScaledObject and no HPA of its own")
        elif "ollama_request_queue_length" not in by_kind(keda, "ScaledObject")[0]["spec"]["triggers"][0]["metadata"]["query"]:
            fail("cluster-keda: the ScaledObject does not query ollama_request_queue_length")
    gw = rendered.get("overlays/inference-gateway", [])
    if gw:
        if not by_kind(gw, "InferencePool", "paddock"):
            fail("inference-gateway: no InferencePool")
        epp = [c for c in by_kind(gw, "Deployment", "paddock-epp")[0]["spec"]["template"]["spec"]["containers"]][0]
        args = dict(zip(epp["args"][::1], epp["args"][1::1]))
        ops = open(os.path.join(ROOT, "src", "server", "ops.cpp")).read()
        for flag in ("--total-queued-requests-metric", "--total-running-requests-metric",
                     "--kv-cache-usage-percentage-metric"):
            name = args.get(flag)
            if not name or f'"{name}"' not in ops:
                fail(f"inference-gateway: EPP {flag} {name!r} is not a metric src/server/ops.cpp exports")
        if args.get("--model-server-metrics-port") != "8080":
            fail("inference-gateway: the EPP must scrape the metrics listener (8080)")
        route = by_kind(gw, "HTTPRoute")[0]
        if route["spec"]["rules"][0]["backendRefs"][0].get("kind") != "InferencePool":
            fail("inference-gateway: the generation routes do not go to the InferencePool")

    # The validator rejects what it is for.
    fixtures = sorted(glob.glob(os.path.join(HERE, "k8s_bad", "*.yaml")))
    if len(fixtures) < 10:
        fail(f"expected the bad manifests in tests/deploy/k8s_bad, found {len(fixtures)}")
    for f in fixtures:
        expect = re.findall(r"^# expect: (.*)$", open(f).read(), re.M)
        errors = validate_k8s.validate_docs(validate_k8s.load(f), validator)
        missing = [e for e in expect if not any(e in x for x in errors)]
        if not expect or missing:
            fail(f"k8s_bad/{os.path.basename(f)}: expected errors {missing} not reported; got {errors}")
        else:
            ok(f"k8s_bad/{os.path.basename(f)} rejected ({len(errors)} errors)")

    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
