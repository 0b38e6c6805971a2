#!/usr/bin/env bash
# Start and stop Quartermaster's services as local processes (no Docker).
#
# Usage: deploy/local.sh {start|stop|status}
#   start   start parser, planner and gate in the background (pid files in .run/pids,
#           logs in .run/logs); the Kafka broker must already run (deploy/kafka/kafka.sh start)
#   stop    SIGTERM each service we started, SIGKILL after 20 s
#   status  which services run
# Settings: every QM_* / KAFKA_BOOTSTRAP variable the services read (see README).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE_DIR="${QM_STATE_DIR:-$REPO_ROOT/.run}"
PIDS="$STATE_DIR/pids"
LOGS="$STATE_DIR/logs"
PY="$REPO_ROOT/.venv/bin/python"
SERVICES=(gate planner parser)

log() { printf 'services: %s\n' "$*"; }
die() { printf 'services: error: %s\n' "$*" >&2; exit 1; }

running() { [[ -f "$PIDS/$1.pid" ]] && kill -0 "$(cat "$PIDS/$1.pid")" 2>/dev/null; }

start() {
    [[ -x "$PY" ]] || die "no virtualenv at .venv; run 'make setup' first."
    mkdir -p "$PIDS" "$LOGS"
    for svc in "${SERVICES[@]}"; do
        if running "$svc"; then log "$svc already running (pid $(cat "$PIDS/$svc.pid"))"; continue; fi
        (cd "$REPO_ROOT" && exec setsid nohup "$PY" -m "services.$svc" >>"$LOGS/$svc.log" 2>&1 </dev/null) &
        echo $! >"$PIDS/$svc.pid"
        log "started $svc (pid $!, log $LOGS/$svc.log)"
    done
    sleep 2
    for svc in "${SERVICES[@]}"; do
        running "$svc" || { tail -n 30 "$LOGS/$svc.log" >&2; die "$svc exited at start; see $LOGS/$svc.log"; }
    done
}

stop_one() {
    local svc=$1 pid
    [[ -f "$PIDS/$svc.pid" ]] || return 0
    pid=$(cat "$PIDS/$svc.pid")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; log "$svc killed"; fi
        log "stopped $svc (pid $pid)"
    fi
    rm -f "$PIDS/$svc.pid"
}

stop() { for svc in "${SERVICES[@]}"; do stop_one "$svc"; done; }

status() {
    for svc in "${SERVICES[@]}"; do
        if running "$svc"; then log "$svc running (pid $(cat "$PIDS/$svc.pid"))"; else log "$svc not running"; fi
    done
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) sed -n '4,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 1 ;;
esac
