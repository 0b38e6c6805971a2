#!/usr/bin/env bash
# Run a real Prometheus server (Debian's `prometheus` package) that scrapes the local services.
#
# Usage: deploy/prometheus/prometheus.sh {install|start|stop|status|url}
#   install  apt-get install prometheus (and promtool) when the binary is missing; needs root
#   start    start Prometheus in the background on 127.0.0.1; waits until /-/ready
#   stop     SIGTERM the server we started (pid file), SIGKILL after 20 s
#   status   whether our server runs (exit 0 running, 3 not running)
#   url      print the server's URL
#
# Settings (environment):
#   QM_PROMETHEUS_PORT           listen port                     (default 19090)
#   QM_PROMETHEUS_STATE_DIR      TSDB, log, pid file             (default <repo>/.run/prometheus)
#   QM_PROMETHEUS_CONFIG         scrape config                   (default deploy/prometheus/prometheus.yml)
#   QM_PROMETHEUS_RETENTION      how long samples are kept       (default 2d)
#   QM_PROMETHEUS_START_TIMEOUT  seconds to wait on start        (default 60)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"

PORT="${QM_PROMETHEUS_PORT:-19090}"
STATE_DIR="${QM_PROMETHEUS_STATE_DIR:-$REPO_ROOT/.run/prometheus}"
CONFIG="${QM_PROMETHEUS_CONFIG:-$SCRIPT_DIR/prometheus.yml}"
RETENTION="${QM_PROMETHEUS_RETENTION:-2d}"
START_TIMEOUT="${QM_PROMETHEUS_START_TIMEOUT:-60}"
PID_FILE="$STATE_DIR/prometheus.pid"
LOG_FILE="$STATE_DIR/prometheus.log"
URL="http://127.0.0.1:$PORT"

log() { printf 'prometheus: %s\n' "$*"; }
die() { printf 'prometheus: error: %s\n' "$*" >&2; exit 1; }

usage() { sed -n '4,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

validate_settings() {
    [[ "$PORT" =~ ^[0-9]+$ ]] || die "QM_PROMETHEUS_PORT='$PORT' is not a port number; set it to a free TCP port such as 19090."
    [[ "$START_TIMEOUT" =~ ^[0-9]+$ ]] || die "QM_PROMETHEUS_START_TIMEOUT='$START_TIMEOUT' is not a number of seconds; set it to e.g. 60."
}

running() { [[ -f "$PID_FILE" ]] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; }

ready() {
    if command -v curl >/dev/null 2>&1; then
        curl -fsS -o /dev/null --max-time 2 "$URL/-/ready"
    else
        python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$URL/-/ready" 2>/dev/null
    fi
}

install() {
    if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
        log "already installed: $(prometheus --version 2>&1 | head -n 1)"
        return 0
    fi
    command -v apt-get >/dev/null 2>&1 || die "prometheus is not installed and apt-get is missing; install Prometheus 2.x so 'prometheus' and 'promtool' are on PATH."
    [[ "$(id -u)" == "0" ]] || die "prometheus is not installed; run 'sudo apt-get install prometheus' (or 'make setup' as root)."
    log "installing Debian's prometheus package (apt-get)…"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # Recommends would pull in node-exporter, which this project does not use.
    apt-get install -y -q --no-install-recommends prometheus
    # The package starts a system-wide service where an init system runs; ours is separate.
    log "installed: $(prometheus --version 2>&1 | head -n 1)"
}

start() {
    validate_settings
    command -v prometheus >/dev/null 2>&1 || die "prometheus not found on PATH; run 'make setup' (installs Debian's prometheus package)."
    [[ -f "$CONFIG" ]] || die "config file $CONFIG does not exist; set QM_PROMETHEUS_CONFIG to a Prometheus config."
    if running; then
        log "already running (pid $(cat "$PID_FILE")) at $URL"
        return 0
    fi
    if ready 2>/dev/null; then
        die "something else already answers on $URL; set QM_PROMETHEUS_PORT to a free port."
    fi
    mkdir -p "$STATE_DIR/data"
    # Rule files in the config are relative to the config's own directory; run from there.
    (cd "$(dirname "$CONFIG")" && exec setsid nohup prometheus \
        --config.file="$CONFIG" \
        --storage.tsdb.path="$STATE_DIR/data" \
        --storage.tsdb.retention.time="$RETENTION" \
        --web.listen-address="127.0.0.1:$PORT" \
        --web.enable-lifecycle \
        >>"$LOG_FILE" 2>&1 </dev/null) &
    echo $! >"$PID_FILE"
    local waited=0
    until ready 2>/dev/null; do
        if ! running; then
            tail -n 20 "$LOG_FILE" >&2 || true
            rm -f "$PID_FILE"
            die "prometheus exited at start; see $LOG_FILE."
        fi
        (( waited >= START_TIMEOUT * 2 )) && die "prometheus did not become ready within ${START_TIMEOUT}s; see $LOG_FILE."
        sleep 0.5
        waited=$((waited + 1))
    done
    log "running (pid $(cat "$PID_FILE")) at $URL (config $CONFIG, log $LOG_FILE)"
}

stop() {
    [[ -f "$PID_FILE" ]] || { log "not running"; return 0; }
    local pid
    pid="$(cat "$PID_FILE")"
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; log "killed (pid $pid)"; fi
        log "stopped (pid $pid)"
    fi
    rm -f "$PID_FILE"
}

status() {
    if running; then
        log "running (pid $(cat "$PID_FILE")) at $URL"
    else
        log "not running"
        exit 3
    fi
}

case "${1:-}" in
    install) install ;;
    start) start ;;
    stop) stop ;;
    status) status ;;
    url) validate_settings; echo "$URL" ;;
    *) usage; exit 1 ;;
esac
