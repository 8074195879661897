#!/usr/bin/env python3
"""Helpers of bench/run.sh: parse tool output into JSON, print progress lines,
and at the end merge the fragments into latest.json, a table and a chart.

  report.py mmlog LOG START_EPOCH        a `micromoment run` or Kafka Streams reference log
                                         (+ /usr/bin/time) -> JSON
  report.py timed TIME_FILE RECORDS      /usr/bin/time's line of a relay round -> JSON
  report.py brief JSON                   one progress line for an e2e round
  report.py brief-classifier < JSONL     progress lines for bench_classifier output
  report.py brief-latency JSON           one progress line for bench_latency output
  report.py alloc LOG_HALF LOG_FULL JSON_HALF JSON_FULL   jemalloc stats -> JSON
  report.py brief-alloc FILE | brief-kafka FILE
  report.py kafkaperf PRODUCER_OUT CONSUMER_OUT [WHY_NO_STREAMS]   Kafka's perf tools -> JSON
  report.py expect JSON SIZE            the records a run must have produced (its moments, or
                                         for the relay its records); exit 1 unless it read SIZE
  report.py peak E2E_JSONL               median micromoment records/s (processing)
  report.py final OUTDIR                 latest.json, report.txt, latest.png
"""
import datetime
import json
import os
import re
import shutil
import statistics
import subprocess
import sys

TARGETS = {
    # issue 17, on real Kafka unless said otherwise; every figure a ratio within one run
    "kafka_wall_vs_relay": 1.0,     # kcat relay wall / micromoment wall, >=
    "kafka_cpu_vs_relay": 2.0,      # micromoment CPU per event / the relay's, <=
    "eos_vs_alos": 0.8,             # micromoment exactly-once / at-least-once throughput, >=
    "classifier_eps_1m": 2.0e6,     # events/s per core at 1M users, >=
    "cost_ratio_10m": 1.5,          # ns/event 10M users / 10k users, <=
    "p99_half_vs_hop": 3.0,         # p99 at half the peak / one hop's p99 at that rate, <=
    "vs_streams": 1.0,              # Kafka Streams reference wall / micromoment wall, >=
    # earlier targets (issue 6)
    "e2e_ratio": 1.0,               # micromoment / kcat relay records/s, dev broker, >=
    "p99_half_ms": 5.0,             # p99 at 50 % of peak, <=
    "state_bytes": 200,             # bytes of state per tracked user, <=
}
# Sizes of the kafka section's runs (run.sh's KAFKA_SIZES; QUICK runs the first only).
KAFKA_SIZES = (300000, 1000000)
SYSTEMS = (("kcat", "kcat relay (group)"), ("micromoment", "micromoment"),
           ("streams", "Kafka Streams reference"))


def iso_epoch(s):
    return datetime.datetime.strptime(s.rstrip("Z"), "%Y-%m-%dT%H:%M:%S.%f").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def parse_time(line, d):
    """/usr/bin/time -f 'TIME %e %U %S %M': wall, user, system seconds, max RSS kB."""
    m = re.match(r"TIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)", line)
    if m:
        d["wall_s"] = float(m.group(1))
        d["user_s"] = float(m.group(2))
        d["sys_s"] = float(m.group(3))
        d["max_rss_kb"] = int(m.group(4))
    return bool(m)


def timed(path, records):
    d = {"records": int(records)}
    for line in open(path, errors="replace"):
        parse_time(line, d)
    return d


def mmlog(path, start):
    start = float(start)
    d = {"records": None, "moments": None, "dlq": None}
    first_assign = last_line = None
    for line in open(path, errors="replace"):
        m = re.match(r"(\d{4}-\d\d-\d\dT[\d:.]+Z) ", line)
        if m:
            last_line = iso_epoch(m.group(1))
            if first_assign is None and " assigned " in line:
                first_assign = last_line
        m = re.search(r"records (\d+), moments know (\d+) go (\d+) do (\d+) buy (\d+), "
                      r"dead letters (\d+)", line)
        if m:
            v = [int(x) for x in m.groups()]
            d["records"] = v[0]
            d["moments_by_type"] = dict(zip(("know", "go", "do", "buy"), v[1:5]))
            d["moments"] = sum(v[1:5])
            d["dlq"] = v[5]
        parse_time(line, d)
    if first_assign is not None:
        # Time to the first assignment: start-up, plus the group join when it joins one
        # (~3 s on the development broker; named partitions join none).
        d["join_s"] = round(max(0.0, first_assign - start), 3)
        d["processing_s"] = round(d["wall_s"] - d["join_s"], 3)
    return d


def rate(d, key="wall_s"):
    return d["records"] / d[key] if d.get(key) and d.get("records") else 0.0


def brief(d):
    s = "%.2f s, %s records, %.0f records/s" % (d["wall_s"], d["records"], rate(d))
    if d.get("join_s", 0) >= 0.5:
        s += " (%.0f/s after %.1f s to its first assignment)" % (rate(d, "processing_s"),
                                                                 d["join_s"])
    if d.get("moments") is not None:
        s += ", moments %d, dlq %d" % (d["moments"], d["dlq"])
    if d.get("max_rss_kb"):
        s += ", cpu %.1f+%.1f s, rss %d MB" % (d["user_s"], d["sys_s"], d["max_rss_kb"] // 1024)
    return s


def brief_classifier(line):
    d = json.loads(line)
    return ("    %9d users: %5.0f ns/event (median of passes %.0f), %.2fM events/s, tracked %d, "
            "state %d B/user, rss %.0f B/tracked user"
            % (d["users"], d["ns_per_event"], d.get("ns_per_event_median", 0),
               d["events_per_s"] / 1e6, d["tracked_users"], d["state_bytes_per_user"],
               d["rss_bytes_per_tracked_user"]))


def brief_latency(d):
    return ("achieved %.0f/s, %d measured, p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.1f ms"
            % (d["rate_achieved"], d["measured"], d["p50_us"] / 1e3, d["p99_us"] / 1e3,
               d["p999_us"] / 1e3, d["max_us"] / 1e3))


def jemalloc_totals(path):
    """First 'total:' row of jemalloc's stats (merged arenas when there are several)."""
    for line in open(path, errors="replace"):
        if line.startswith("total:"):
            f = line.split()
            return {"allocated": int(f[1]), "nmalloc": int(f[2]), "ndalloc": int(f[4]),
                    "nrequests": int(f[6])}
    return None


def alloc(log1, log2, j1, j2):
    a, b = jemalloc_totals(log1), jemalloc_totals(log2)
    r1, r2 = json.loads(j1), json.loads(j2)
    out = {"half": {"records": r1["records"], "jemalloc": a},
           "full": {"records": r2["records"], "jemalloc": b}}
    if a and b and r2["records"] > r1["records"]:
        dn = r2["records"] - r1["records"]
        out["nmalloc_per_event"] = (b["nmalloc"] - a["nmalloc"]) / dn
        out["nrequests_per_event"] = (b["nrequests"] - a["nrequests"]) / dn
    return out


def kafkaperf(pfile, cfile, streams_skipped=""):
    out = {"skipped": False}
    if streams_skipped:
        out["streams_skipped"] = streams_skipped
    txt = open(pfile, errors="replace").read()
    m = re.findall(r"(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\), "
                   r"([\d.]+) ms avg latency, ([\d.]+) ms max latency", txt)
    if m:
        last = m[-1]
        out["producer_perf"] = {"records": int(last[0]), "records_per_s": float(last[1]),
                                "mb_per_s": float(last[2]), "avg_latency_ms": float(last[3])}
    else:
        out["producer_perf_error"] = txt.strip().splitlines()[-3:]
    lines = [l for l in open(cfile, errors="replace").read().splitlines() if l.strip()]
    hdr = next((i for i, l in enumerate(lines) if "nMsg.sec" in l), None)
    if hdr is not None and hdr + 1 < len(lines):
        keys = [k.strip() for k in lines[hdr].split(",")]
        vals = [v.strip() for v in lines[hdr + 1].split(",")]
        row = dict(zip(keys, vals))
        out["consumer_perf"] = {"records": int(float(row.get("data.consumed.in.nMsg", 0))),
                                "records_per_s": float(row.get("nMsg.sec", 0)),
                                "mb_per_s": float(row.get("MB.sec", 0))}
    else:
        out["consumer_perf_error"] = lines[-3:]
    return out


def load_jsonl(path):
    if not os.path.exists(path):
        return []
    return [json.loads(l) for l in open(path) if l.strip()]


def load_json(path):
    return json.load(open(path)) if os.path.exists(path) else None


def median_rates(rows, tool, key="wall_s"):
    return [rate(r, key) for r in rows if r["tool"] == tool and r.get("records")]


def peak(path):
    """Median micromoment records/s after its start-up, at-least-once, the largest size run."""
    rows = [r for r in load_jsonl(path) if r.get("mode", "alos") == "alos"]
    if any("size" in r for r in rows):
        big = max(r.get("size", 0) for r in rows)
        rows = [r for r in rows if r.get("size") == big]
    rs = median_rates(rows, "micromoment", "processing_s") or median_rates(rows, "micromoment")
    print(int(statistics.median(rs)) if rs else 50000)


def compare(rows):
    if not rows:
        return None
    mm, kc = median_rates(rows, "micromoment"), median_rates(rows, "kcat")
    mmp = median_rates(rows, "micromoment", "processing_s")
    mom = sorted({r.get("moments") for r in rows if r["tool"] == "micromoment"})
    dlq = sorted({r.get("dlq") for r in rows if r["tool"] == "micromoment"})
    recs = sorted({r.get("records") for r in rows})
    out = {"rounds": max(r["round"] for r in rows),
           "micromoment_records_per_s": [round(x) for x in mm],
           "kcat_records_per_s": [round(x) for x in kc],
           "micromoment_median": round(statistics.median(mm)) if mm else None,
           "kcat_median": round(statistics.median(kc)) if kc else None,
           "micromoment_after_join_median": round(statistics.median(mmp)) if mmp else None,
           "join_s_median": statistics.median([r["join_s"] for r in rows if "join_s" in r])
           if any("join_s" in r for r in rows) else None,
           "moments_per_round": mom, "dlq_per_round": dlq, "records_per_round": recs,
           "moments_equal_across_rounds": len(mom) == 1}
    if mm and kc:
        out["ratio"] = round(out["micromoment_median"] / out["kcat_median"], 3)
    if mmp and kc:
        out["ratio_after_join"] = round(out["micromoment_after_join_median"] / out["kcat_median"], 3)
    return out


def cpu_us(d):
    """CPU (user + system) per input record, microseconds."""
    if d.get("user_s") is None or not d.get("records"):
        return None
    return (d["user_s"] + d["sys_s"]) / d["records"] * 1e6


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def kafka_summary(rows):
    """Per (size, mode, tool): medians of the rounds. Size and mode come from the rows
    (a row without them is from before the Kafka Streams reference: one size, at-least-once)."""
    out = {}
    for r in rows:
        key = (r.get("size") or r.get("records"), r.get("mode", "alos"))
        out.setdefault(key, {}).setdefault(r["tool"], []).append(r)
    summ = {}
    for (size, mode), tools in out.items():
        g = summ.setdefault("%d/%s" % (size, mode), {"size": size, "mode": mode, "tools": {}})
        for tool, rs in tools.items():
            wall = med([x.get("wall_s") for x in rs])
            recs = med([x.get("records") for x in rs])
            cpu = med([cpu_us(x) for x in rs])
            g["tools"][tool] = {
                "rounds": len(rs), "wall_s": [x.get("wall_s") for x in rs],
                "wall_s_median": wall,
                "records_per_s": round(recs / wall) if wall and recs else None,
                "records_per_s_rounds": [round(rate(x)) for x in rs],
                "cpu_us_per_event_median": round(cpu, 2) if cpu is not None else None,
                "cpu_s": [round(x["user_s"] + x["sys_s"], 2) for x in rs if "user_s" in x],
                "max_rss_mb": max((x.get("max_rss_kb", 0) for x in rs)) // 1024,
                "join_s_median": med([x.get("join_s") for x in rs]),
                "records": sorted({x.get("records") for x in rs}),
                "moments": sorted({x.get("moments") for x in rs if x.get("moments") is not None})}
    for g in summ.values():
        # the relay has no exactly-once mode: both modes of a size are set against its
        # at-least-once rounds
        relay = summ.get("%d/alos" % g["size"], {"tools": {}})["tools"].get("kcat")
        for t in g["tools"].values():
            if relay and relay["wall_s_median"] and t["wall_s_median"]:
                t["relay_wall_ratio"] = round(relay["wall_s_median"] / t["wall_s_median"], 3)
    return summ


def size_name(n):
    return "%dk" % (n // 1000) if n < 1000000 else "%gM" % (n / 1e6)


def add_target(T, key, label, value, op, limit, baseline, why=None, **extra):
    """One target: its figure, the same-run baseline it is measured against, the verdict."""
    t = {"label": label, "value": None if value is None else round(value, 3), "op": op,
         "target": limit, "baseline": baseline}
    if value is None:
        t.update(met=None, verdict="not measured" + (" (%s)" % why if why else ""))
    else:
        t["met"] = value >= limit if op == ">=" else value <= limit
        if t["met"]:
            t["verdict"] = "met"
        elif op == ">=":
            t["verdict"] = "MISSED, %.0f %% short" % ((limit - value) / limit * 100)
        elif value < 2 * limit:
            t["verdict"] = "MISSED, %.0f %% over" % ((value - limit) / limit * 100)
        else:
            t["verdict"] = "MISSED, %.1fx the limit" % (value / limit)
    t.update(extra)
    T[key] = t


def final(outdir):
    meta = load_json(os.path.join(outdir, "meta.json")) or {}
    cl = load_jsonl(os.path.join(outdir, "classifier.jsonl"))
    e2e_rows = load_jsonl(os.path.join(outdir, "e2e.jsonl"))
    lat = load_jsonl(os.path.join(outdir, "latency.jsonl"))
    kafka_rows = load_jsonl(os.path.join(outdir, "kafka.jsonl"))
    kafka = load_json(os.path.join(outdir, "kafka.json"))
    allocs = load_json(os.path.join(outdir, "alloc.json"))
    dflt = load_json(os.path.join(outdir, "e2e_default.json"))
    group = load_json(os.path.join(outdir, "e2e_group.json"))
    prof = None
    if os.path.exists(os.path.join(outdir, "profile.txt")):
        prof = open(os.path.join(outdir, "profile.txt")).read().splitlines()[:25]

    res = {"meta": meta, "targets": {}, "earlier_targets": {}, "classifier": cl,
           "e2e": compare(e2e_rows), "e2e_rounds": e2e_rows, "e2e_default_state_sizing": dflt,
           "e2e_group": group, "latency": lat, "alloc": allocs, "kafka": None,
           "kafka_rounds": kafka_rows, "profile_top": prof}
    T, E = res["targets"], res["earlier_targets"]
    L = []
    p = L.append
    p("micromoment bench, %s, %s cores (%s), load average %s at start, %s at end%s"
      % (meta.get("date"), meta.get("cores"), meta.get("cpu"), meta.get("loadavg_start"),
         meta.get("loadavg_end"), ", QUICK" if meta.get("quick") else ""))
    by = {}
    if cl:
        p("")
        p("classifier alone (one core, in memory, Zipf 0.8, table pre-filled with every user; "
          "fastest of 5 timed passes, median beside it)")
        p("  %10s %10s %10s %10s %12s %10s %12s" % ("users", "tracked", "ns/event", "median",
                                                    "events/s", "state B", "rss B/user"))
        for d in cl:
            p("  %10d %10d %10.0f %10.0f %12.0f %10d %12.1f" % (
                d["users"], d["tracked_users"], d["ns_per_event"],
                d.get("ns_per_event_median", d["ns_per_event"]), d["events_per_s"],
                d["state_bytes_per_user"], d["rss_bytes_per_tracked_user"]))
        by = {d["users"]: d for d in cl}
        if 10000 in by and 10000000 in by:
            p("  cost per event 10M/10k users: %.2fx"
              % (by[10000000]["ns_per_event"] / by[10000]["ns_per_event"]))
        big = max(cl, key=lambda d: d["tracked_users"])
        add_target(E, "state_bytes_per_user", "<= 200 bytes of state per tracked user",
                   big["state_bytes_per_user"], "<=", TARGETS["state_bytes"],
                   "RSS %.0f B per tracked user at %d users" % (big["rss_bytes_per_tracked_user"],
                                                               big["tracked_users"]))
    e = res["e2e"]
    if e:
        p("")
        p("end to end, development broker, %s records (wall time incl. start-up; micromoment "
          "reads the partitions by name, as kcat -C does)" % (e["records_per_round"] or ["?"])[0])
        p("  round  micromoment rec/s  kcat relay rec/s   moments    dlq")
        for i in range(e["rounds"]):
            mm = [r for r in e2e_rows if r["tool"] == "micromoment" and r["round"] == i + 1]
            kc = [r for r in e2e_rows if r["tool"] == "kcat" and r["round"] == i + 1]
            p("  %5d %18s %17s %9s %6s" % (
                i + 1, "%.0f" % rate(mm[0]) if mm else "-", "%.0f" % rate(kc[0]) if kc else "-",
                mm[0].get("moments") if mm else "-", mm[0].get("dlq") if mm else "-"))
        p("  median: micromoment %s rec/s, kcat %s rec/s, ratio %.2fx (target >= 1.0x)"
          % (e["micromoment_median"], e["kcat_median"], e.get("ratio", 0)))
        p("  moments equal across rounds: %s %s" % (e["moments_equal_across_rounds"],
                                                   e["moments_per_round"]))
        add_target(E, "e2e_vs_kcat", "end to end >= 1.0x kcat relay (dev broker)", e.get("ratio"),
                   ">=", TARGETS["e2e_ratio"], "kcat relay %s rec/s" % e["kcat_median"])
        if group:
            p("  as a group member (-i events): %.2f s, %.0f rec/s wall, %.2fx kcat; %.0f rec/s "
              "after the %.1f s group join" % (group["wall_s"], rate(group),
                                              rate(group) / e["kcat_median"] if e["kcat_median"]
                                              else 0, rate(group, "processing_s"),
                                              group.get("join_s", 0)))
        if dflt:
            p("  default state sizing (200k users/partition x %s): %.2f s, %.0f rec/s, rss %d MB"
              % ("128", dflt["wall_s"], rate(dflt), dflt.get("max_rss_kb", 0) // 1024))
    if allocs and allocs.get("nrequests_per_event") is not None:
        p("")
        p("allocations (jemalloc, run of %d vs %d records): %.2f malloc requests per event "
          "(%.3f arena nmalloc per event)" % (allocs["half"]["records"], allocs["full"]["records"],
                                              allocs["nrequests_per_event"],
                                              allocs["nmalloc_per_event"]))
    if lat:
        p("")
        p("latency: send -> arrival at a consumer (dev = development broker, kafka = real Kafka; "
          "hop = one hop, the floor; linger.ms=%s)" % lat[0].get("linger_ms", "?"))
        p("  %-6s %-12s %4s %9s %9s %9s %9s %9s %9s" % ("broker", "tool", "%", "target/s", "got/s",
                                                       "p50 ms", "p99 ms", "p99.9 ms", "n"))
        for d in lat:
            p("  %-6s %-12s %4s %9.0f %9.0f %9.2f %9.2f %9.2f %9d" % (
                d.get("broker", "dev"), d["tool"], d["pct"] or "low", d["rate_target"],
                d["rate_achieved"],
                d["p50_us"] / 1e3, d["p99_us"] / 1e3, d["p999_us"] / 1e3, d["measured"]))
    half = {}  # (broker, tool) -> the run at 50 % of the peak
    for d in lat:
        if d["pct"] == 50:
            half[(d.get("broker", "dev"), d["tool"])] = d
    for br in ("dev", "kafka"):
        m = half.get((br, "micromoment"))
        if m:
            kc, hop = half.get((br, "kcat")), half.get((br, "hop"))
            add_target(E, "p99_at_half_peak_ms_" + br, "p99 <= 5 ms at half peak (%s)" % br,
                       m["p99_us"] / 1e3, "<=", TARGETS["p99_half_ms"],
                       "kcat relay %s ms, one hop %s ms, at %.0f/s"
                       % ("%.1f" % (kc["p99_us"] / 1e3) if kc else "-",
                          "%.1f" % (hop["p99_us"] / 1e3) if hop else "-", m["rate_target"]))

    ksum = kafka_summary(kafka_rows)
    kskip = None
    if kafka and kafka.get("skipped"):
        kskip = "real Kafka skipped: %s" % kafka.get("reason")
    elif kafka is None and not kafka_rows:
        kskip = "kafka section not run"
    if kafka is not None or kafka_rows:
        p("")
        if kskip:
            p("real Kafka: SKIPPED (%s)" % kafka.get("reason"))
            res["kafka"] = kafka
        else:
            k = dict(kafka or {})
            k["summary"] = ksum
            res["kafka"] = k
            p("real Kafka 4.3.1 (single node, 32 partitions): same preloaded input for every "
              "system, a fresh group and output topic per run, wall = process start to exit, "
              "CPU = user + system of the process(es); medians of the rounds")
            if k.get("streams_skipped"):
                p("  Kafka Streams reference: NOT RUN (%s)" % k["streams_skipped"])
            for key in sorted(ksum, key=lambda x: (ksum[x]["size"], ksum[x]["mode"])):
                g = ksum[key]
                p("  %s records, %s:" % ("{:,}".format(g["size"]),
                                         "at-least-once" if g["mode"] == "alos"
                                         else "exactly-once (exactly_once_v2 for Kafka Streams)"))
                p("    %-26s %6s %8s %9s %12s %9s %8s %7s %s" % (
                    "system", "rounds", "wall s", "rec/s", "relay/system", "CPU us/ev", "moments",
                    "RSS MB", "wall per round"))
                for tool, label in SYSTEMS:
                    t = g["tools"].get(tool)
                    if not t:
                        continue
                    p("    %-26s %6d %8.2f %9s %12s %9s %8s %7d %s" % (
                        label, t["rounds"], t["wall_s_median"], t["records_per_s"],
                        "%.2f" % t["relay_wall_ratio"] if "relay_wall_ratio" in t else "-",
                        "%.2f" % t["cpu_us_per_event_median"]
                        if t["cpu_us_per_event_median"] is not None else "-",
                        "/".join(str(x) for x in t["moments"]) or "-", t["max_rss_mb"],
                        " ".join("%.2f" % w for w in t["wall_s"])))
            # Kafka's own tools ran on the largest input: set against micromoment's rounds there
            big = [g for g in ksum.values() if g["mode"] == "alos"]
            mmbig = max(big, key=lambda g: g["size"])["tools"].get("micromoment") if big else None
            for name in ("producer_perf", "consumer_perf"):
                if k.get(name):
                    line = "  Kafka's %s: %.0f rec/s (%d records)" % (
                        name, k[name]["records_per_s"], k[name]["records"])
                    if mmbig and mmbig["records_per_s"]:
                        k[name]["micromoment_ratio"] = round(
                            mmbig["records_per_s"] / k[name]["records_per_s"], 3)
                        line += "; micromoment / it = %.2fx" % k[name]["micromoment_ratio"]
                    p(line)

    # ---- issue 17's targets, each from this run's own data
    kw = kskip or ("" if kafka_rows else "no kafka rounds")
    sizes = sorted(set(KAFKA_SIZES) | {g["size"] for g in ksum.values()})

    def tool(size, mode, name):
        g = ksum.get("%d/%s" % (size, mode))
        return g["tools"].get(name) if g else None

    swhy = (res["kafka"] or {}).get("streams_skipped")

    def why_missing(size, what):
        if kw:
            return kw
        if what == "Kafka Streams" and swhy:
            return "the reference was not run: " + swhy
        if meta.get("quick") and size != sizes[0]:
            return "QUICK runs %s only" % size_name(sizes[0])
        return "no %s rounds at %s in this run" % (what, size_name(size))

    names = {"micromoment": "micromoment", "kcat": "kcat relay", "streams": "Kafka Streams"}

    def wall_target(key, label, size, base, other, limit, what):
        """A target on base's wall / other's wall (= other's throughput / base's); base and
        other are (mode, tool) at SIZE. The baseline gives both walls and CPU per event."""
        b, o = tool(size, *base), tool(size, *other)

        def desc(mt, t):
            return "%s%s %.2f s, %s us/event" % (
                names[mt[1]], " exactly-once" if mt[0] == "eos" else "", t["wall_s_median"],
                "%.2f" % t["cpu_us_per_event_median"] if t["cpu_us_per_event_median"] else "-")
        add_target(T, key, label, b["wall_s_median"] / o["wall_s_median"] if b and o else None,
                   ">=", limit, "%s; %s" % (desc(other, o), desc(base, b)) if b and o else None,
                   why_missing(size, what))

    # the targets on two walls of one size: key, label, base (mode, tool), other, limit, what
    # must have run; the number leads the key (the list is printed by number)
    per_size = [("1_wall_vs_relay", "1. end to end, real Kafka, %s: relay wall / micromoment "
                 "wall >= 1.0", ("alos", "kcat"), ("alos", "micromoment"),
                 TARGETS["kafka_wall_vs_relay"], "micromoment and relay"),
                ("3_eos_vs_alos", "3. exactly-once / at-least-once throughput, %s >= 0.8",
                 ("alos", "micromoment"), ("eos", "micromoment"), TARGETS["eos_vs_alos"],
                 "micromoment exactly-once")]
    for mode, mname in (("alos", "at-least-once"), ("eos", "exactly-once")):
        per_size.append(("6_vs_streams_" + mode, "6. vs Kafka Streams, %s " + mname +
                         ": Streams wall / micromoment wall >= 1.0", (mode, "streams"),
                         (mode, "micromoment"), TARGETS["vs_streams"], "Kafka Streams"))
    for size in sizes:
        sn = size_name(size)
        for key, label, base, other, limit, what in per_size:
            wall_target("%s_%s" % (key, sn), label % sn, size, base, other, limit, what)
        mm, kc = tool(size, "alos", "micromoment"), tool(size, "alos", "kcat")
        ok = mm and kc and mm["cpu_us_per_event_median"] and kc["cpu_us_per_event_median"]
        add_target(T, "2_cpu_vs_relay_" + sn,
                   "2. CPU per event, real Kafka, %s: micromoment / relay <= 2.0" % sn,
                   mm["cpu_us_per_event_median"] / kc["cpu_us_per_event_median"] if ok else None,
                   "<=", TARGETS["kafka_cpu_vs_relay"],
                   "micromoment %.2f us, kcat relay %.2f us per event"
                   % (mm["cpu_us_per_event_median"], kc["cpu_us_per_event_median"]) if ok else None,
                   "no CPU figure of the relay" if mm and kc else
                   why_missing(size, "micromoment and relay"))
    cwhy = None if cl else "classifier section not run"
    c1m = by.get(1000000)
    add_target(T, "4a_classifier_eps_1m", "4. classifier alone >= 2M events/s per core at 1M users",
               c1m["events_per_s"] / 1e6 if c1m else None, ">=", TARGETS["classifier_eps_1m"] / 1e6,
               "%.0f ns/event (median pass %.0f)" % (c1m["ns_per_event"],
                                                     c1m.get("ns_per_event_median", 0))
               if c1m else None, cwhy or "no 1M-user run", unit=" M events/s")
    have = 10000 in by and 10000000 in by
    add_target(T, "4b_cost_ratio_10m_vs_10k", "4. classifier cost per event, 10M users / 10k <= 1.5",
               by[10000000]["ns_per_event"] / by[10000]["ns_per_event"] if have else None, "<=",
               TARGETS["cost_ratio_10m"],
               "%.0f / %.0f ns" % (by[10000000]["ns_per_event"], by[10000]["ns_per_event"])
               if have else None,
               cwhy or ("QUICK runs up to 1M users" if meta.get("quick") else "no 10k or 10M run"))
    m, hop = half.get(("kafka", "micromoment")), half.get(("kafka", "hop"))
    ok = m and hop and hop["p99_us"] > 0
    add_target(T, "5_p99_half_vs_hop",
               "5. p99 event->moment at half the peak, real Kafka / one hop's p99 <= 3.0",
               m["p99_us"] / hop["p99_us"] if ok else None, "<=", TARGETS["p99_half_vs_hop"],
               "micromoment %.1f ms, one hop %.1f ms, at %.0f/s"
               % (m["p99_us"] / 1e3, hop["p99_us"] / 1e3, m["rate_target"]) if ok else None,
               kw or "needs the latency and kafka sections in one run")
    # by target number, each number's entries in the order they were made (sizes ascending)
    res["targets"] = T = dict(sorted(T.items(), key=lambda kv: kv[0].split("_")[0]))
    p("")
    p("targets of issue 17 (value: the ratio or figure the target names; baseline: the same "
      "run's figures it is computed from)")
    for t in T.values():
        p("  %-80s %s" % (t["label"], t["verdict"]))
        if t["value"] is not None:
            p("  %-80s   %.2f%s; %s" % ("", t["value"], t.get("unit", "x"), t["baseline"]))
    if E:
        p("")
        p("earlier targets (issue 6)")
        for t in E.values():
            p("  %-50s %-22s %s; %s" % (t["label"], t["verdict"], "-" if t["value"] is None
                                         else "%.2f" % t["value"], t["baseline"]))
    text = "\n".join(L) + "\n"
    sys.stdout.write(text)
    open(os.path.join(outdir, "report.txt"), "w").write(text)
    json.dump(res, open(os.path.join(outdir, "latest.json"), "w"), indent=1)
    chart(outdir, e2e_rows, ksum, lat)
    print("\nwrote %s, %s, %s" % (os.path.join(outdir, "latest.json"),
                                  os.path.join(outdir, "report.txt"),
                                  os.path.join(outdir, "latest.png")))


def chart(outdir, e2e_rows, ksum, lat):
    if not shutil.which("gnuplot"):
        print("no gnuplot: no chart (apt-get install gnuplot-nox)")
        return
    # One cluster per run configuration: median records/s (wall) with the rounds' range, and
    # CPU per event; the systems side by side, 0 where a system does not run (no relay in
    # exactly-once).
    groups = []
    if e2e_rows:
        recs = sorted({r["records"] for r in e2e_rows if r.get("records")})
        tools = {}
        for r in e2e_rows:
            tools.setdefault(r["tool"], []).append(r)
        g = {}
        for name, rs in tools.items():
            rates = [rate(x) for x in rs]
            g[name] = (med(rates), min(rates), max(rates), med([cpu_us(x) for x in rs]))
        groups.append(("dev %s" % (size_name(recs[-1]) if recs else "?"), g))
    for key in sorted(ksum, key=lambda x: (ksum[x]["mode"], ksum[x]["size"])):
        s = ksum[key]
        g = {}
        for name, t in s["tools"].items():
            rates = t["records_per_s_rounds"]
            g[name] = (t["records_per_s"], min(rates), max(rates), t["cpu_us_per_event_median"])
        groups.append(("Kafka %s%s" % (size_name(s["size"]), " EOS" if s["mode"] == "eos" else ""), g))
    dat = os.path.join(outdir, "throughput.dat")
    with open(dat, "w") as f:
        f.write("# group, then per system (micromoment, kcat relay, Kafka Streams): median "
                "records/s, lowest and highest round, CPU us per event\n")
        for label, g in groups:
            cols = []
            for name, _ in (SYSTEMS[1], SYSTEMS[0], SYSTEMS[2]):
                v = g.get(name)
                cols += ["%.0f %.0f %.0f %.2f" % (v[0], v[1], v[2], v[3] or 0) if v and v[0]
                         else "0 0 0 0"]
            f.write('"%s" %s\n' % (label, " ".join(cols)))
    series = []
    for d in lat:
        br = d.get("broker", "dev")
        fn = os.path.join(outdir, "lat-%s-%s-%d.dat" % (br, d["tool"], d["pct"]))
        with open(fn, "w") as f:
            for q, us in d["quantiles"]:
                if q < 1.0:
                    f.write("%g %g\n" % (1.0 / (1.0 - q), us / 1e3))
        series.append((fn, "%s %s %s (%.0f/s)" % (br, d["tool"], "%d%%" % d["pct"] if d["pct"]
                                                   else "low", d["rate_target"])))
    png = os.path.join(outdir, "latest.png")
    names = ("micromoment", "kcat relay (kcat | kcat -P)", "Kafka Streams reference")
    gp = ['set terminal pngcairo size 2100,620' if _has_cairo() else 'set terminal png size 1900,580',
          'set output "%s"' % png, "set multiplot layout 1,3",
          "set style fill solid 0.8 border -1", "set yrange [0:*]", "set xtics rotate by -30",
          "set key below horizontal", "set grid ytics"]
    if groups:
        gp += ['set title "records/s (wall, process start to exit): median, range of the rounds"',
               "set style data histograms", "set style histogram errorbars gap 1 lw 1",
               "plot " + ", ".join('"%s" using %d:%d:%d%s title "%s"' % (
                   dat, 2 + 4 * i, 3 + 4 * i, 4 + 4 * i, ":xtic(1)" if i == 0 else "", n)
                   for i, n in enumerate(names)),
               'set title "CPU per event, user + system (us), median"',
               "set style histogram clustered gap 1",
               "plot " + ", ".join('"%s" using %d%s title "%s"' % (
                   dat, 5 + 4 * i, ":xtic(1)" if i == 0 else "", n)
                   for i, n in enumerate(names))]
    else:
        gp += ['set title "no throughput data"', "plot 0 notitle", "plot 0 notitle"]
    if series:
        gp += ["unset style", "set style data linespoints", "set logscale xy", "set xtics norotate",
               "set yrange [*:*]",
               'set title "latency: send -> arrival (ms) by percentile"',
               'set xlabel "percentile"', 'set ylabel "ms"', 'set key outside right vertical font ",8"',
               'set xtics ("50" 2, "90" 10, "99" 100, "99.9" 1000, "99.99" 10000)',
               "plot " + ", ".join('"%s" using 1:2 title "%s"' % s for s in series)]
    else:
        gp += ['set title "no latency data"', "plot 0 notitle"]
    gp.append("unset multiplot")
    r = subprocess.run(["gnuplot"], input="\n".join(gp), text=True, capture_output=True)
    if r.returncode:
        print("gnuplot failed: " + r.stderr.strip())


def _has_cairo():
    r = subprocess.run(["gnuplot", "-e", "set terminal"], capture_output=True, text=True)
    return "pngcairo" in (r.stdout + r.stderr)


def main():
    a = sys.argv[1:]
    if not a:
        sys.exit(__doc__)
    cmd = a[0]
    if cmd == "mmlog":
        print(json.dumps(mmlog(a[1], a[2])))
    elif cmd == "timed":
        print(json.dumps(timed(a[1], a[2])))
    elif cmd == "brief":
        print(brief(json.loads(a[1])))
    elif cmd == "brief-classifier":
        for line in sys.stdin:
            if line.strip():
                print(brief_classifier(line), file=sys.stderr)
    elif cmd == "brief-latency":
        print(brief_latency(json.loads(a[1])))
    elif cmd == "alloc":
        print(json.dumps(alloc(*a[1:5])))
    elif cmd == "brief-alloc":
        d = load_json(a[1])
        if d.get("nrequests_per_event") is None:
            print("  no jemalloc statistics found (is the binary linked with jemalloc?)",
                  file=sys.stderr)
        else:
            print("  %d records: %d malloc requests; %d records: %d; per event: %.2f requests, "
                  "%.3f arena nmalloc" % (d["half"]["records"], d["half"]["jemalloc"]["nrequests"],
                                          d["full"]["records"], d["full"]["jemalloc"]["nrequests"],
                                          d["nrequests_per_event"], d["nmalloc_per_event"]),
                  file=sys.stderr)
    elif cmd == "brief-kafka":
        d = load_json(a[1])
        for k in ("producer_perf", "consumer_perf"):
            if d.get(k):
                print("  Kafka %s: %.0f records/s" % (k, d[k]["records_per_s"]), file=sys.stderr)
            else:
                print("  Kafka %s: no result (%s)" % (k, d.get(k + "_error")), file=sys.stderr)
    elif cmd == "kafkaperf":
        print(json.dumps(kafkaperf(*a[1:4])))
    elif cmd == "expect":
        d = json.loads(a[1])
        if d.get("records") != int(a[2]):
            print("read %s records, not %s" % (d.get("records"), a[2]))
            sys.exit(1)
        print(d["moments"] if d.get("moments") is not None else d["records"])
    elif cmd == "peak":
        peak(a[1])
    elif cmd == "final":
        final(a[1])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
