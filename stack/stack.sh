#!/usr/bin/env bash
# The deployment of docker-compose.yml without Docker: the OpenTelemetry Collector, Jaeger v2
# and Prometheus built from their Go modules, at the versions the compose pins, run as local
# processes on 127.0.0.1 with the compose's published ports and the same config files.
#
#   stack/stack.sh build            build what is missing into the cache (once per version)
#   stack/stack.sh up               build if needed, start what is not running, wait until healthy
#   stack/stack.sh down [NAME...]   stop what `up` started (all, or the named programs)
#   stack/stack.sh status           what runs, and where its log is
#   stack/stack.sh bin NAME         the path of a built program (collector, jaeger, prometheus,
#                                   snapshot-service)
#
# Ports (as docker-compose.yml publishes them): collector OTLP 4317 (gRPC) and 4318 (HTTP),
# collector health 13133, Jaeger UI and API 16686, Prometheus 9090. Internal ones:
# Jaeger OTLP 14317, Jaeger query gRPC 16685, Jaeger health 13134, telemetry 8888 (collector)
# and 14269 (Jaeger).
#
# OPSLOG_STACK_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/opslog-stack) holds the builds,
# keyed by a hash of what defines them; OPSLOG_STACK_RUN (default $OPSLOG_STACK_CACHE/run)
# holds pid files, logs, Prometheus's data and the collector's log-record file.
set -euo pipefail

STACK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$STACK_DIR")"
CACHE="${OPSLOG_STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/opslog-stack}"
RUN="${OPSLOG_STACK_RUN:-$CACHE/run}"
PROGRAMS=(prometheus jaeger collector)

die() { echo "stack: $*" >&2; exit 1; }
say() { echo "stack: $*" >&2; }

# --- versions and build keys ------------------------------------------------------------------

module_version() { # module_version DIR MODULE: the version DIR/go.mod requires
    awk -v m="$2" '$1 == m { print $2; exit } $1 == "require" && $2 == m { print $3; exit }' \
        "$STACK_DIR/go/$1/go.mod"
}
collector_version() { awk '$1 == "version:" { print $2; exit }' "$STACK_DIR/otelcol-builder.yaml"; }
# Jaeger v2.N is released as Go module github.com/jaegertracing/jaeger v1.(N+63).
jaeger_release() {
    local v; v="$(module_version jaeger github.com/jaegertracing/jaeger)"; v="${v#v1.}"
    echo "2.$(( ${v%%.*} - 63 )).${v#*.}"
}
# Prometheus v3.M.P is released as Go module github.com/prometheus/prometheus v0.3MM.P.
prometheus_release() {
    local v; v="$(module_version prometheus github.com/prometheus/prometheus)"; v="${v#v0.}"
    echo "3.$(( 10#${v%%.*} - 300 )).${v#*.}"
}

build_key() { # build_key FILE...: a short hash of what defines a build, and of the Go version
    { go version; cat "$@"; } | sha256sum | cut -c1-12
}
bin_path() {
    case "$1" in
        collector) echo "$CACHE/collector-$(collector_version)-$(build_key "$STACK_DIR/otelcol-builder.yaml")/otelcol-opslog" ;;
        jaeger) echo "$CACHE/jaeger-$(jaeger_release)-$(build_key "$STACK_DIR"/go/jaeger/go.{mod,sum})/jaeger" ;;
        prometheus) echo "$CACHE/prometheus-$(prometheus_release)-$(build_key "$STACK_DIR"/go/prometheus/go.{mod,sum})/prometheus" ;;
        snapshot-service) echo "$CACHE/snapshot-service-$(build_key "$STACK_DIR"/go/snapshot-service/{go.mod,go.sum,main.go})/snapshot-service" ;;
        *) die "unknown program '$1' (collector, jaeger, prometheus, snapshot-service)" ;;
    esac
}

# --- build ------------------------------------------------------------------------------------

build_one() {
    local name="$1" out dir started
    out="$(bin_path "$name")"
    [ -x "$out" ] && return 0
    dir="$(dirname "$out")"
    started=$SECONDS
    say "building $name into $dir (first time only)"
    rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
    case "$name" in
        collector)
            local version; version="$(collector_version)"
            GOBIN="$CACHE/tools" go install "go.opentelemetry.io/collector/cmd/builder@v$version"
            (cd "$dir.tmp" && "$CACHE/tools/builder" --config "$STACK_DIR/otelcol-builder.yaml" \
                > builder.log 2>&1) || { tail -40 "$dir.tmp/builder.log" >&2; die "collector build failed"; }
            mv "$dir.tmp/otelcol-opslog/otelcol-opslog" "$dir.tmp/otelcol-opslog.bin"
            rm -rf "$dir.tmp/otelcol-opslog" && mv "$dir.tmp/otelcol-opslog.bin" "$dir.tmp/otelcol-opslog"
            ;;
        jaeger)
            (cd "$STACK_DIR/go/jaeger" && go build -trimpath -o "$dir.tmp/jaeger" \
                -ldflags "-X github.com/jaegertracing/jaeger/internal/version.latestVersion=v$(jaeger_release)" \
                github.com/jaegertracing/jaeger/cmd/jaeger)
            ;;
        prometheus)
            (cd "$STACK_DIR/go/prometheus" && go build -trimpath -o "$dir.tmp/prometheus" \
                -ldflags "-X github.com/prometheus/common/version.Version=$(prometheus_release)" \
                github.com/prometheus/prometheus/cmd/prometheus)
            ;;
        snapshot-service)
            (cd "$STACK_DIR/go/snapshot-service" && go build -trimpath -o "$dir.tmp/snapshot-service" .)
            ;;
    esac
    rm -rf "$dir" && mv "$dir.tmp" "$dir"
    say "built $name in $(( SECONDS - started )) s"
}

cmd_build() {
    command -v go >/dev/null || die "Go is needed to build the stack (go.dev/doc/install)"
    mkdir -p "$CACHE"
    local name
    for name in "${PROGRAMS[@]}" snapshot-service; do build_one "$name"; done
}

# --- processes --------------------------------------------------------------------------------

ports_of() {
    case "$1" in
        collector) echo "4317 4318 13133 8888" ;;
        jaeger) echo "16686 16685 14317 13134 14269" ;;
        prometheus) echo "9090" ;;
    esac
}
health_url() {
    case "$1" in
        collector) echo "http://127.0.0.1:13133/" ;;
        jaeger) echo "http://127.0.0.1:13134/status" ;;
        prometheus) echo "http://127.0.0.1:9090/-/ready" ;;
    esac
}
pid_of() { # the pid `up` recorded for a program, if that process still runs
    local file="$RUN/$1.pid" pid
    [ -f "$file" ] || return 1
    pid="$(cat "$file")"
    kill -0 "$pid" 2>/dev/null || return 1
    echo "$pid"
}
port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
healthy() { curl -fsS -o /dev/null --max-time 2 "$(health_url "$1")" 2>/dev/null; }

start_one() {
    local name="$1" bin port
    bin="$(bin_path "$name")"
    for port in $(ports_of "$name"); do
        port_taken "$port" && die "port $port is already in use on 127.0.0.1 (needed by $name): stop what holds it, or run 'stack/stack.sh down'"
    done
    mkdir -p "$RUN"
    case "$name" in
        prometheus)
            mkdir -p "$RUN/prometheus-data"
            setsid "$bin" --config.file="$REPO/prometheus.yml" --web.listen-address=127.0.0.1:9090 \
                --storage.tsdb.path="$RUN/prometheus-data" --web.enable-otlp-receiver \
                > "$RUN/prometheus.log" 2>&1 < /dev/null &
            ;;
        jaeger)
            JAEGER_OTLP_GRPC_ENDPOINT=127.0.0.1:14317 \
            JAEGER_QUERY_HTTP_ENDPOINT=127.0.0.1:16686 \
            JAEGER_QUERY_GRPC_ENDPOINT=127.0.0.1:16685 \
            JAEGER_HEALTH_ENDPOINT=127.0.0.1:13134 \
            JAEGER_TELEMETRY_HOST=127.0.0.1 JAEGER_TELEMETRY_PORT=14269 \
            JAEGER_PROMETHEUS_ENDPOINT=http://127.0.0.1:9090 \
            setsid "$bin" --config="$REPO/jaeger-config.yaml" \
                > "$RUN/jaeger.log" 2>&1 < /dev/null &
            ;;
        collector)
            OTELCOL_OTLP_GRPC_ENDPOINT=127.0.0.1:4317 \
            OTELCOL_OTLP_HTTP_ENDPOINT=127.0.0.1:4318 \
            OTELCOL_HEALTH_ENDPOINT=127.0.0.1:13133 \
            OTELCOL_TELEMETRY_HOST=127.0.0.1 OTELCOL_TELEMETRY_PORT=8888 \
            OTELCOL_JAEGER_ENDPOINT=127.0.0.1:14317 \
            OTELCOL_PROMETHEUS_ENDPOINT=http://127.0.0.1:9090/api/v1/otlp/v1/metrics \
            OTELCOL_LOGS_FILE="$RUN/opslog-logs.jsonl" \
            OTELCOL_SPANMETRICS_FLUSH_INTERVAL="${OTELCOL_SPANMETRICS_FLUSH_INTERVAL:-15s}" \
            setsid "$bin" --config="$REPO/collector-config.yaml" \
                > "$RUN/collector.log" 2>&1 < /dev/null &
            ;;
    esac
    echo $! > "$RUN/$name.pid"
}

wait_healthy() { # wait_healthy NAME...: until each answers its health check, or 60 s
    local name deadline=$(( SECONDS + 60 ))
    for name in "$@"; do
        until healthy "$name"; do
            pid_of "$name" >/dev/null || { tail -20 "$RUN/$name.log" >&2; die "$name exited at start: see $RUN/$name.log"; }
            [ $SECONDS -lt $deadline ] || die "$name is not healthy after 60 s: see $RUN/$name.log"
            sleep 0.2
        done
    done
}

cmd_up() {
    command -v curl >/dev/null || die "curl is needed for the health checks"
    cmd_build
    local name started=()
    # Prometheus first (Jaeger queries it), then Jaeger (the collector exports to it).
    for name in "${PROGRAMS[@]}"; do
        if pid_of "$name" >/dev/null; then continue; fi
        start_one "$name"
        started+=("$name")
    done
    [ ${#started[@]} -eq 0 ] || wait_healthy "${started[@]}"
    cmd_status
}

stop_one() {
    local name="$1" pid deadline
    pid="$(pid_of "$name")" || { rm -f "$RUN/$name.pid"; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$(( SECONDS + 15 ))
    while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    rm -f "$RUN/$name.pid"
    say "stopped $name"
}

cmd_down() {
    local names=("$@") name
    [ ${#names[@]} -gt 0 ] || names=(collector jaeger prometheus)
    for name in "${names[@]}"; do
        case "$name" in collector|jaeger|prometheus) ;; *) die "unknown program '$name'" ;; esac
        stop_one "$name"
    done
}

cmd_status() {
    local name pid state
    for name in "${PROGRAMS[@]}"; do
        if pid="$(pid_of "$name")"; then
            if healthy "$name"; then state="healthy"; else state="running, not healthy"; fi
            echo "$name: $state (pid $pid, ports $(ports_of "$name"), log $RUN/$name.log)"
        else
            echo "$name: stopped"
        fi
    done
    echo "collector log records: $RUN/opslog-logs.jsonl"
}

case "${1:-}" in
    build) cmd_build ;;
    up) cmd_up ;;
    down) shift; cmd_down "$@" ;;
    status) cmd_status ;;
    bin) [ $# -eq 2 ] || die "usage: stack/stack.sh bin NAME"; bin_path "$2" ;;
    *) die "usage: stack/stack.sh build|up|down [NAME...]|status|bin NAME" ;;
esac
