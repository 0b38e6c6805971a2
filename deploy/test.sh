#!/usr/bin/env bash
# The whole test suite: lint, types, schema drift, then pytest against a real Kafka broker
# started here on its own ports and state dir, and stopped afterwards whatever happens.
# Set KAFKA_BOOTSTRAP to test against an existing cluster instead.
set -euo pipefail
cd "$(dirname "$0")/.."

export QM_KAFKA_PORT="${QM_TEST_KAFKA_PORT:-19192}"
export QM_KAFKA_CONTROLLER_PORT="${QM_TEST_KAFKA_CONTROLLER_PORT:-19193}"
export QM_KAFKA_STATE_DIR="${QM_TEST_KAFKA_STATE_DIR:-$PWD/.run/kafka-test}"

echo "== lint, types, schema drift"
make --no-print-directory check

if [[ -z "${KAFKA_BOOTSTRAP:-}" ]]; then
    trap 'deploy/kafka/kafka.sh stop' EXIT
    deploy/kafka/kafka.sh reset >/dev/null 2>&1 || true
    deploy/kafka/kafka.sh start
    export KAFKA_BOOTSTRAP="127.0.0.1:$QM_KAFKA_PORT"
fi

echo "== pytest (real broker at $KAFKA_BOOTSTRAP)"
.venv/bin/pytest -v -rs --durations=15 "$@"
