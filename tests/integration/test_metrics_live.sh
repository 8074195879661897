#!/usr/bin/env bash
# The metrics endpoint of a live `run` against the development broker with 3
# brokers:
#  1. the exposition is one series per name and label set (Prometheus drops a
#     scrape with a duplicate), `promtool check metrics` accepts it, and
#     mm_kafka_broker_rtt_seconds has one series per broker node id;
#  2. /healthz and /readyz answer within 1 s while 100 slow or idle
#     connections are open (half send a header line every 3 s, half nothing)
#     and while 2,000 clients fetch /metrics at once.
# Development broker only: the endpoint does not depend on the broker kind.
source "$(dirname "$0")/lib.sh"
is_mock || skip_all "the metrics endpoint does not depend on the broker; it runs in integration.mock.$TEST_NAME"
command -v promtool >/dev/null ||
  { check "promtool is installed (make deps-test installs it)" false; finish; }

start_broker --brokers 3 --topic "$T_EVENTS:6" --topic "$T_MOMENTS:6" --topic "$T_DLQ:1"
"$MM_BIN" gen --events 2000 --users 200 --seed 5 --keyed >"$WORK/events.tsv"
produce_keyed "$T_EVENTS" "$WORK/events.tsv"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL="http://127.0.0.1:$PORT"
"$MM_BIN" run -b "$BOOTSTRAP" -g "$RUN_ID-metrics" -i "$T_EVENTS" -o "$T_MOMENTS" \
  -X mm.dlq.topic="$T_DLQ" -X session.timeout.ms=6000 -X mm.metrics.listen="127.0.0.1:$PORT" \
  -X statistics.interval.ms=500 2>"$WORK/run.log" &
RUN=$!

scrape() { # scrape FILE: GET /metrics (python: curl is not in a minimal Debian)
  python3 -c 'import sys, urllib.request
open(sys.argv[2], "wb").write(urllib.request.urlopen(sys.argv[1] + "/metrics", timeout=5).read())' "$URL" "$1" 2>/dev/null
}
# Round-trip times of all three brokers (the consumer talks to each leader).
rtt_series_3() { scrape "$WORK/metrics.txt" && [ "$(grep -c '^mm_kafka_broker_rtt_seconds{' "$WORK/metrics.txt")" -ge 3 ]; }
wait_for 60 rtt_series_3 || true
scrape "$WORK/metrics.txt" || true
python3 - "$WORK/metrics.txt" <<'PY' >"$WORK/series.verdict"
import re, sys, collections
seen = collections.Counter()
rtt_ids = collections.Counter()
for line in open(sys.argv[1]):
    if line.startswith("#") or not line.strip():
        continue
    series = line.rsplit(" ", 1)[0]
    seen[series] += 1
    m = re.match(r'mm_kafka_broker_rtt_seconds\{(.*)\}', series)
    if m:
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
        rtt_ids[(labels.get("client"), labels.get("broker_id"))] += 1
dups = [s for s, n in seen.items() if n > 1]
print("series=%d" % len(seen))
print("duplicates=%d" % len(dups))
for s in dups[:5]:
    print("duplicate: " + s, file=sys.stderr)
print("rtt_brokers=%d" % len(rtt_ids))
print("rtt_all_by_id=%s" % all(cid[1] is not None for cid in rtt_ids))
PY
sv() { sed -n "s/^$1=//p" "$WORK/series.verdict"; }
log "exposition: $(sv series) series, $(sv rtt_brokers) broker round-trip series"
check_eq "no series appears twice in the exposition" 0 "$(sv duplicates)"
check_eq "one round-trip series per broker of the three" 3 "$(sv rtt_brokers)"
check_eq "labelled by broker node id" True "$(sv rtt_all_by_id)"
check "promtool check metrics accepts the exposition" \
  bash -c "promtool check metrics <'$WORK/metrics.txt' >'$WORK/promtool.out' 2>&1 || { cat '$WORK/promtool.out' >&2; false; }"

# 2. Health checks under slow and many clients.
python3 - "$PORT" <<'PY' >"$WORK/load.verdict" 2>"$WORK/load.err"
# The load runs in asyncio; the probes in a process of their own with
# blocking sockets, so what they measure is the server, not this loop.
import asyncio, multiprocessing, resource, socket, sys, time
port = int(sys.argv[1])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))

def probe_once(path):
    t0 = time.monotonic()
    status = 0
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=1.0)
        s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path.encode())
        data = b""
        while True:
            left = 1.0 - (time.monotonic() - t0)
            if left <= 0:
                raise TimeoutError
            s.settimeout(left)
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.") else 0
    except Exception:
        status = 0
    return path, status, time.monotonic() - t0

def prober(stop, out):
    res = []
    while not stop.is_set():
        for path in ("/healthz", "/readyz"):
            res.append(probe_once(path))
        time.sleep(0.05)
    out.put(res)

def with_probes(coro_fn):
    stop, out = multiprocessing.Event(), multiprocessing.Queue()
    p = multiprocessing.Process(target=prober, args=(stop, out))
    p.start()
    extra = asyncio.run(coro_fn())
    stop.set()
    res = out.get()
    p.join()
    return res, extra

async def get(path, timeout):
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
        w.write(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path.encode())
        data = await asyncio.wait_for(r.read(), timeout)
        w.close()
        return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.") else 0
    except Exception:
        return 0

async def slow_client(until, talk):
    try:
        r, w = await asyncio.open_connection("127.0.0.1", port)
        if talk:
            w.write(b"GET /metrics HTTP/1.1\r\n")
        while time.monotonic() < until:
            await asyncio.sleep(3)
            if talk:
                w.write(b"X-Slow: 1\r\n")
                await w.drain()
        w.close()
    except Exception:
        pass

async def slow_phase():
    # 100 slow or idle connections for 15 s (past the 10 s idle timeout)
    until = time.monotonic() + 15
    await asyncio.gather(*[slow_client(until, i % 2 == 0) for i in range(100)])

async def flood_phase():
    await asyncio.sleep(0.5)  # the prober is running
    t0 = time.monotonic()
    done = await asyncio.gather(*[get("/metrics", 60) for _ in range(2000)])
    await asyncio.sleep(0.5)
    return sum(1 for s in done if s == 200), time.monotonic() - t0

def verdict(label, results):
    answered = [t for _, s, t in results if s in (200, 503) and t <= 1.0]
    worst = max((t for _, _, t in results), default=0)
    print("%s_probes=%d" % (label, len(results)))
    print("%s_unanswered=%d" % (label, len(results) - len(answered)))
    print("%s_worst_ms=%d" % (label, worst * 1000))

res, _ = with_probes(slow_phase)
verdict("slow", res)
res, (ok, secs) = with_probes(flood_phase)
verdict("flood", res)
print("flood_metrics_ok=%d" % ok)
print("flood_seconds=%.1f" % secs)
PY
cat "$WORK/load.err" >&2
lv() { sed -n "s/^$1=//p" "$WORK/load.verdict"; }
log "slow clients: $(lv slow_probes) probes, worst $(lv slow_worst_ms) ms; 2,000 scrapes: $(lv flood_metrics_ok) ok in $(lv flood_seconds) s, $(lv flood_probes) probes, worst $(lv flood_worst_ms) ms"
check "probes were made during the slow clients" test "$(lv slow_probes)" -ge 20
check_eq "every /healthz and /readyz answered within 1 s beside 100 slow connections" 0 "$(lv slow_unanswered)"
check "probes were made during the 2,000 scrapes" test "$(lv flood_probes)" -ge 2
check_eq "every /healthz and /readyz answered within 1 s during 2,000 scrapes" 0 "$(lv flood_unanswered)"
check_eq "every one of the 2,000 scrapes was served" 2000 "$(lv flood_metrics_ok)"

kill -TERM "$RUN" 2>/dev/null || true
code=0; wait "$RUN" || code=$?
check_eq "the run still stops cleanly" 0 "$code"
finish
