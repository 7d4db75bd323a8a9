#!/usr/bin/env python3
"""Checks deploy/ without a cluster or a Docker daemon (neither is here): what can be checked
statically, is.

- Every YAML file parses; kustomize (Go module proxy, var/tools) builds the base and the
  production overlay.
- Every ledgerline container, in Kubernetes and in compose, gets a configuration the binary
  accepts: its environment (ConfigMap, Secret keys from secret.example.yaml, env) is run
  through `ledgerline-config --check`, which refuses unknown LEDGERLINE_* variables and bad
  values. Each process gets every setting it uses whose default points at the local stack.
- The containers name binaries that exist, use one image, expose the port their *_LISTEN
  setting says, and probe ports they expose.
- Kafka: RF=3 and min.insync.replicas=2 in the cluster and the topics, whose names are the ones
  the processes are configured with. The image builds with the local stack's packages.
Prints "deploy: N passed, N failed"."""
import os
import re
import subprocess
import sys

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEPLOY = os.path.join(ROOT, "deploy")
BIN = os.environ.get("LL_TEST_BIN", os.path.join(ROOT, "build", "asan", "bin"))
KUSTOMIZE = os.path.join(ROOT, "var", "tools", "kustomize")

# Settings each process uses whose built-in default is the local stack's (so a deployment must
# set them), and the listen setting that names its port.
NEEDS = {
    "ledgerline-command": ({"pg_conninfo", "jwt_secret", "command_listen"}, "command_listen"),
    "ledgerline-query": ({"pg_conninfo", "jwt_secret", "query_listen", "mongo_uri", "kafka_bootstrap_servers"},
                         "query_listen"),
    "ledgerline-relay": ({"pg_conninfo", "kafka_bootstrap_servers", "relay_metrics_listen"}, "relay_metrics_listen"),
    "ledgerline-projector": ({"kafka_bootstrap_servers", "mongo_uri", "projector_metrics_listen"},
                             "projector_metrics_listen"),
    "ledgerline-migrate": ({"pg_migrate_conninfo"}, None),
}
# The image's own environment (deploy/docker/Dockerfile ENV).
IMAGE_ENV = {}

passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"  ok   {name}")
    else:
        failed += 1
        print(f"  FAIL {name}: {detail}")


def env_file(path):
    out = {}
    for line in open(path):
        line = line.strip()
        if line and not line.startswith("#"):
            k, v = line.split("=", 1)
            out[k] = v
    return out


def config_check(env, what):
    """ledgerline-config --check with exactly env; returns (ok, message)."""
    r = subprocess.run([os.path.join(BIN, "ledgerline-config"), "--check"], env=dict(env, PATH="/usr/bin:/bin"),
                       capture_output=True, text=True, cwd="/")
    return r.returncode == 0, (r.stdout + r.stderr).strip()


def check_process(where, binary, env, ports):
    check(f"{where}: binary {binary} exists", os.access(os.path.join(BIN, binary), os.X_OK), binary)
    ok, msg = config_check(env, where)
    check(f"{where}: configuration accepted", ok, msg)
    needs, listen = NEEDS.get(binary, (set(), None))
    missing = sorted(k for k in needs if "LEDGERLINE_" + k.upper() not in env)
    check(f"{where}: sets every setting it uses", not missing, f"missing {missing}")
    if listen:
        port = int(env.get("LEDGERLINE_" + listen.upper(), ":0").rsplit(":", 1)[1])
        check(f"{where}: exposes its {listen} port {port}", port in ports, f"ports {ports}")


def main():
    # --- YAML -----------------------------------------------------------------------------
    docs = {}
    for d, _, files in os.walk(DEPLOY):
        for f in files:
            if f.endswith((".yaml", ".yml")):
                p = os.path.join(d, f)
                try:
                    docs[p] = list(yaml.safe_load_all(open(p)))
                    check(f"parses: {os.path.relpath(p, ROOT)}", True)
                except yaml.YAMLError as e:
                    check(f"parses: {os.path.relpath(p, ROOT)}", False, str(e))
    for line in open(os.path.join(DEPLOY, "docker", "Dockerfile")):
        m = re.match(r"\s*ENV\s+(.*)", line)
        if m or (IMAGE_ENV and line.strip().startswith("LEDGERLINE_")):
            for k, v in re.findall(r"(LEDGERLINE_\w+)=(\S+)", line):
                IMAGE_ENV[k] = v

    # --- Kubernetes -----------------------------------------------------------------------
    secrets = docs[os.path.join(DEPLOY, "k8s", "secret.example.yaml")][0]["stringData"]
    built = {}
    for overlay in ("base", "overlays/production"):
        if not os.access(KUSTOMIZE, os.X_OK):
            check(f"kustomize build {overlay}", False, f"{KUSTOMIZE} missing: run make deps")
            continue
        r = subprocess.run([KUSTOMIZE, "build", os.path.join(DEPLOY, "k8s", overlay)], capture_output=True, text=True)
        check(f"kustomize build {overlay}", r.returncode == 0, r.stderr[-500:])
        if r.returncode == 0:
            built[overlay] = [d for d in yaml.safe_load_all(r.stdout) if d]
    for overlay, objs in built.items():
        cms = {o["metadata"]["name"]: o.get("data", {}) for o in objs if o["kind"] == "ConfigMap"}
        images = set()
        for o in objs:
            if o["kind"] not in ("Deployment", "Job", "StatefulSet"):
                continue
            for c in o["spec"]["template"]["spec"]["containers"]:
                binary = (c.get("command") or [""])[0]
                if not binary.startswith("ledgerline-"):
                    continue
                images.add(c["image"])
                env = dict(IMAGE_ENV)
                for ef in c.get("envFrom", []):
                    env.update(cms[ef["configMapRef"]["name"]])
                for e in c.get("env", []):
                    if "value" in e:
                        env[e["name"]] = e["value"]
                    else:
                        ref = e["valueFrom"]["secretKeyRef"]
                        check(f"{overlay}/{o['metadata']['name']}: secret key {ref['key']} is documented",
                              ref["key"] in secrets, ref["key"])
                        env[e["name"]] = secrets.get(ref["key"], "")
                ports = {p["containerPort"] for p in c.get("ports", [])}
                names = {p["name"] for p in c.get("ports", [])}
                check_process(f"k8s {overlay}/{o['metadata']['name']}", binary, env, ports)
                for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                    if probe in c:
                        port = c[probe]["httpGet"]["port"]
                        check(f"k8s {overlay}/{o['metadata']['name']}: {probe} on an exposed port",
                              port in names or port in ports, port)
        check(f"k8s {overlay}: one image for every ledgerline container", len(images) == 1, images)
        kafka = next(o for o in objs if o["kind"] == "Kafka")["spec"]["kafka"]["config"]
        check(f"k8s {overlay}: Kafka RF=3, min.insync.replicas=2",
              kafka["default.replication.factor"] == 3 and kafka["min.insync.replicas"] == 2, kafka)
        topics = {o["spec"]["topicName"]: o["spec"] for o in objs if o["kind"] == "KafkaTopic"}
        cm = next(iter(cms.values()))
        for key in ("LEDGERLINE_KAFKA_TOPIC_EVENTS", "LEDGERLINE_KAFKA_TOPIC_DLQ"):
            t = topics.get(cm[key])
            check(f"k8s {overlay}: topic {cm[key]} exists with RF=3, min.insync.replicas=2",
                  t is not None and t["replicas"] == 3 and t["config"]["min.insync.replicas"] == 2, t)
        pool = next(o for o in objs if o["kind"] == "KafkaNodePool")["spec"]
        check(f"k8s {overlay}: KRaft node pool of 3 controllers+brokers",
              pool["replicas"] == 3 and set(pool["roles"]) == {"controller", "broker"}, pool)
        pdbs = {o["metadata"]["name"] for o in objs if o["kind"] == "PodDisruptionBudget"}
        deps = {o["metadata"]["name"] for o in objs if o["kind"] in ("Deployment", "StatefulSet")}
        check(f"k8s {overlay}: a PodDisruptionBudget per workload", deps <= pdbs, deps - pdbs)

    # --- compose --------------------------------------------------------------------------
    cdir = os.path.join(DEPLOY, "compose")
    compose = docs[os.path.join(cdir, "compose.yaml")][0]
    dotenv = env_file(os.path.join(cdir, "secrets.env.example"))
    shared = env_file(os.path.join(cdir, "ledgerline.env"))

    def subst(v):
        return re.sub(r"\$\{(\w+)(:[?-][^}]*)?\}", lambda m: dotenv.get(m.group(1), (m.group(2) or "")[2:]), str(v))

    images = set()
    for name, svc in compose["services"].items():
        cmd = svc.get("entrypoint") or svc.get("command") or []
        binary = cmd[0] if cmd else ""
        if not str(binary).startswith("ledgerline-"):
            continue
        images.add(svc["image"])
        env = dict(IMAGE_ENV)
        env.update(shared)
        env.update({k: subst(v) for k, v in (svc.get("environment") or {}).items()})
        ports = set(IMAGE_ENV and [int(v.rsplit(":", 1)[1]) for v in IMAGE_ENV.values()])
        check_process(f"compose {name}", binary, env, ports)
        hc = " ".join(svc.get("healthcheck", {}).get("test", []))
        if hc:
            port = re.search(r":(\d+)/", hc)
            listen = NEEDS.get(binary, (None, None))[1]
            want = env.get("LEDGERLINE_" + listen.upper(), "") if listen else ""
            check(f"compose {name}: health check on its listen port",
                  port is not None and want.endswith(":" + port.group(1)), hc)
    check("compose: one image for every ledgerline service", len(images) == 1, images)
    for where, path in (("compose", os.path.join(ROOT, "deploy", "compose", "compose.yaml")),
                        ("k8s", os.path.join(ROOT, "deploy", "k8s", "base", "mongodb.yaml"))):
        with open(path) as f:
            text = f.read()
        check(f"{where}: declares the read model's index on events by page (docs/read-side.md)",
              "createIndex({page: 1}" in text and "events_g[0-9]+" in text)
    for t in (shared["LEDGERLINE_KAFKA_TOPIC_EVENTS"], shared["LEDGERLINE_KAFKA_TOPIC_DLQ"]):
        check(f"compose: topic {t} is created with RF=3", t in compose["services"]["kafka-topics"]["command"][0]
              and "--replication-factor 3" in compose["services"]["kafka-topics"]["command"][0], t)

    # --- image ----------------------------------------------------------------------------
    dockerfile = open(os.path.join(DEPLOY, "docker", "Dockerfile")).read()
    install = open(os.path.join(DEPLOY, "local", "install.sh")).read()
    dev = set(re.findall(r"\blib[\w.+-]+-dev\b", install)) - {"libclang-rt-14-dev"}
    missing = sorted(p for p in dev if p not in dockerfile)
    check("image: builds with the local stack's -dev packages", not missing, missing)
    makefile = open(os.path.join(DEPLOY, "..", "Makefile")).read()
    layers = re.search(r"^LAYERS := (.*)$", makefile, re.M).group(1).split()
    uncopied = [d for d in layers if f"COPY {d} {d}" not in dockerfile]
    check("image: copies every source folder the Makefile builds", layers and not uncopied, uncopied)

    print(f"deploy: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
