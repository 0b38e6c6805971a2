#!/usr/bin/env bash
# Run a real single-node Apache Kafka broker (KRaft, broker+controller) from Maven Central jars.
# No Docker, no tarball: needs Java 17+ and Maven (for the one-time `fetch`).
#
# Usage: deploy/kafka/kafka.sh {fetch|start|stop|status|reset|produce TOPIC}
#   fetch   collect the broker jars into $QM_CACHE_DIR/kafka/<version>/libs (once)
#   start   format the state dir once and start the broker in the background; waits until ready
#   stop    SIGTERM the broker we started (pid file), SIGKILL after 30 s
#   status  print whether our broker runs and its bootstrap address (exit 0 running, 3 not running)
#   reset   stop, then delete the state dir (all topics and offsets)
#   produce Kafka's own console producer on TOPIC: one record per stdin line (key<TAB>value
#           with --property parse.key=true …; any ConsoleProducer option may follow)
#
# Settings (environment):
#   KAFKA_BOOTSTRAP           if non-empty, `start` uses that existing Kafka and starts nothing
#   QM_KAFKA_PORT             client port              (default 19092)
#   QM_KAFKA_CONTROLLER_PORT  KRaft controller port    (default 19093)
#   QM_KAFKA_STATE_DIR        data, logs, pid file     (default <repo>/.run/kafka)
#   QM_KAFKA_HEAP             JVM heap                 (default 512m)
#   QM_KAFKA_START_TIMEOUT    seconds to wait on start (default 120)
#   QM_CACHE_DIR              jar cache                (default $HOME/.cache/quartermaster)
#
# SASL/ACL mode (QM_KAFKA_SASL=1): the same commands run a second, separate broker from
# server-sasl.properties.in: SASL_SSL (TLS + SASL/PLAIN) for every client, StandardAuthorizer,
# super user `admin`, nothing allowed without an ACL (deploy/kafka/acls.md). Its defaults differ so
# it never collides with the plaintext broker: QM_KAFKA_PORT 19292, QM_KAFKA_CONTROLLER_PORT 19293,
# QM_KAFKA_STATE_DIR <repo>/.run/kafka-sasl.
#   QM_KAFKA_SASL_USERS       space-separated name=password pairs the broker accepts; must include
#                             admin (default: dev-only passwords `<name>-dev` for admin, qm-parser,
#                             qm-planner, qm-gate, qm-operator, qm-admin)
#   TLS: on first start deploy/kafka/certs.sh makes, with Java's keytool, a local CA and a broker
#   certificate (SAN localhost, 127.0.0.1) in <state dir>/tls/ (never in git; `reset` deletes them,
#   the next start makes new ones). There is no plaintext client listener. Clients verify the broker
#   against the CA, e.g.:
#     QM_KAFKA_SECURITY_PROTOCOL=SASL_SSL QM_KAFKA_SSL_CAFILE=.run/kafka-sasl/tls/ca.pem \
#     QM_KAFKA_SASL_USERNAME=qm-admin QM_KAFKA_SASL_PASSWORD=qm-admin-dev \
#     KAFKA_BOOTSTRAP=127.0.0.1:19292 .venv/bin/qm topics create
#   A client without that CA (system trust only), or speaking PLAINTEXT or SASL_PLAINTEXT, cannot
#   connect (tests/e2e/test_acls.py shows both).
set -euo pipefail

KAFKA_VERSION="4.1.1"

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"

SASL="${QM_KAFKA_SASL:-0}"
if [[ "$SASL" == "1" ]]; then
    PORT="${QM_KAFKA_PORT:-19292}"
    CONTROLLER_PORT="${QM_KAFKA_CONTROLLER_PORT:-19293}"
    STATE_DIR="${QM_KAFKA_STATE_DIR:-$REPO_ROOT/.run/kafka-sasl}"
    PROPS_TEMPLATE="$SCRIPT_DIR/server-sasl.properties.in"
    SASL_USERS="${QM_KAFKA_SASL_USERS:-admin=admin-dev qm-parser=qm-parser-dev qm-planner=qm-planner-dev qm-gate=qm-gate-dev qm-operator=qm-operator-dev qm-admin=qm-admin-dev}"
else
    PORT="${QM_KAFKA_PORT:-19092}"
    CONTROLLER_PORT="${QM_KAFKA_CONTROLLER_PORT:-19093}"
    STATE_DIR="${QM_KAFKA_STATE_DIR:-$REPO_ROOT/.run/kafka}"
    PROPS_TEMPLATE="$SCRIPT_DIR/server.properties.in"
    SASL_USERS=""
fi
HEAP="${QM_KAFKA_HEAP:-512m}"
START_TIMEOUT="${QM_KAFKA_START_TIMEOUT:-120}"
CACHE_DIR="${QM_CACHE_DIR:-$HOME/.cache/quartermaster}"

VERSION_DIR="$CACHE_DIR/kafka/$KAFKA_VERSION"
LIBS_DIR="$VERSION_DIR/libs"
MARKER="$LIBS_DIR/.fetched"

PROPS_FILE="$STATE_DIR/server.properties"
DATA_DIR="$STATE_DIR/data"
LOGS_DIR="$STATE_DIR/logs"
SERVER_LOG="$LOGS_DIR/server.log"
OUT_FILE="$STATE_DIR/kafka.out"
PID_FILE="$STATE_DIR/kafka.pid"
LOG4J_CONFIG="$SCRIPT_DIR/log4j2.properties"
TLS_DIR="$STATE_DIR/tls"
BOOTSTRAP="127.0.0.1:$PORT"

log() { printf 'kafka: %s\n' "$*"; }
die() { printf 'kafka: error: %s\n' "$*" >&2; exit 1; }

usage() {
    sed -n '5,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

validate_settings() {
    [[ "$PORT" =~ ^[0-9]+$ ]] || die "QM_KAFKA_PORT='$PORT' is not a port number; set it to a free TCP port such as 19092."
    [[ "$CONTROLLER_PORT" =~ ^[0-9]+$ ]] || die "QM_KAFKA_CONTROLLER_PORT='$CONTROLLER_PORT' is not a port number; set it to a free TCP port such as 19093."
    [[ "$PORT" != "$CONTROLLER_PORT" ]] || die "QM_KAFKA_PORT and QM_KAFKA_CONTROLLER_PORT are both $PORT; give them different values."
    [[ "$START_TIMEOUT" =~ ^[0-9]+$ ]] || die "QM_KAFKA_START_TIMEOUT='$START_TIMEOUT' is not a number of seconds; set it to e.g. 120."
    [[ "$HEAP" =~ ^[0-9]+[kKmMgG]?$ ]] || die "QM_KAFKA_HEAP='$HEAP' is not a JVM heap size; set it to e.g. 512m."
    [[ "$SASL" == "0" || "$SASL" == "1" ]] || die "QM_KAFKA_SASL='$SASL' must be 0 (plaintext broker) or 1 (SASL broker with ACLs)."
    if [[ "$SASL" == "1" ]]; then
        local pair
        for pair in $SASL_USERS; do
            [[ "$pair" =~ ^[A-Za-z0-9._-]+=[A-Za-z0-9._~+/-]+$ ]] \
                || die "QM_KAFKA_SASL_USERS entry '${pair%%=*}=…' is not name=password (letters, digits and . _ - in names; also ~ + / in passwords)."
        done
        [[ -n "$(sasl_password admin)" ]] || die "QM_KAFKA_SASL_USERS has no admin=<password> entry; the broker logs in as admin."
    fi
}

# The password of SASL user $1 from QM_KAFKA_SASL_USERS (empty if absent).
sasl_password() {
    local pair
    for pair in $SASL_USERS; do
        if [[ "${pair%%=*}" == "$1" ]]; then
            printf '%s' "${pair#*=}"
            return 0
        fi
    done
}

# user_<name>="<password>" for every SASL user, as the PLAIN login module's options.
jaas_users() {
    local pair out=""
    for pair in $SASL_USERS; do
        out+="user_${pair%%=*}=\"${pair#*=}\" "
    done
    printf '%s' "${out% }"
}

require_java() {
    command -v java >/dev/null 2>&1 || die "java not found on PATH; install Java 17 or newer (e.g. apt-get install openjdk-17-jre-headless)."
    local version major
    version="$(java -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n 1)"
    major="${version%%.*}"
    if [[ "$major" == "1" ]]; then
        major="$(printf '%s' "$version" | cut -d. -f2)"
    fi
    if [[ ! "$major" =~ ^[0-9]+$ ]] || (( major < 17 )); then
        die "java on PATH is version '${version:-unknown}', Kafka $KAFKA_VERSION needs 17 or newer; install Java 17 and put it first on PATH."
    fi
}

require_maven() {
    command -v mvn >/dev/null 2>&1 || die "mvn not found on PATH; install Maven 3.8+ (e.g. apt-get install maven) so the Kafka jars can be fetched from Maven Central."
}

pom_sum() {
    cksum <"$SCRIPT_DIR/pom.xml" | cut -d' ' -f1
}

libs_ready() {
    [[ -f "$MARKER" ]] && [[ "$(cat "$MARKER")" == "$(pom_sum)" ]]
}

cmd_fetch() {
    if libs_ready; then
        log "jars for Kafka $KAFKA_VERSION already in $LIBS_DIR"
        return 0
    fi
    require_java
    require_maven
    log "fetching Kafka $KAFKA_VERSION jars from Maven Central into $LIBS_DIR (first run only) ..."
    local build_dir="$VERSION_DIR/build" tmp_dir="$VERSION_DIR/libs.tmp.$$"
    mkdir -p "$build_dir"
    rm -rf "$tmp_dir"
    # Run Maven on a copy of the POM in the cache, so nothing (e.g. target/) lands in the git tree.
    cp "$SCRIPT_DIR/pom.xml" "$build_dir/pom.xml"
    # Debian's Maven prints bare colour-reset codes even with -B -q; strip them (errors still show).
    if ! (cd "$build_dir" && mvn -B -q -f pom.xml dependency:copy-dependencies \
            -DincludeScope=runtime -DoutputDirectory="$tmp_dir" 2>&1 | sed 's/\x1b\[[0-9;]*m//g'); then
        rm -rf "$tmp_dir"
        die "Maven could not collect the Kafka jars (see its output above); check network access to Maven Central (or your ~/.m2/settings.xml mirror) and re-run '$0 fetch'."
    fi
    local count
    count="$(find "$tmp_dir" -maxdepth 1 -name '*.jar' | wc -l)"
    if ! compgen -G "$tmp_dir/kafka_2.13-$KAFKA_VERSION.jar" >/dev/null \
        || ! compgen -G "$tmp_dir/log4j-core-*.jar" >/dev/null; then
        rm -rf "$tmp_dir"
        die "Maven finished but kafka_2.13-$KAFKA_VERSION.jar or log4j-core is missing; check $SCRIPT_DIR/pom.xml and re-run '$0 fetch'."
    fi
    rm -rf "$LIBS_DIR"
    mv "$tmp_dir" "$LIBS_DIR"
    pom_sum >"$MARKER"
    log "fetched $count jars ($(du -sh "$LIBS_DIR" | cut -f1)) into $LIBS_DIR"
}

# True if something accepts TCP connections on 127.0.0.1:$1.
port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Prints the PID of the broker we started, if it is alive; fails otherwise.
running_pid() {
    [[ -f "$PID_FILE" ]] || return 1
    local pid
    pid="$(tr -dc '0-9' <"$PID_FILE")"
    [[ -n "$pid" ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    # Guard against PID reuse: the process must be a Kafka broker on our config.
    if [[ -r "/proc/$pid/cmdline" ]]; then
        tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "kafka.Kafka $PROPS_FILE" || return 1
    fi
    printf '%s\n' "$pid"
}

java_opts() {
    printf '%s\n' \
        "-Xmx$HEAP" "-Xms$HEAP" \
        -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
        -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true \
        "-Dlog4j2.configurationFile=$LOG4J_CONFIG" "-Dkafka.logs.dir=$LOGS_DIR" \
        -cp "$LIBS_DIR/*"
}

# The SASL broker's CA and certificate, made once into the state dir by certs.sh.
ensure_tls() {
    [[ "$SASL" == "1" ]] || return 0
    command -v keytool >/dev/null 2>&1 || die "keytool not found on PATH; it ships with Java 17+ (put the JDK/JRE's bin first on PATH) and makes the SASL_SSL broker's certificates."
    "$SCRIPT_DIR/certs.sh" "$TLS_DIR" || die "could not make the broker's TLS certificates in $TLS_DIR (see above); run '$0 reset' and start again."
    [[ -s "$TLS_DIR/store.password" ]] || die "$TLS_DIR/store.password is missing or empty; run '$0 reset' to make new certificates."
}

tls_password() {
    [[ "$SASL" == "1" ]] || return 0
    cat "$TLS_DIR/store.password"
}

render_props() {
    mkdir -p "$DATA_DIR" "$LOGS_DIR"
    local tmp="$PROPS_FILE.tmp"
    (
        umask 077  # the SASL broker's properties hold passwords
        sed -e "s|@PORT@|$PORT|g" \
            -e "s|@CONTROLLER_PORT@|$CONTROLLER_PORT|g" \
            -e "s|@LOG_DIR@|$DATA_DIR|g" \
            -e "s|@ADMIN_PASSWORD@|$(sasl_password admin)|g" \
            -e "s|@JAAS_USERS@|$(jaas_users)|g" \
            -e "s|@TLS_DIR@|$TLS_DIR|g" \
            -e "s|@TLS_PASSWORD@|$(tls_password)|g" \
            "$PROPS_TEMPLATE" >"$tmp"
    )
    mv "$tmp" "$PROPS_FILE"
}

format_storage() {
    local formatted_port_file="$STATE_DIR/controller.port"
    if [[ -f "$DATA_DIR/meta.properties" ]]; then
        if [[ -f "$formatted_port_file" ]] && [[ "$(cat "$formatted_port_file")" != "$CONTROLLER_PORT" ]]; then
            die "the state dir $STATE_DIR was formatted for controller port $(cat "$formatted_port_file"), not $CONTROLLER_PORT; run '$0 reset' or set QM_KAFKA_CONTROLLER_PORT back."
        fi
        return 0
    fi
    local -a opts
    mapfile -t opts < <(java_opts)
    local cluster_id
    cluster_id="$(java "${opts[@]}" kafka.tools.StorageTool random-uuid 2>>"$OUT_FILE" | tail -n 1)" \
        || die "kafka.tools.StorageTool random-uuid failed (see $OUT_FILE); run '$0 reset' and '$0 start' again."
    [[ -n "$cluster_id" ]] || die "kafka.tools.StorageTool random-uuid printed no cluster id (see $OUT_FILE); run '$0 reset' and try again."
    log "formatting $DATA_DIR (cluster id $cluster_id)"
    if ! java "${opts[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$PROPS_FILE" --standalone >>"$OUT_FILE" 2>&1; then
        tail -n 20 "$OUT_FILE" >&2
        die "formatting the Kafka log dir failed (output above); run '$0 reset' and '$0 start' again."
    fi
    printf '%s\n' "$CONTROLLER_PORT" >"$formatted_port_file"
}

show_log_tail() {
    local file="$SERVER_LOG"
    [[ -s "$file" ]] || file="$OUT_FILE"
    if [[ -s "$file" ]]; then
        printf -- '--- last 40 lines of %s ---\n' "$file" >&2
        tail -n 40 "$file" >&2
        printf -- '---\n' >&2
    fi
    if [[ "$file" != "$OUT_FILE" ]] && [[ -s "$OUT_FILE" ]]; then
        printf -- '--- last 10 lines of %s ---\n' "$OUT_FILE" >&2
        tail -n 10 "$OUT_FILE" >&2
        printf -- '---\n' >&2
    fi
}

# True once the server log shows a start after byte offset $1.
log_says_started() {
    local offset="$1" size
    [[ -f "$SERVER_LOG" ]] || return 1
    size="$(wc -c <"$SERVER_LOG")"
    if (( size < offset )); then offset=0; fi  # log was rolled over
    tail -c "+$((offset + 1))" "$SERVER_LOG" | grep -q "Kafka Server started"
}

kill_pid() {
    local pid="$1" waited=0
    kill -TERM "$pid" 2>/dev/null || return 0
    while kill -0 "$pid" 2>/dev/null; do
        if (( waited >= 60 )); then
            log "broker (pid $pid) did not stop within 30 s, sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            sleep 0.5
            break
        fi
        sleep 0.5
        waited=$((waited + 1))
    done
}

cmd_start() {
    if [[ -n "${KAFKA_BOOTSTRAP:-}" ]]; then
        log "using existing Kafka at $KAFKA_BOOTSTRAP"
        return 0
    fi
    validate_settings
    local pid
    if pid="$(running_pid)"; then
        log "already running (pid $pid)"
        log "Kafka ready at $BOOTSTRAP"
        return 0
    fi
    require_java
    cmd_fetch
    [[ -f "$LOG4J_CONFIG" ]] || die "missing $LOG4J_CONFIG; restore it from git (git checkout -- deploy/kafka)."
    for p in "$PORT" "$CONTROLLER_PORT"; do
        if port_open "$p"; then
            die "port $p on 127.0.0.1 is already in use by another process; stop it or set QM_KAFKA_PORT/QM_KAFKA_CONTROLLER_PORT to free ports (or set KAFKA_BOOTSTRAP to use an existing Kafka)."
        fi
    done
    mkdir -p "$STATE_DIR"
    rm -f "$PID_FILE"
    ensure_tls
    render_props
    format_storage

    local -a opts
    mapfile -t opts < <(java_opts)
    local log_offset=0
    [[ -f "$SERVER_LOG" ]] && log_offset="$(wc -c <"$SERVER_LOG")"
    printf '=== start %s ===\n' "$(date '+%Y-%m-%dT%H:%M:%S%z')" >>"$OUT_FILE"

    log "starting Kafka $KAFKA_VERSION (heap $HEAP, state $STATE_DIR)"
    # setsid: own session, so the broker survives the calling shell; the inner shell writes its own
    # PID (which exec turns into the JVM's PID) even if setsid has to fork.
    # shellcheck disable=SC2016  # $$ and $@ are expanded by the inner shell on purpose
    setsid nohup bash -c 'echo $$ >"$0.tmp" && mv "$0.tmp" "$0" && exec "$@"' \
        "$PID_FILE" java "${opts[@]}" kafka.Kafka "$PROPS_FILE" \
        </dev/null >>"$OUT_FILE" 2>&1 &

    local waited=0 deadline=$((START_TIMEOUT * 2))
    while [[ ! -s "$PID_FILE" ]]; do
        (( waited < 20 )) || { show_log_tail; die "the broker process did not start (no pid file after 10 s); check the output above."; }
        sleep 0.5
        waited=$((waited + 1))
    done
    pid="$(cat "$PID_FILE")"

    waited=0
    while :; do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$PID_FILE"
            show_log_tail
            die "the broker exited during startup; the log above says why (if the data dir is damaged, '$0 reset' starts clean)."
        fi
        if port_open "$PORT" && log_says_started "$log_offset"; then
            break
        fi
        if (( waited >= deadline )); then
            show_log_tail
            log "stopping the half-started broker (pid $pid)"
            kill_pid "$pid"
            rm -f "$PID_FILE"
            die "Kafka was not ready within ${START_TIMEOUT}s; check the log above, or raise QM_KAFKA_START_TIMEOUT on a slow machine."
        fi
        sleep 0.5
        waited=$((waited + 1))
    done
    log "started in ~$(( (waited + 1) / 2 ))s (pid $pid, logs in $LOGS_DIR)"
    log "Kafka ready at $BOOTSTRAP"
}

cmd_stop() {
    if [[ ! -f "$PID_FILE" ]]; then
        log "Kafka not running"
        return 0
    fi
    local pid
    if ! pid="$(running_pid)"; then
        rm -f "$PID_FILE"
        log "Kafka not running (removed stale pid file)"
        return 0
    fi
    log "stopping Kafka (pid $pid) ..."
    kill_pid "$pid"
    if kill -0 "$pid" 2>/dev/null; then
        die "broker pid $pid is still alive after SIGKILL; check it with 'ps -p $pid' and end it by hand."
    fi
    rm -f "$PID_FILE"
    log "Kafka stopped"
}

cmd_status() {
    if [[ -n "${KAFKA_BOOTSTRAP:-}" ]]; then
        log "using existing Kafka at $KAFKA_BOOTSTRAP (KAFKA_BOOTSTRAP is set)"
        return 0
    fi
    local pid
    if pid="$(running_pid)"; then
        if port_open "$PORT"; then
            log "running (pid $pid) at $BOOTSTRAP"
        else
            log "running (pid $pid) but $BOOTSTRAP does not accept connections yet"
        fi
        return 0
    fi
    log "not running (would listen on $BOOTSTRAP; state $STATE_DIR)"
    return 3
}

cmd_reset() {
    if [[ -n "${KAFKA_BOOTSTRAP:-}" ]]; then
        die "KAFKA_BOOTSTRAP is set ($KAFKA_BOOTSTRAP), so there is no local broker to reset; unset it to reset the local one."
    fi
    cmd_stop
    case "$STATE_DIR" in
        "" | "/" | "$HOME" | "$REPO_ROOT")
            die "refusing to delete QM_KAFKA_STATE_DIR='$STATE_DIR'; point it at a dedicated directory." ;;
    esac
    if [[ -d "$STATE_DIR" ]]; then
        rm -rf "$STATE_DIR"
        log "deleted $STATE_DIR"
    else
        log "nothing to delete ($STATE_DIR does not exist)"
    fi
}

cmd_produce() {
    local topic="${1:-}"
    [[ -n "$topic" ]] || die "produce needs a topic, e.g. '$0 produce orders.submitted.v1'."
    shift
    libs_ready || die "the Kafka jars are not fetched yet; run '$0 fetch' first."
    local bootstrap="${KAFKA_BOOTSTRAP:-127.0.0.1:$PORT}"
    mkdir -p "$LOGS_DIR"  # log4j writes under kafka.logs.dir, never into the working directory
    exec java -Xmx128m -Dlog4j2.configurationFile="$LOG4J_CONFIG" -Dkafka.logs.dir="$LOGS_DIR" \
        -cp "$LIBS_DIR/*" org.apache.kafka.tools.ConsoleProducer \
        --bootstrap-server "$bootstrap" --topic "$topic" "$@"
}

main() {
    local cmd="${1:-}"
    case "$cmd" in
        produce) shift; cmd_produce "$@" ;;
        fetch) cmd_fetch ;;
        start) cmd_start ;;
        stop) cmd_stop ;;
        status) cmd_status ;;
        reset) cmd_reset ;;
        -h | --help | help) usage ;;
        *)
            usage >&2
            die "unknown command '${cmd}'; use one of fetch, start, stop, status, reset, produce."
            ;;
    esac
}

main "$@"
