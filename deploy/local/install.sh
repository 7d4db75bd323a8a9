#!/usr/bin/env bash
# Installs everything ledgerline needs on a fresh Debian machine, as root, from the package
# registries only: Debian packages, Kafka jars from Maven Central, FerretDB built from the Go
# module proxy. Every step is skipped when already done, so this is cheap to run before each
# `make run` / `make test`.
#
# Usage: deploy/local/install.sh [--check]
#   --check   report what is missing and exit 1 if anything is; install nothing.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/stack.env"

DEBIAN_PACKAGES=(
    build-essential pkg-config clang clang-format libclang-rt-14-dev
    libpq-dev libmongoc-dev libbson-dev librdkafka-dev libh2o-evloop-dev libjansson-dev
    libssl-dev zlib1g-dev
    postgresql postgresql-client
    postgresql-15-auto-failover pg-auto-failover-cli   # the replicated event store (LL_PG_NODES=2); 15 is bookworm's
    openjdk-17-jre-headless maven golang-go
    kcat wrk hyperfine gnuplot-nox python3 curl patch
    python3-pymongo python3-psycopg2   # bench/bench_peer.py (run with /usr/bin/python3)
)
FERRETDB_VERSION=v1.24.2

check_only=0
[[ "${1:-}" == "--check" ]] && check_only=1
[[ "${1:-}" == "--help" || "${1:-}" == "-h" ]] && { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0; }

say() { printf '[install] %s\n' "$*"; }
missing=0
mkdir -p "$LL_VAR/log"
INSTALL_LOG=$LL_VAR/log/install.log

# logged STEP CMD...: runs CMD with its output in install.log; on failure shows the tail.
logged() {
    local step=$1; shift
    echo "=== $(date -u +%FT%TZ) $step" >>"$INSTALL_LOG"
    if ! "$@" >>"$INSTALL_LOG" 2>&1; then
        echo "[install] error: $step failed; last lines of $INSTALL_LOG:" >&2
        tail -n 30 "$INSTALL_LOG" >&2
        exit 1
    fi
}

# --- Debian packages -------------------------------------------------------------------------
# Java, Maven and Go may already come from the machine image rather than Debian; accept either.
need_pkgs=()
for p in "${DEBIAN_PACKAGES[@]}"; do
    case "$p" in
        openjdk-17-jre-headless) command -v java >/dev/null && continue ;;
        maven) command -v mvn >/dev/null && continue ;;
        golang-go) command -v go >/dev/null && continue ;;
    esac
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need_pkgs+=("$p")
done
if ((${#need_pkgs[@]})); then
    if ((check_only)); then say "missing Debian packages: ${need_pkgs[*]}"; missing=1
    else
        say "installing Debian packages: ${need_pkgs[*]}"
        export DEBIAN_FRONTEND=noninteractive
        logged "apt-get update" apt-get update -q
        logged "apt-get install" apt-get install -y -q --no-install-recommends "${need_pkgs[@]}"
    fi
else
    say "Debian packages: present"
fi

# PostgreSQL's binaries live in a versioned directory; remember it for stack.sh.
pg_bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [[ -z "$pg_bindir" && $check_only == 0 ]]; then
    echo "[install] error: PostgreSQL server binaries not found under /usr/lib/postgresql" >&2; exit 1
fi

# --- Kafka (KRaft) jars from Maven Central ---------------------------------------------------
kafka_stamp=$LL_KAFKA_LIBS/.stamp-$(sha256sum "$LL_ROOT/deploy/local/kafka/pom.xml" | cut -c1-16)
if [[ -f "$kafka_stamp" ]]; then
    say "Kafka jars: present"
elif ((check_only)); then
    say "missing Kafka jars in $LL_KAFKA_LIBS"; missing=1
else
    say "fetching Kafka jars with mvn (first time only)"
    rm -rf "$LL_KAFKA_LIBS"; mkdir -p "$LL_KAFKA_LIBS"
    logged "mvn dependency:copy-dependencies" mvn -B -Dstyle.color=never \
        -f "$LL_ROOT/deploy/local/kafka/pom.xml" dependency:copy-dependencies \
        -DoutputDirectory="$LL_KAFKA_LIBS" -DincludeScope=runtime
    ls "$LL_KAFKA_LIBS"/kafka_2.13-*.jar >/dev/null
    touch "$kafka_stamp"
fi

# --- FerretDB from the Go module proxy ------------------------------------------------------
# Our patches to it (deploy/local/ferretdb-patches, each says why): a binary built without the
# current set is built again.
ferretdb_patches=$(cat "$LL_ROOT"/deploy/local/ferretdb-patches/*.patch | sha256sum | cut -c1-16)
if [[ -x "$LL_FERRETDB_BIN" ]] && "$LL_FERRETDB_BIN" --version 2>&1 | grep -q "${FERRETDB_VERSION#v}" &&
    [[ "$(cat "$LL_FERRETDB_BIN.patches" 2>/dev/null)" == "$ferretdb_patches" ]]; then
    say "FerretDB $FERRETDB_VERSION: present"
elif ((check_only)); then
    say "missing FerretDB at $LL_FERRETDB_BIN"; missing=1
else
    say "building FerretDB $FERRETDB_VERSION with go (first time only, a few minutes)"
    # The module comes from the Go module proxy. FerretDB v1 refuses to start unless
    # build/version/version.txt names its version (its own build writes it with `task gen-version`),
    # so build a writable copy of the module as its own main module.
    src=$LL_VAR/src/ferretdb-$FERRETDB_VERSION
    moddir=$(cd / && GOFLAGS=-mod=mod go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" 2>>"$INSTALL_LOG" |
             sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
    [[ -d "$moddir" ]] || { echo "[install] error: go mod download of FerretDB failed" >&2; exit 1; }
    rm -rf "$src"; mkdir -p "$(dirname "$src")" "$(dirname "$LL_FERRETDB_BIN")"
    cp -r "$moddir" "$src"; chmod -R u+w "$src"
    echo "$FERRETDB_VERSION" >"$src/build/version/version.txt"
    for p in "$LL_ROOT"/deploy/local/ferretdb-patches/*.patch; do
        logged "patch ferretdb $(basename "$p")" patch -d "$src" -p1 -i "$p"
    done
    # FerretDB v1 uses go:linkname into the runtime, which newer toolchains refuse by default.
    logged "go build ferretdb" bash -c 'cd "$1" && go build -ldflags=-checklinkname=0 -o "$2" ./cmd/ferretdb' \
        _ "$src" "$LL_FERRETDB_BIN"
    "$LL_FERRETDB_BIN" --version >/dev/null
    echo "$ferretdb_patches" >"$LL_FERRETDB_BIN.patches"
fi

# --- Python test dependencies (the tests' python3 is the one on PATH) -------------------------
if python3 -c 'import yaml' 2>/dev/null; then
    say "Python test dependencies: present"
elif ((check_only)); then
    say "missing PyYAML for $(command -v python3)"; missing=1
else
    say "installing PyYAML from PyPI for $(command -v python3)"
    logged "pip install pyyaml" python3 -m pip install --quiet pyyaml
fi

# schemathesis (PyPI) checks api/openapi.yaml against the running servers in make test. Its own
# venv under var/, pinned, so it cannot disturb the machine's Python packages.
SCHEMATHESIS_VERSION=4.32.5
LL_VENV=$LL_VAR/venv
if [[ -x "$LL_VENV/bin/schemathesis" ]] && "$LL_VENV/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
    say "schemathesis $SCHEMATHESIS_VERSION: present"
elif ((check_only)); then
    say "missing schemathesis in $LL_VENV"; missing=1
else
    say "installing schemathesis $SCHEMATHESIS_VERSION from PyPI into $LL_VENV"
    logged "python3 -m venv" python3 -m venv "$LL_VENV"
    logged "pip install schemathesis" "$LL_VENV/bin/pip" install --quiet "schemathesis==$SCHEMATHESIS_VERSION"
fi

# kustomize (Go module proxy, pinned) builds deploy/k8s in make test (tests/deploy/check_deploy.py).
KUSTOMIZE_VERSION=v5.5.0
# go install builds report "(devel)" as their version: a marker file records which one it is.
if [[ -x "$LL_VAR/tools/kustomize" ]] && [[ "$(cat "$LL_VAR/tools/kustomize.version" 2>/dev/null)" == "$KUSTOMIZE_VERSION" ]]; then
    say "kustomize $KUSTOMIZE_VERSION: present"
elif ((check_only)); then
    say "missing kustomize in $LL_VAR/tools"; missing=1
else
    say "building kustomize $KUSTOMIZE_VERSION from the Go module proxy"
    mkdir -p "$LL_VAR/tools"
    logged "go install kustomize" env GOBIN="$LL_VAR/tools" go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
    echo "$KUSTOMIZE_VERSION" >"$LL_VAR/tools/kustomize.version"
fi

((check_only && missing)) && exit 1
say "done"
