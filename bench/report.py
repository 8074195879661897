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
  report.py brief-alloc FILE | brief-kafka FILE | brief-agreement FILE
  report.py kafkaperf PRODUCER_OUT CONSUMER_OUT [WHY_NO_STREAMS [RUN]]   Kafka's perf tools -> JSON
  report.py agreement EVENTS MM_MOMENTS STREAMS_MOMENTS   the same events' moments from
                                         micromoment and the Kafka Streams reference -> JSON
  report.py expect JSON SIZE            the records a run must have produced (its moments, or
                                         for the relay its records); exit 1 unless it read SIZE
  report.py peak E2E_JSONL               median micromoment records/s (processing)
  report.py final OUTDIR                 latest.json, report.txt, latest.png
"""
import datetime
import json
import math
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
    "agreement_pct": 95.0,          # reference's moments = micromoment's, % of query events, >=
    # earlier targets (issue 6)
    "e2e_ratio": 1.0,               # micromoment / kcat relay records/s, dev broker, >=
    "p99_half_ms": 5.0,             # p99 at 50 % of peak, <=
    "state_bytes": 200,             # bytes of state per tracked user, <=
}
# Sizes of the kafka section's runs (run.sh's KAFKA_SIZES): a target per size, NOT RUN where a
# size was not run.
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
    if num(d.get("wall_s")) is None:
        return "no time measured: %s" % json.dumps(d)
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


def kafkaperf(pfile, cfile, streams_skipped="", run="1"):
    out = {"skipped": False}
    if streams_skipped:
        out["streams_skipped"] = streams_skipped
    if run != "1":
        out["perf_not_run"] = "MM_BENCH_KAFKA_PERF=0 (QUICK)"
        return out
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
    try:
        keys = [k.strip() for k in lines[hdr].split(",")]
        vals = [v.strip() for v in lines[hdr + 1].split(",")]
        row = dict(zip(keys, vals))
        out["consumer_perf"] = {"records": int(float(row.get("data.consumed.in.nMsg", 0))),
                                "records_per_s": float(row.get("nMsg.sec", 0)),
                                "mb_per_s": float(row.get("MB.sec", 0))}
    except (TypeError, IndexError, ValueError):
        out["consumer_perf_error"] = lines[-3:]
    return out


def load_jsonl(path):
    """The objects of a JSON-lines fragment; a line that is not one (a run cut short) is
    skipped, never fatal to the report."""
    if not os.path.exists(path):
        return []
    out = []
    for l in open(path, errors="replace"):
        try:
            d = json.loads(l)
        except ValueError:
            continue
        if isinstance(d, dict):
            out.append(d)
    return out


def load_json(path):
    try:
        d = json.load(open(path))
        return d if isinstance(d, dict) else None
    except (OSError, ValueError):
        return None


def num(x):
    """x as a finite float, else None (NaN, inf, missing, text)."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def fmt(x, f="%.2f"):
    x = num(x)
    return "-" if x is None else f % x


def median_rates(rows, tool, key="wall_s"):
    return [rate(r, key) for r in rows
            if r.get("tool") == tool and r.get("records") and not r.get("failed")]


def peak(path):
    """Median micromoment records/s after its start-up, at-least-once, the largest size run."""
    rows = [r for r in load_jsonl(path) if r.get("mode", "alos") == "alos" and not r.get("failed")]
    if any("size" in r for r in rows):
        big = max(r.get("size", 0) for r in rows)
        rows = [r for r in rows if r.get("size") == big]
    rs = median_rates(rows, "micromoment", "processing_s") or median_rates(rows, "micromoment")
    print(int(statistics.median(rs)) if rs else 50000)


def compare(rows):
    rows = [r for r in rows if not r.get("failed") and r.get("tool")]
    if not rows:
        return None
    mm, kc = median_rates(rows, "micromoment"), median_rates(rows, "kcat")
    mmp = median_rates(rows, "micromoment", "processing_s")
    mom = sorted({r.get("moments") for r in rows if r["tool"] == "micromoment"} - {None})
    dlq = sorted({r.get("dlq") for r in rows if r["tool"] == "micromoment"} - {None})
    recs = sorted({r.get("records") for r in rows} - {None})
    out = {"rounds": max(r.get("round", 1) for r in rows),
           "micromoment_records_per_s": [round(x) for x in mm],
           "kcat_records_per_s": [round(x) for x in kc],
           "micromoment_median": round(statistics.median(mm)) if mm else None,
           "kcat_median": round(statistics.median(kc)) if kc else None,
           "micromoment_after_join_median": round(statistics.median(mmp)) if mmp else None,
           "join_s_median": med([r.get("join_s") for r in rows]),
           "moments_per_round": mom, "dlq_per_round": dlq, "records_per_round": recs,
           "moments_equal_across_rounds": len(mom) == 1}
    if out["micromoment_median"] and out["kcat_median"]:
        out["ratio"] = round(out["micromoment_median"] / out["kcat_median"], 3)
    if out["micromoment_after_join_median"] and out["kcat_median"]:
        out["ratio_after_join"] = round(out["micromoment_after_join_median"] / out["kcat_median"], 3)
    return out


def cpu_us(d):
    """CPU (user + system) per input record, microseconds."""
    u, s, n = num(d.get("user_s")), num(d.get("sys_s")), num(d.get("records"))
    if u is None or s is None or not n:
        return None
    return (u + s) / n * 1e6


def med(xs):
    xs = [num(x) for x in xs]
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def kafka_summary(rows):
    """Per (size, mode, tool): medians of the rounds. Size and mode come from the rows
    (a row without them is from before the Kafka Streams reference: one size, at-least-once).
    Failed runs are set apart (failures)."""
    out, failures = {}, {}
    for r in rows:
        if not r.get("tool"):
            continue
        key = (r.get("size") or r.get("records") or 0, r.get("mode", "alos"))
        if r.get("failed"):
            failures.setdefault("%d/%s/%s" % (key[0], key[1], r["tool"]), str(r["failed"]))
            continue
        if num(r.get("wall_s")) is None or not r.get("records"):
            continue
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
                "cpu_s": [round(x["user_s"] + x["sys_s"], 2) for x in rs
                          if num(x.get("user_s")) is not None and num(x.get("sys_s")) is not None],
                "max_rss_mb": max((x.get("max_rss_kb") or 0 for x in rs)) // 1024,
                "join_s_median": med([x.get("join_s") for x in rs]),
                "records": sorted({x.get("records") for x in rs}),
                "moments": sorted({x.get("moments") for x in rs if x.get("moments") is not None}),
                "moments_by_type": rs[0].get("moments_by_type")}
    for g in summ.values():
        # the relay has no exactly-once mode: both modes of a size are set against its
        # at-least-once rounds
        relay = summ.get("%d/alos" % g["size"], {"tools": {}})["tools"].get("kcat")
        for t in g["tools"].values():
            if relay and relay["wall_s_median"] and t["wall_s_median"]:
                t["relay_wall_ratio"] = round(relay["wall_s_median"] / t["wall_s_median"], 3)
    return summ, failures


def size_name(n):
    return "%dk" % (n // 1000) if n < 1000000 else "%gM" % (n / 1e6)


def add_target(T, key, label, value, op, limit, baseline, why=None, **extra):
    """One target: its figure, the same run's baseline it is measured against, the verdict.
    Without a figure (a section not run, a system failed, NaN) the verdict is NOT RUN and why."""
    value = num(value)
    t = {"label": label, "value": None if value is None else round(value, 3), "op": op,
         "target": limit, "baseline": baseline if value is not None else None}
    if value is None:
        t.update(met=None, verdict="NOT RUN: %s" % (why or "no figure in this run"))
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


# ------------------------------------------------------------------ agreement

MOMENT_TYPES = ("know", "go", "do", "buy")


def agreement(events_path, mm_path, st_path):
    """micromoment's moments against the reference's on the same events, event by event.
    A query event agrees when both give it the same moment or both none; the share is of the
    query events either gave a moment (events neither did are not counted). Moments of other
    events (location bursts, cart and purchase after a buy moment) need per-user state, which
    a stateless keyword classifier has not: they are counted apart, and in the share over all
    moments."""
    kind, query = {}, {}
    for line in open(events_path, errors="replace"):
        try:
            d = json.loads(line)
        except ValueError:
            continue
        if not isinstance(d, dict):
            continue
        eid = d.get("event_id")
        kind[eid] = d.get("type")
        if d.get("type") == "query":
            query[eid] = (d.get("query"), d.get("lang"))

    def moments(path):
        m = {}
        for line in open(path, errors="replace"):
            try:
                d = json.loads(line)
                m[d["event_id"]] = d["moment"]
            except (ValueError, KeyError, TypeError):
                continue
        return m

    a, b = moments(mm_path), moments(st_path)
    by_type = lambda m: {t: sum(1 for v in m.values() if v == t) for t in MOMENT_TYPES}
    qa = {k: v for k, v in a.items() if kind.get(k) == "query"}
    other = {}
    for k in a:
        if kind.get(k) != "query":
            other[kind.get(k) or "?"] = other.get(kind.get(k) or "?", 0) + 1
    union_q = set(qa) | set(b)
    same_q = sum(1 for k in union_q if qa.get(k) == b.get(k))
    union_all = set(a) | set(b)
    same_all = sum(1 for k in union_all if a.get(k) == b.get(k))
    diffs = {}
    for k in union_q:
        if qa.get(k) != b.get(k):
            q, lang = query.get(k, ("?", None))
            key = (q, lang, qa.get(k) or "none", b.get(k) or "none")
            diffs[key] = diffs.get(key, 0) + 1
    ta, tb = by_type(qa), by_type(b)
    return {
        "events": len(kind), "query_events": len(query),
        "micromoment": {"moments": len(a), "by_type": by_type(a), "query_moments": len(qa),
                        "query_by_type": ta, "non_query_moments": other},
        "streams": {"moments": len(b), "by_type": tb},
        "query": {"same": same_q, "either": len(union_q),
                  "pct": round(100.0 * same_q / len(union_q), 2) if union_q else None,
                  "micromoment_only": sum(1 for k in union_q if k not in b),
                  "streams_only": sum(1 for k in union_q if k not in qa),
                  "other_type": sum(1 for k in union_q if k in b and k in qa and b[k] != qa[k])},
        "all": {"same": same_all, "either": len(union_all),
                "pct": round(100.0 * same_all / len(union_all), 2) if union_all else None},
        # moments per type alone (not event by event): sum of the smaller count per type over
        # the larger total, query moments
        "per_type_pct": round(100.0 * sum(min(ta[t], tb[t]) for t in MOMENT_TYPES) /
                              max(len(qa), len(b)), 2) if max(len(qa), len(b)) else None,
        "differences": [{"count": n, "query": k[0], "lang": k[1], "micromoment": k[2],
                         "streams": k[3]}
                        for k, n in sorted(diffs.items(), key=lambda kv: -kv[1])[:15]],
    }


def brief_agreement(d):
    if d.get("skipped"):
        return "  NOT RUN: %s" % d.get("reason")
    q, m, s = d["query"], d["micromoment"], d["streams"]
    return ("  %d events (%d queries): micromoment %d moments (%d of queries: %s), reference %d "
            "(%s); query events agree %s %% (%d of %d with a moment from either); all moments "
            "%s %%" % (d["events"], d["query_events"], m["moments"], m["query_moments"],
                       "/".join(str(m["query_by_type"][t]) for t in MOMENT_TYPES), s["moments"],
                       "/".join(str(s["by_type"][t]) for t in MOMENT_TYPES), fmt(q["pct"]),
                       q["same"], q["either"], fmt(d["all"]["pct"])))


# ------------------------------------------------------------------ the report

class Report:
    """The table and latest.json: each part printed from this run's fragments; a part whose
    data are missing or malformed prints why instead, and never stops the others."""

    def __init__(self, outdir):
        self.outdir = outdir
        self.L = []
        self.meta = load_json(self.path("meta.json")) or {}
        self.failed = {}
        for f in load_jsonl(self.path("failed.jsonl")):
            self.failed.setdefault(f.get("section"), str(f.get("reason")))
        self.sections = self.meta.get("sections") or []
        self.T, self.E = {}, {}

    def path(self, name):
        return os.path.join(self.outdir, name)

    def p(self, s=""):
        self.L.append(s)

    def part(self, name, fn):
        try:
            fn()
        except Exception as e:  # a malformed fragment: say so, go on with the rest
            self.p("")
            self.p("%s: NOT REPORTED, its data could not be read (%s: %s)"
                   % (name, type(e).__name__, e))
            self.failed.setdefault(name, "its data could not be read (%s)" % e)

    def section_why(self, name, data_present=False):
        """Why SECTION gave no figure: it failed, it was not selected, or it gave nothing."""
        if name in self.failed:
            return "the %s section failed: %s" % (name, self.failed[name])
        selected = not self.sections or "all" in self.sections or name in self.sections
        if not selected:
            return "the %s section was not selected (sections: %s)" % (name, " ".join(self.sections))
        if not data_present:
            return "the %s section gave no usable data" % name
        return None


def final(outdir):
    R = Report(outdir)
    meta = R.meta
    cl = [d for d in load_jsonl(R.path("classifier.jsonl")) if num(d.get("ns_per_event"))]
    e2e_rows = load_jsonl(R.path("e2e.jsonl"))
    lat = [d for d in load_jsonl(R.path("latency.jsonl"))
           if d.get("tool") and num(d.get("p99_us")) is not None]
    kafka_rows = load_jsonl(R.path("kafka.jsonl"))
    kafka = load_json(R.path("kafka.json"))
    allocs = load_json(R.path("alloc.json"))
    dflt = load_json(R.path("e2e_default.json"))
    group = load_json(R.path("e2e_group.json"))
    agree = load_json(R.path("agreement.json"))
    prof = None
    if os.path.exists(R.path("profile.txt")):
        prof = open(R.path("profile.txt"), errors="replace").read().splitlines()[:25]
    try:
        e2e = compare(e2e_rows)
    except Exception:
        e2e = None
    ksum, kfail = kafka_summary(kafka_rows)

    res = {"meta": meta, "targets": {}, "earlier_targets": {}, "classifier": cl,
           "e2e": e2e, "e2e_rounds": e2e_rows, "e2e_default_state_sizing": dflt,
           "e2e_group": group, "latency": lat, "alloc": allocs, "kafka": None,
           "kafka_rounds": kafka_rows, "kafka_failures": kfail, "agreement": agree,
           "profile_top": prof, "failed_sections": R.failed}
    T, E, p = R.T, R.E, R.p
    p("micromoment bench, %s, %s cores (%s), load average %s at start, %s at end%s"
      % (meta.get("date"), meta.get("cores"), meta.get("cpu"), meta.get("loadavg_start"),
         meta.get("loadavg_end"), ", QUICK" if meta.get("quick") else ""))
    if R.failed:
        for s, why in R.failed.items():
            p("FAILED: the %s section: %s" % (s, why))
    by = {d.get("users"): d for d in cl}

    def classifier_part():
        if not cl:
            return
        p("")
        p("classifier alone (one core, in memory, Zipf 0.8, table pre-filled with every user; "
          "fastest of 5 timed passes, median beside it)")
        p("  %10s %10s %10s %10s %12s %10s %12s" % ("users", "tracked", "ns/event", "median",
                                                    "events/s", "state B", "rss B/user"))
        for d in cl:
            p("  %10s %10s %10s %10s %12s %10s %12s" % (
                d.get("users"), d.get("tracked_users"), fmt(d.get("ns_per_event"), "%.0f"),
                fmt(d.get("ns_per_event_median", d.get("ns_per_event")), "%.0f"),
                fmt(d.get("events_per_s"), "%.0f"), d.get("state_bytes_per_user"),
                fmt(d.get("rss_bytes_per_tracked_user"), "%.1f")))
        big = max(cl, key=lambda d: d.get("tracked_users") or 0)
        add_target(E, "state_bytes_per_user", "<= 200 bytes of state per tracked user",
                   big.get("state_bytes_per_user"), "<=", TARGETS["state_bytes"],
                   "RSS %s B per tracked user at %s users" % (
                       fmt(big.get("rss_bytes_per_tracked_user"), "%.0f"), big.get("tracked_users")))
    R.part("classifier", classifier_part)

    def e2e_part():
        e = e2e
        if not e:
            return
        p("")
        p("end to end, development broker, %s records (wall time incl. start-up; micromoment "
          "reads the partitions by name, as kcat -C does)" % (e["records_per_round"] or ["?"])[0])
        p("  round  micromoment rec/s  kcat relay rec/s   moments    dlq")
        for i in range(e["rounds"]):
            mm = [r for r in e2e_rows if r.get("tool") == "micromoment" and r.get("round") == i + 1]
            kc = [r for r in e2e_rows if r.get("tool") == "kcat" and r.get("round") == i + 1]
            p("  %5d %18s %17s %9s %6s" % (
                i + 1, "%.0f" % rate(mm[0]) if mm else "-", "%.0f" % rate(kc[0]) if kc else "-",
                mm[0].get("moments") if mm else "-", mm[0].get("dlq") if mm else "-"))
        p("  median: micromoment %s rec/s, kcat %s rec/s, ratio %sx (target >= 1.0x)"
          % (e["micromoment_median"], e["kcat_median"], fmt(e.get("ratio"))))
        p("  moments equal across rounds: %s %s" % (e["moments_equal_across_rounds"],
                                                   e["moments_per_round"]))
        add_target(E, "e2e_vs_kcat", "end to end >= 1.0x kcat relay (dev broker)", e.get("ratio"),
                   ">=", TARGETS["e2e_ratio"], "kcat relay %s rec/s" % e["kcat_median"],
                   "no micromoment or relay rounds")
        if group and e["kcat_median"] and num(group.get("wall_s")):
            p("  as a group member (-i events): %.2f s, %.0f rec/s wall, %.2fx kcat; %.0f rec/s "
              "after the %.1f s group join" % (group["wall_s"], rate(group),
                                              rate(group) / e["kcat_median"],
                                              rate(group, "processing_s"), group.get("join_s", 0)))
        if dflt and num(dflt.get("wall_s")):
            p("  default state sizing (200k users/partition x %s): %.2f s, %.0f rec/s, rss %d MB"
              % ("128", dflt["wall_s"], rate(dflt), (dflt.get("max_rss_kb") or 0) // 1024))
    R.part("e2e", e2e_part)

    def alloc_part():
        if allocs and allocs.get("nrequests_per_event") is not None:
            p("")
            p("allocations (jemalloc, run of %d vs %d records): %.2f malloc requests per event "
              "(%.3f arena nmalloc per event)" % (allocs["half"]["records"],
                                                  allocs["full"]["records"],
                                                  allocs["nrequests_per_event"],
                                                  allocs["nmalloc_per_event"]))
    R.part("alloc", alloc_part)

    half = {}  # (broker, tool) -> the run at 50 % of the peak

    def latency_part():
        if not lat:
            return
        p("")
        p("latency: send -> arrival at a consumer (dev = development broker, kafka = real Kafka; "
          "hop = one hop, the floor; linger.ms=%s)" % lat[0].get("linger_ms", "?"))
        p("  %-6s %-12s %4s %9s %9s %9s %9s %9s %9s" % ("broker", "tool", "%", "target/s", "got/s",
                                                       "p50 ms", "p99 ms", "p99.9 ms", "n"))
        for d in lat:
            p("  %-6s %-12s %4s %9s %9s %9s %9s %9s %9s" % (
                d.get("broker", "dev"), d["tool"], d.get("pct") or "low",
                fmt(d.get("rate_target"), "%.0f"), fmt(d.get("rate_achieved"), "%.0f"),
                fmt(num(d.get("p50_us")) and d["p50_us"] / 1e3), fmt(d["p99_us"] / 1e3),
                fmt(num(d.get("p999_us")) and d["p999_us"] / 1e3), d.get("measured", "-")))
        for d in lat:
            if d.get("pct") == 50:
                half[(d.get("broker", "dev"), d["tool"])] = d
        for br in ("dev", "kafka"):
            m = half.get((br, "micromoment"))
            if m:
                kc, hop = half.get((br, "kcat")), half.get((br, "hop"))
                add_target(E, "p99_at_half_peak_ms_" + br, "p99 <= 5 ms at half peak (%s)" % br,
                           m["p99_us"] / 1e3, "<=", TARGETS["p99_half_ms"],
                           "kcat relay %s ms, one hop %s ms, at %s/s"
                           % (fmt(kc and kc["p99_us"] / 1e3, "%.1f"),
                              fmt(hop and hop["p99_us"] / 1e3, "%.1f"),
                              fmt(m.get("rate_target"), "%.0f")))
    R.part("latency", latency_part)

    kskip = None
    if kafka and kafka.get("skipped"):
        kskip = "real Kafka was skipped: %s" % kafka.get("reason")

    def kafka_part():
        if kafka is None and not kafka_rows:
            return
        p("")
        if kskip:
            p("real Kafka: SKIPPED (%s)" % kafka.get("reason"))
            res["kafka"] = kafka
            return
        k = dict(kafka or {})
        k["summary"] = ksum
        res["kafka"] = k
        p("real Kafka 4.3.1 (single node, 32 partitions): same preloaded input for every "
          "system, a fresh group and output topic per run, wall = process start to exit, "
          "CPU = user + system of the process(es); medians of the rounds")
        if k.get("streams_skipped"):
            p("  Kafka Streams reference: NOT RUN (%s)" % k["streams_skipped"])
        for key, why in sorted(kfail.items()):
            size, mode, tool = key.split("/")
            p("  FAILED: %s at %s %s: %s" % (dict(SYSTEMS).get(tool, tool), size_name(int(size)),
                                             "exactly-once" if mode == "eos" else "at-least-once",
                                             why))
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
                p("    %-26s %6d %8s %9s %12s %9s %8s %7d %s" % (
                    label, t["rounds"], fmt(t["wall_s_median"]), t["records_per_s"],
                    fmt(t.get("relay_wall_ratio")), fmt(t["cpu_us_per_event_median"]),
                    "/".join(str(x) for x in t["moments"]) or "-", t["max_rss_mb"],
                    " ".join(fmt(w) for w in t["wall_s"])))
            for tool in ("micromoment", "streams"):
                t = g["tools"].get(tool)
                if t and t.get("moments_by_type"):
                    mt = t["moments_by_type"]
                    p("      %-24s moments know %s go %s do %s buy %s" % (
                        dict(SYSTEMS)[tool], *(mt.get(x, "-") for x in MOMENT_TYPES)))
        # Kafka's own tools ran on the largest input: set against micromoment's rounds there
        big = [g for g in ksum.values() if g["mode"] == "alos"]
        mmbig = max(big, key=lambda g: g["size"])["tools"].get("micromoment") if big else None
        for name in ("producer_perf", "consumer_perf"):
            if k.get(name):
                line = "  Kafka's %s: %.0f rec/s (%d records)" % (
                    name, k[name]["records_per_s"], k[name]["records"])
                if mmbig and mmbig["records_per_s"] and k[name]["records_per_s"]:
                    k[name]["micromoment_ratio"] = round(
                        mmbig["records_per_s"] / k[name]["records_per_s"], 3)
                    line += "; micromoment / it = %.2fx" % k[name]["micromoment_ratio"]
                p(line)
    R.part("kafka", kafka_part)

    def agreement_part():
        if not agree:
            return
        p("")
        p("agreement of the Kafka Streams reference with micromoment, the same events offline "
          "(micromoment classify vs the reference's classifier)")
        if agree.get("skipped"):
            p("  NOT RUN: %s" % agree.get("reason"))
            return
        m, s, q = agree["micromoment"], agree["streams"], agree["query"]
        p("  %d events, %d of them queries" % (agree["events"], agree["query_events"]))
        p("    %-34s %9s %8s %8s %8s %8s" % ("moments", "all", "know", "go", "do", "buy"))
        p("    %-34s %9d %8s %8s %8s %8s" % ("micromoment, of query events", m["query_moments"],
                                             *(m["query_by_type"][t] for t in MOMENT_TYPES)))
        p("    %-34s %9d %8s %8s %8s %8s" % ("Kafka Streams reference", s["moments"],
                                             *(s["by_type"][t] for t in MOMENT_TYPES)))
        p("    %-34s %9d %s" % ("micromoment, of other events", m["moments"] - m["query_moments"],
                                ", ".join("%s %d" % kv for kv in sorted(m["non_query_moments"].items()))))
        p("  query events agree on %s %% of those with a moment from either (%d of %d: %d only "
          "micromoment's, %d only the reference's, %d of another type); per-type counts %s %%; "
          "over all moments %s %% (behavioural moments need per-user state: not in a stateless "
          "reference)" % (fmt(q["pct"]), q["same"], q["either"], q["micromoment_only"],
                          q["streams_only"], q["other_type"], fmt(agree.get("per_type_pct")),
                          fmt(agree["all"]["pct"])))
        for d in agree.get("differences", [])[:5]:
            p("    %5d x %-40s %-4s micromoment %-5s reference %s" % (
                d["count"], json.dumps(d["query"], ensure_ascii=False)[:40], d["lang"] or "-",
                d["micromoment"], d["streams"]))
    R.part("agreement", agreement_part)

    # ---- issue 17's targets, each from this run's own data
    def issue17_targets():
        sizes = sorted(set(KAFKA_SIZES) | {g["size"] for g in ksum.values()})

        def tool(size, mode, name):
            g = ksum.get("%d/%s" % (size, mode))
            return g["tools"].get(name) if g else None

        swhy = (kafka or {}).get("streams_skipped")
        names = {"micromoment": "micromoment", "kcat": "kcat relay", "streams": "Kafka Streams"}

        def kafka_why(size, needs):
            """Why there is no figure at SIZE from the systems NEEDS ((mode, tool), ...)."""
            if kskip:
                return kskip
            w = R.section_why("kafka", bool(kafka_rows) or kafka is not None)
            if w and not kafka_rows:
                return w
            for mode, t in needs:
                f = kfail.get("%d/%s/%s" % (size, mode, t))
                if f:
                    return "%s%s failed at %s: %s" % (names[t], " exactly-once" if mode == "eos"
                                                      else "", size_name(size), f)
                if t == "streams" and swhy:
                    return "the Kafka Streams reference was not run: " + swhy
            if "kafka" in R.failed:
                return "the kafka section failed before: %s" % R.failed["kafka"]
            if not any(g["size"] == size for g in ksum.values()):
                return "no rounds at %s in this run (MM_BENCH_KAFKA_SIZES)" % size_name(size)
            missing = [names[t] + (" exactly-once" if m == "eos" else "") for m, t in needs
                       if not tool(size, m, t)]
            return "no %s rounds at %s" % (" or ".join(missing) or "usable", size_name(size))

        def desc(mt, t):
            return "%s%s %s s, %s us/event" % (
                names[mt[1]], " exactly-once" if mt[0] == "eos" else "", fmt(t["wall_s_median"]),
                fmt(t["cpu_us_per_event_median"]))

        def wall_target(key, label, size, base, other, limit):
            """A target on base's wall / other's wall (= other's throughput / base's)."""
            b, o = tool(size, *base), tool(size, *other)
            ok = b and o and num(b["wall_s_median"]) and num(o["wall_s_median"])
            add_target(T, key, label, b["wall_s_median"] / o["wall_s_median"] if ok else None,
                       ">=", limit, "%s; %s" % (desc(other, o), desc(base, b)) if ok else None,
                       kafka_why(size, (other, base)))

        # the targets on two walls of one size: key, label, base (mode, tool), other, limit;
        # the number leads the key (the list is printed by number)
        per_size = [("1_wall_vs_relay", "1. end to end, real Kafka, %s: relay wall / micromoment "
                     "wall >= 1.0", ("alos", "kcat"), ("alos", "micromoment"),
                     TARGETS["kafka_wall_vs_relay"]),
                    ("3_eos_vs_alos", "3. exactly-once / at-least-once throughput, %s >= 0.8",
                     ("alos", "micromoment"), ("eos", "micromoment"), TARGETS["eos_vs_alos"])]
        for mode, mname in (("alos", "at-least-once"), ("eos", "exactly-once")):
            per_size.append(("6_vs_streams_" + mode, "6. vs Kafka Streams, %s " + mname +
                             ": Streams wall / micromoment wall >= 1.0", (mode, "streams"),
                             (mode, "micromoment"), TARGETS["vs_streams"]))
        for size in sizes:
            sn = size_name(size)
            for key, label, base, other, limit in per_size:
                wall_target("%s_%s" % (key, sn), label % sn, size, base, other, limit)
            mm, kc = tool(size, "alos", "micromoment"), tool(size, "alos", "kcat")
            ok = mm and kc and num(mm["cpu_us_per_event_median"]) and num(kc["cpu_us_per_event_median"])
            add_target(T, "2_cpu_vs_relay_" + sn,
                       "2. CPU per event, real Kafka, %s: micromoment / relay <= 2.0" % sn,
                       mm["cpu_us_per_event_median"] / kc["cpu_us_per_event_median"] if ok else None,
                       "<=", TARGETS["kafka_cpu_vs_relay"],
                       "micromoment %s us, kcat relay %s us per event"
                       % (fmt(mm["cpu_us_per_event_median"]), fmt(kc["cpu_us_per_event_median"]))
                       if ok else None,
                       "no CPU figure of micromoment or the relay" if mm and kc else
                       kafka_why(size, (("alos", "micromoment"), ("alos", "kcat"))))
        cwhy = R.section_why("classifier", bool(cl))
        c1m = by.get(1000000)
        add_target(T, "4a_classifier_eps_1m",
                   "4. classifier alone >= 2M events/s per core at 1M users",
                   num(c1m.get("events_per_s")) / 1e6 if c1m and num(c1m.get("events_per_s"))
                   else None, ">=", TARGETS["classifier_eps_1m"] / 1e6,
                   "%s ns/event (median pass %s)" % (fmt(c1m.get("ns_per_event"), "%.0f"),
                                                     fmt(c1m.get("ns_per_event_median"), "%.0f"))
                   if c1m else None,
                   cwhy or "no 1M-user run (MM_BENCH_CL_USERS)", unit=" M events/s")
        have = 10000 in by and 10000000 in by
        add_target(T, "4b_cost_ratio_10m_vs_10k",
                   "4. classifier cost per event, 10M users / 10k <= 1.5",
                   by[10000000]["ns_per_event"] / by[10000]["ns_per_event"] if have else None,
                   "<=", TARGETS["cost_ratio_10m"],
                   "%.0f / %.0f ns" % (by[10000000]["ns_per_event"], by[10000]["ns_per_event"])
                   if have else None,
                   cwhy or "no 10k or 10M-user run (MM_BENCH_CL_USERS)")
        m, hop = half.get(("kafka", "micromoment")), half.get(("kafka", "hop"))
        ok = m and hop and hop["p99_us"] > 0
        if ok:
            lwhy = None
        elif kskip:
            lwhy = kskip
        else:
            lwhy = (R.section_why("latency", True) or R.section_why("kafka", bool(kafka_rows))
                    or ("latency on Kafka is measured after the kafka section's rounds: "
                        "select both" if "kafka" not in R.sections and "all" not in R.sections
                        and R.sections else None)
                    or "no result at 50 %% of the peak on Kafka for %s" % " and ".join(
                        x for x, d in (("micromoment", m), ("one hop", hop)) if not d))
        add_target(T, "5_p99_half_vs_hop",
                   "5. p99 event->moment at half the peak, real Kafka / one hop's p99 <= 3.0",
                   m["p99_us"] / hop["p99_us"] if ok else None, "<=", TARGETS["p99_half_vs_hop"],
                   "micromoment %.1f ms, one hop %.1f ms, at %s/s"
                   % (m["p99_us"] / 1e3, hop["p99_us"] / 1e3, fmt(m.get("rate_target"), "%.0f"))
                   if ok else None, lwhy)
        ag = agree if agree and not agree.get("skipped") else None
        awhy = ("the reference was not run: %s" % agree.get("reason") if agree else
                R.section_why("agreement", False))
        add_target(T, "6_agreement",
                   "6. the reference agrees with micromoment on query events' moments >= 95 %",
                   ag["query"]["pct"] if ag else None, ">=", TARGETS["agreement_pct"],
                   "%d of %d query events with a moment from either; over all moments %s %% "
                   "(micromoment's %d moments of location, cart and purchase events need "
                   "per-user state)" % (ag["query"]["same"], ag["query"]["either"],
                                        fmt(ag["all"]["pct"]),
                                        ag["micromoment"]["moments"] - ag["micromoment"]["query_moments"])
                   if ag else None, awhy, unit=" %")
    R.part("targets", issue17_targets)

    # by target number, each number's entries in the order they were made (sizes ascending)
    res["targets"] = T = dict(sorted(T.items(), key=lambda kv: kv[0].split("_")[0]))
    res["earlier_targets"] = E
    res["failed_sections"] = R.failed
    p("")
    p("targets of issue 17 (value: the ratio or figure the target names; baseline: the same "
      "run's figures it is computed from)")
    for t in T.values():
        p("  %-80s %s" % (t["label"], t["verdict"]))
        if t["value"] is not None:
            p("  %-80s   %.2f%s; %s" % ("", t["value"], t.get("unit", "x"), t["baseline"]))
    p("")
    p("earlier targets (issue 6)")
    for key, label, sec in (("e2e_vs_kcat", "end to end >= 1.0x kcat relay (dev broker)", "e2e"),
                            ("p99_at_half_peak_ms_dev", "p99 <= 5 ms at half peak (dev)", "latency"),
                            ("p99_at_half_peak_ms_kafka", "p99 <= 5 ms at half peak (kafka)",
                             "latency"),
                            ("state_bytes_per_user", "<= 200 bytes of state per tracked user",
                             "classifier")):
        if key not in E:
            why = R.section_why(sec, False)
            if key.endswith("_dev") and meta.get("quick") and sec not in R.failed:
                why = "QUICK measures latency on Kafka only (MM_BENCH_LAT_DEV=1 adds it)"
            elif key.endswith("_kafka") and not why:
                why = R.section_why("kafka", bool(kafka_rows)) or "no latency run on Kafka"
            add_target(E, key, label, None, "<=", None, None, why)
    for t in E.values():
        p("  %-50s %-22s %s%s" % (t["label"], t["verdict"], "" if t["value"] is None
                                  else "%.2f; " % t["value"], t["baseline"] or ""))
    text = "\n".join(R.L) + "\n"
    sys.stdout.write(text)
    open(R.path("report.txt"), "w").write(text)
    json.dump(res, open(R.path("latest.json"), "w"), indent=1, allow_nan=False, default=str)
    try:
        chart(outdir, e2e_rows, ksum, lat)
    except Exception as e:
        print("no chart: %s: %s" % (type(e).__name__, e))
    print("\nwrote %s, %s, %s" % (R.path("latest.json"), R.path("report.txt"),
                                  R.path("latest.png")))


def chart(outdir, e2e_rows, ksum, lat):
    if not shutil.which("gnuplot"):
        print("no gnuplot: no chart (apt-get install gnuplot-nox)")
        return
    # One cluster per run configuration: median records/s (wall) with the rounds' range, and
    # CPU per event; the systems side by side, 0 where a system does not run (no relay in
    # exactly-once).
    groups = []
    e2e_rows = [r for r in e2e_rows if r.get("tool") and r.get("records") and num(r.get("wall_s"))]
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
        if not d.get("quantiles"):
            continue
        br = d.get("broker", "dev")
        fn = os.path.join(outdir, "lat-%s-%s-%d.dat" % (br, d["tool"], d.get("pct", 0)))
        with open(fn, "w") as f:
            for q, us in d["quantiles"]:
                if q < 1.0:
                    f.write("%g %g\n" % (1.0 / (1.0 - q), us / 1e3))
        series.append((fn, "%s %s %s (%s/s)" % (br, d["tool"], "%d%%" % d["pct"] if d.get("pct")
                                                 else "low", fmt(d.get("rate_target"), "%.0f"))))
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
        d = load_json(a[1]) or {}
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
        d = load_json(a[1]) or {}
        if d.get("perf_not_run"):
            print("  Kafka's perf tools not run: %s" % d["perf_not_run"], file=sys.stderr)
            return
        for k in ("producer_perf", "consumer_perf"):
            if d.get(k):
                print("  Kafka %s: %.0f records/s" % (k, d[k]["records_per_s"]), file=sys.stderr)
            else:
                print("  Kafka %s: no result (%s)" % (k, d.get(k + "_error")), file=sys.stderr)
    elif cmd == "kafkaperf":
        print(json.dumps(kafkaperf(*a[1:5])))
    elif cmd == "agreement":
        print(json.dumps(agreement(*a[1:4])))
    elif cmd == "brief-agreement":
        print(brief_agreement(load_json(a[1]) or {"skipped": True, "reason": "no data"}),
              file=sys.stderr)
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
