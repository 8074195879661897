#!/usr/bin/env python3
"""Helpers of bench/run.sh: parse tool output into JSON, print progress lines,
and at the end merge the fragments into latest.json, a table and a chart.

  report.py mmlog LOG START_EPOCH        a `micromoment run` log (+ /usr/bin/time) -> JSON
  report.py brief JSON                   one progress line for an e2e round
  report.py brief-classifier < JSONL     progress lines for bench_classifier output
  report.py brief-latency JSON           one progress line for bench_latency output
  report.py alloc LOG_HALF LOG_FULL JSON_HALF JSON_FULL   jemalloc stats -> JSON
  report.py brief-alloc FILE | brief-kafka FILE
  report.py kafkaperf PRODUCER_OUT CONSUMER_OUT     Kafka's perf tools -> JSON
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
    "e2e_ratio": 1.0,            # micromoment / kcat relay records/s, >=
    "classifier_eps_1m": 2.0e6,  # events/s per core at 1M users, >=
    "p99_half_ms": 5.0,          # p99 at 50 % of peak, <=
    "state_bytes": 200,          # bytes of state per tracked user, <=
    "cost_ratio_10m": 1.5,       # ns/event 10M users / 10k users, <=
}


def iso_epoch(s):
    return datetime.datetime.strptime(s.rstrip("Z"), "%Y-%m-%dT%H:%M:%S.%f").replace(
        tzinfo=datetime.timezone.utc).timestamp()


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
        m = re.match(r"TIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)", line)
        if m:
            d["wall_s"] = float(m.group(1))
            d["user_s"] = float(m.group(2))
            d["sys_s"] = float(m.group(3))
            d["max_rss_kb"] = int(m.group(4))
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


def kafkaperf(pfile, cfile):
    out = {"skipped": False}
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
    rows = load_jsonl(path)
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


def verdict(ok):
    return "MET" if ok else "MISSED"


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

    res = {"meta": meta, "targets": {}, "classifier": cl, "e2e": compare(e2e_rows),
           "e2e_rounds": e2e_rows, "e2e_default_state_sizing": dflt, "e2e_group": group,
           "latency": lat,
           "alloc": allocs, "kafka": None, "profile_top": prof}
    T = res["targets"]
    L = []
    p = L.append
    p("micromoment bench, %s, %s cores (%s), load average %s at start, %s at end%s"
      % (meta.get("date"), meta.get("cores"), meta.get("cpu"), meta.get("loadavg_start"),
         meta.get("loadavg_end"), ", QUICK" if meta.get("quick") else ""))
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
        if 1000000 in by:
            v = by[1000000]["events_per_s"]
            T["classifier_eps_1m"] = {"value": round(v), "target": TARGETS["classifier_eps_1m"],
                                      "met": v >= TARGETS["classifier_eps_1m"]}
        if 10000 in by and 10000000 in by:
            v = by[10000000]["ns_per_event"] / by[10000]["ns_per_event"]
            T["cost_ratio_10m_vs_10k"] = {"value": round(v, 2), "target": 1.5, "met": v <= 1.5}
            p("  cost per event 10M/10k users: %.2fx" % v)
        big = max(cl, key=lambda d: d["tracked_users"])
        T["state_bytes_per_user"] = {"value": big["state_bytes_per_user"], "target": 200,
                                     "met": big["state_bytes_per_user"] <= 200,
                                     "rss_bytes_per_tracked_user": big["rss_bytes_per_tracked_user"],
                                     "at_users": big["tracked_users"]}
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
        T["e2e_vs_kcat"] = {"value": e.get("ratio"), "target": 1.0,
                            "met": (e.get("ratio") or 0) >= 1.0}
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
        for br in ("dev", "kafka"):
            half = [d for d in lat if d["tool"] == "micromoment" and d["pct"] == 50
                    and d.get("broker", "dev") == br]
            if half:
                v = half[0]["p99_us"] / 1e3
                other = {t: [d for d in lat if d["tool"] == t and d["pct"] == 50
                             and d.get("broker", "dev") == br] for t in ("kcat", "hop")}
                T["p99_at_half_peak_ms_" + br] = {
                    "value": round(v, 2), "target": 5.0, "met": v <= 5.0,
                    "rate": half[0]["rate_target"],
                    "kcat_relay_p99_ms": round(other["kcat"][0]["p99_us"] / 1e3, 2)
                    if other["kcat"] else None,
                    "single_hop_p99_ms": round(other["hop"][0]["p99_us"] / 1e3, 2)
                    if other["hop"] else None}
    if kafka is not None or kafka_rows:
        p("")
        if kafka and kafka.get("skipped"):
            p("real Kafka: SKIPPED (%s)" % kafka.get("reason"))
            res["kafka"] = kafka
        else:
            k = compare(kafka_rows) or {}
            k.update(kafka or {})
            res["kafka"] = k
            p("real Kafka 4.3.1 (single node, 32 partitions)")
            for r in kafka_rows:
                p("  round %d %-12s %s" % (r["round"], r["tool"], brief(r)))
            if k.get("ratio"):
                p("  median: micromoment %s rec/s, kcat %s rec/s, ratio %.2fx" % (
                    k["micromoment_median"], k["kcat_median"], k["ratio"]))
            for name in ("producer_perf", "consumer_perf"):
                if k.get(name) and k.get("micromoment_median"):
                    k[name]["micromoment_ratio"] = round(
                        k["micromoment_median"] / k[name]["records_per_s"], 3)
                    p("  Kafka %s: %.0f rec/s; micromoment / it = %.2fx" % (
                        name, k[name]["records_per_s"], k[name]["micromoment_ratio"]))
    p("")
    p("targets")
    names = {"e2e_vs_kcat": "end to end >= 1.0x kcat relay",
             "classifier_eps_1m": "classifier >= 2M events/s/core at 1M users",
             "p99_at_half_peak_ms_dev": "p99 <= 5 ms at half peak (dev broker)",
             "p99_at_half_peak_ms_kafka": "p99 <= 5 ms at half peak (real Kafka)",
             "state_bytes_per_user": "<= 200 bytes of state per tracked user",
             "cost_ratio_10m_vs_10k": "cost/event at 10M users <= 1.5x of 10k"}
    for k, t in T.items():
        extra = ""
        if t.get("kcat_relay_p99_ms") is not None:
            extra = " ms (kcat relay %s ms, same rate)" % t["kcat_relay_p99_ms"]
        if t.get("single_hop_p99_ms") is not None:
            extra += "; one hop alone %s ms" % t["single_hop_p99_ms"]
        p("  %-45s %-7s %s%s" % (names.get(k, k), verdict(t["met"]), t["value"], extra))
    text = "\n".join(L) + "\n"
    sys.stdout.write(text)
    open(os.path.join(outdir, "report.txt"), "w").write(text)
    json.dump(res, open(os.path.join(outdir, "latest.json"), "w"), indent=1)
    chart(outdir, e2e_rows, kafka_rows, lat)
    print("\nwrote %s, %s, %s" % (os.path.join(outdir, "latest.json"),
                                  os.path.join(outdir, "report.txt"),
                                  os.path.join(outdir, "latest.png")))


def chart(outdir, e2e_rows, kafka_rows, lat):
    if not shutil.which("gnuplot"):
        print("no gnuplot: no chart (apt-get install gnuplot-nox)")
        return
    dat = os.path.join(outdir, "throughput.dat")
    with open(dat, "w") as f:
        f.write("# round micromoment kcat (records/s); dev broker then real Kafka\n")
        for rows, label in ((e2e_rows, "dev"), (kafka_rows, "kafka")):
            for i in sorted({r["round"] for r in rows}):
                mm = [rate(r) for r in rows if r["round"] == i and r["tool"] == "micromoment"]
                kc = [rate(r) for r in rows if r["round"] == i and r["tool"] == "kcat"]
                f.write('"%s %d" %.0f %.0f\n' % (label, i, mm[0] if mm else 0, kc[0] if kc else 0))
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
    gp = ['set terminal pngcairo size 1600,600' if _has_cairo() else 'set terminal png size 1400,560',
          'set output "%s"' % png, "set multiplot layout 1,2",
          'set title "throughput per round: micromoment vs kcat relay (records/s)"',
          "set style data histograms", "set style histogram clustered gap 1",
          "set style fill solid 0.8 border -1", "set yrange [0:*]", "set xtics rotate by -30",
          "set key top left", "set grid ytics",
          'plot "%s" using 2:xtic(1) title "micromoment run", "" using 3 title "kcat -C | kcat -P"'
          % dat if e2e_rows or kafka_rows else 'plot 0 notitle']
    if series:
        gp += ["unset style", "set style data linespoints", "set logscale xy", "set xtics norotate",
               'set title "latency: send -> arrival (ms) by percentile"',
               'set xlabel "percentile"', 'set ylabel "ms"', 'set key outside right font ",9"',
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
        print(json.dumps(kafkaperf(a[1], a[2])))
    elif cmd == "peak":
        peak(a[1])
    elif cmd == "final":
        final(a[1])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
