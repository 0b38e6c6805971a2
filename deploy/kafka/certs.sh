#!/bin/sh
# TLS material for the SASL_SSL broker, made once with Java's keytool (no openssl needed: keytool
# is wherever Kafka runs, including the apache/kafka image used by compose's `certs` service).
#
# Usage: deploy/kafka/certs.sh DIR [DNS_NAME ...]
#   Creates in DIR, unless DIR/broker.p12 and DIR/ca.pem already exist (then it does nothing):
#     ca.p12          the local CA's key and certificate (signs the broker certificate only)
#     ca.pem          the CA certificate in PEM: what clients trust (QM_KAFKA_SSL_CAFILE)
#     broker.p12      the broker's key and certificate, SAN DNS:localhost, IP:127.0.0.1 and every
#                     DNS_NAME given (compose passes `kafka`)
#     truststore.p12  the CA certificate, for the broker's own inter-broker client
#     store.password  the password of the three PKCS12 stores (mode 600)
#
# Settings (environment):
#   QM_KAFKA_TLS_PASSWORD  the stores' password (default: 32 random hex characters)
#   QM_KAFKA_TLS_CA_DIR    also copy ca.pem there (compose: a volume the clients mount)
#   QM_KAFKA_TLS_OWNER     chown DIR's files to this uid:gid (compose: the broker's user)
#   QM_KAFKA_TLS_DAYS      validity in days (default 825)
# POSIX sh on purpose: the apache/kafka image has no bash.
set -eu

die() { printf 'certs: error: %s\n' "$*" >&2; exit 1; }
log() { printf 'certs: %s\n' "$*"; }

DIR="${1:-}"
[ -n "$DIR" ] || die "usage: $0 DIR [DNS_NAME ...] (DIR receives the CA and broker certificate)"
shift
DAYS="${QM_KAFKA_TLS_DAYS:-825}"
case "$DAYS" in '' | *[!0-9]*) die "QM_KAFKA_TLS_DAYS='$DAYS' is not a number of days; set it to e.g. 825." ;; esac

copy_ca() {
    if [ -n "${QM_KAFKA_TLS_CA_DIR:-}" ]; then
        mkdir -p "$QM_KAFKA_TLS_CA_DIR"
        cp "$DIR/ca.pem" "$QM_KAFKA_TLS_CA_DIR/ca.pem"
        chmod 644 "$QM_KAFKA_TLS_CA_DIR/ca.pem"
    fi
}

if [ -f "$DIR/broker.p12" ] && [ -f "$DIR/ca.pem" ]; then
    log "certificates already in $DIR (delete the directory for new ones)"
    copy_ca
    exit 0
fi
command -v keytool >/dev/null 2>&1 \
    || die "keytool not found on PATH; it comes with Java 17+ (e.g. apt-get install openjdk-17-jre-headless)."

san="DNS:localhost,IP:127.0.0.1"
for name in "$@"; do
    case "$name" in
        '' | *[!A-Za-z0-9.-]*) die "'$name' is not a DNS name for the certificate; use letters, digits, '.' and '-'." ;;
    esac
    san="$san,DNS:$name"
done

password="${QM_KAFKA_TLS_PASSWORD:-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')}"
[ "${#password}" -ge 6 ] || die "QM_KAFKA_TLS_PASSWORD is shorter than 6 characters, which keytool refuses; choose a longer one."

# Build in a scratch dir and move into place at the end, so a failed run leaves no half set that
# the existence check above would take for a complete one.
umask 077
mkdir -p "$DIR"
work="$(mktemp -d "$DIR/.certs.XXXXXX")"
trap 'rm -rf "$work"' EXIT
printf '%s' "$password" >"$work/store.password"

kt() { keytool "$@" -storetype PKCS12 -storepass:file "$work/store.password" >"$work/keytool.log" 2>&1 \
    || { cat "$work/keytool.log" >&2; die "keytool $1 failed (output above); fix the cause and re-run '$0 $DIR'."; }; }

kt -genkeypair -keystore "$work/ca.p12" -alias ca -keyalg RSA -keysize 3072 -validity "$DAYS" \
    -dname "CN=Quartermaster local Kafka CA" -ext bc:c=ca:true -ext ku:c=keyCertSign,cRLSign
kt -exportcert -keystore "$work/ca.p12" -alias ca -rfc -file "$work/ca.pem"
kt -genkeypair -keystore "$work/broker.p12" -alias broker -keyalg RSA -keysize 2048 \
    -validity "$DAYS" -dname "CN=${1:-localhost}"
kt -certreq -keystore "$work/broker.p12" -alias broker -file "$work/broker.csr"
kt -gencert -keystore "$work/ca.p12" -alias ca -infile "$work/broker.csr" -outfile "$work/broker.pem" \
    -rfc -validity "$DAYS" -ext "san=$san" -ext ku:c=digitalSignature,keyEncipherment \
    -ext eku=serverAuth,clientAuth
# The broker's key entry holds the chain: its certificate, then the CA's.
kt -importcert -keystore "$work/broker.p12" -alias ca -file "$work/ca.pem" -noprompt
kt -importcert -keystore "$work/broker.p12" -alias broker -file "$work/broker.pem"
kt -importcert -keystore "$work/truststore.p12" -alias ca -file "$work/ca.pem" -noprompt

chmod 644 "$work/ca.pem"
for f in ca.p12 broker.p12 truststore.p12 store.password ca.pem; do
    mv "$work/$f" "$DIR/$f"
done
if [ -n "${QM_KAFKA_TLS_OWNER:-}" ]; then
    chown "$QM_KAFKA_TLS_OWNER" "$DIR" "$DIR/ca.p12" "$DIR/broker.p12" "$DIR/truststore.p12" \
        "$DIR/store.password" "$DIR/ca.pem"
fi
copy_ca
log "made a local CA and a broker certificate for $san in $DIR (valid $DAYS days)"
