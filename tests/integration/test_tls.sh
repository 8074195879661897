#!/usr/bin/env bash
# TLS and SASL end to end: a real Kafka broker of this test's own with a
# SASL_SSL listener (a certificate made here, SASL/PLAIN users), kcat and
# micromoment both over it. The password never shows in micromoment's logs
# (debug level, librdkafka's security debugging on) nor in --print-config.
# The development broker has no TLS, so this runs in the kafka half only.
source "$(dirname "$0")/lib.sh"

require_kafka "TLS (the development broker has no TLS listener)"
command -v keytool >/dev/null || skip_all "keytool (Java) is missing"

SECRET="mm-tls-$RANDOM$RANDOM-secret"
keytool -genkeypair -alias broker -keyalg RSA -keysize 2048 -validity 2 \
  -dname "CN=localhost" -ext "SAN=IP:127.0.0.1,DNS:localhost" \
  -keystore "$WORK/broker.p12" -storetype PKCS12 -storepass changeit -keypass changeit \
  >/dev/null 2>&1
keytool -exportcert -rfc -alias broker -keystore "$WORK/broker.p12" -storepass changeit \
  -file "$WORK/ca.pem" >/dev/null 2>&1
check "a certificate for 127.0.0.1 is made" test -s "$WORK/ca.pem"

TLS_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export MM_KAFKA_PROPS="listeners=PLAINTEXT://127.0.0.1:@PORT@,CONTROLLER://127.0.0.1:@CONTROLLER_PORT@,SASL_SSL://127.0.0.1:$TLS_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:@PORT@,SASL_SSL://127.0.0.1:$TLS_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL
sasl.enabled.mechanisms=PLAIN
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"admin\" password=\"admin-pw\" user_admin=\"admin-pw\" user_mm=\"$SECRET\";
ssl.keystore.location=$WORK/broker.p12
ssl.keystore.type=PKCS12
ssl.keystore.password=changeit
ssl.key.password=changeit"
start_own_kafka
unset MM_KAFKA_PROPS
create_topics "$T_EVENTS:2" "$T_MOMENTS:2" "$T_DLQ:1" # over the plaintext listener
TLS="127.0.0.1:$TLS_PORT"
log "SASL_SSL listener at $TLS (plaintext at $BOOTSTRAP)"

secure=(-X security.protocol=SASL_SSL -X sasl.mechanisms=PLAIN -X sasl.username=mm
        -X "sasl.password=$SECRET" -X "ssl.ca.location=$WORK/ca.pem")
BOOTSTRAP=$TLS
kcat_secure() { kcat -b "$TLS" "${secure[@]}" "$@"; }

check "kcat reaches the broker over SASL_SSL" bash -c "$(declare -p secure TLS); kcat -b \"\$TLS\" \"\${secure[@]}\" -L -m 20 >/dev/null 2>&1"
bad=(-X security.protocol=SASL_SSL -X sasl.mechanisms=PLAIN -X sasl.username=mm
     -X sasl.password=wrong -X "ssl.ca.location=$WORK/ca.pem")
check "a wrong password is refused" bash -c "! kcat -b '$TLS' $(printf '%q ' "${bad[@]}") -L -m 10 >/dev/null 2>&1"

"$MM_BIN" gen --events 2000 --users 300 --seed 5 --keyed >"$WORK/gen.tsv"
kcat_secure -P -t "$T_EVENTS" -K $'\t' -z none -l "$WORK/gen.tsv"

"$MM_BIN" run -b "$TLS" "${secure[@]}" -g "$RUN_ID-tls" -i "$T_EVENTS" -o "$T_MOMENTS" \
  -X mm.dlq.topic="$T_DLQ" -X mm.metrics.listen=127.0.0.1:0 -X mm.log.level=debug \
  -X debug=security,broker,protocol -X session.timeout.ms=6000 --exit-on-eof \
  2>"$WORK/run.err" &
run_pid=$!
code=0
wait_for 120 bash -c "! kill -0 $run_pid 2>/dev/null" || { kill -9 $run_pid; code=124; }
[ "$code" = 124 ] || { wait $run_pid || code=$?; }
check_eq "run over SASL_SSL exits 0" 0 "$code"

cut -f2- "$WORK/gen.tsv" | "$MM_BIN" classify 2>/dev/null | wc -l >"$WORK/offline.count"
got=$(kcat_secure -C -t "$T_MOMENTS" -o beginning -e -q -u 2>/dev/null | wc -l)
echo "counts: sent=2000 moments=$got offline=$(cat "$WORK/offline.count")"
check_eq "every moment arrives over TLS" "$(cat "$WORK/offline.count")" "$got"
check "the logs show a TLS handshake" grep -qi "ssl\|tls" "$WORK/run.err"
check "the password never appears in the logs" bash -c "! grep -qF '$SECRET' '$WORK/run.err'"
"$MM_BIN" run -b "$TLS" "${secure[@]}" --print-config >"$WORK/config.txt" 2>&1
check "print-config masks the password" grep -q 'sasl.password=\[masked\]' "$WORK/config.txt"
check "print-config never shows the password" bash -c "! grep -qF '$SECRET' '$WORK/config.txt'"

finish
