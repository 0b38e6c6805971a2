#!/usr/bin/env bash
# The main job on one machine: local Kafka, the three services, operator keys, sample orders,
# and a plan waiting for a human. Stops there and prints the exact command to approve it.
# `make down` stops everything this started.
set -euo pipefail
cd "$(dirname "$0")/.."
QM=.venv/bin/qm
export QM_PLANNER_BATCH_MAX_ORDERS="${QM_PLANNER_BATCH_MAX_ORDERS:-3}"
export QM_PLANNER_BATCH_WINDOW_S="${QM_PLANNER_BATCH_WINDOW_S:-120}"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Kafka"
deploy/kafka/kafka.sh start
$QM topics create

step "Operator keys (local trust store in .run/trust, signed by a local administrator key)"
# Local demo only: the administrator passphrase sits in a file beside the state. In a real
# deployment the administrator key stays offline and `qm keys sign-store` asks for it.
passphrase=.run/admin/demo-passphrase
if [[ ! -f .run/admin/admin.pem ]]; then
    mkdir -p .run/admin && chmod 700 .run/admin
    [[ -f $passphrase ]] || (umask 077; .venv/bin/python -c 'import secrets; print(secrets.token_hex(16))' >"$passphrase")
    $QM keys admin-init --passphrase-file "$passphrase"
fi
for op in duty-officer second-officer s4-clerk; do
    [[ -f .run/keys/$op.pem ]] || $QM keys create --operator "$op"
done
$QM keys sign-store --yes --passphrase-file "$passphrase"

step "Services: parser (embedded LLM), planner (OR-Tools), release gate"
deploy/local.sh start

step "Prometheus (scrapes the services every 5 s; alerts from deploy/prometheus/rules.yml)"
deploy/prometheus/prometheus.sh start

step "Sample orders from deploy/demo-orders.jsonl, submitted by s4-clerk"
$QM order submit --file deploy/demo-orders.jsonl --as s4-clerk

step "Waiting for the parser (about 15 s per order on 2 cores) and the planner"
plan=$($QM plans wait --status pending --timeout "${QM_DEMO_TIMEOUT:-900}")
$QM plans show "$plan"

needed=$($QM plans show "$plan" --json | .venv/bin/python -c \
  'import json,sys; d=json.load(sys.stdin); print(d["needed"])')
step "Plan $plan is waiting for human approval"
echo "Approve it (signs the plan hash with duty-officer's Ed25519 key; the gate verifies and releases):"
echo "  .venv/bin/qm plans approve $plan --as duty-officer --reason \"routes checked\""
if [[ "$needed" -ge 2 ]]; then
    echo "This plan is high-risk and needs a second, distinct approver:"
    echo "  .venv/bin/qm plans approve $plan --as second-officer --reason \"second check\""
fi
echo "Or reject it:  .venv/bin/qm plans reject $plan --as duty-officer --reason \"…\""
echo "Then:          .venv/bin/qm plans show $plan      (status, approvers, release)"
echo "Watch it:      $(deploy/prometheus/prometheus.sh url)   (Alerts tab; .venv/bin/qm status)"
echo "Stop everything: make down"
