#!/usr/bin/env python3
"""Writes the Avro seed corpus of fuzz_avro_decode (fuzz/corpus/fuzz_avro_decode/):
Confluent-framed records (magic 0, big-endian schema id, Avro binary) for
schema id 1 (schemas/event.avsc) and 2 (fuzz/schemas/event_v2.avsc), valid
ones and broken ones. Encoded by hand from the spec, so it needs no Avro
library. Run it after changing either schema: python3 fuzz/gen_corpus.py"""
import os, struct, sys

# The Avro primitives and the Confluent framing are the integration tests'.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
from avro_frame import zigzag as zz, enc_bytes as s, frame  # noqa: E402

def opt(enc=None):  # ["null", T]
    return zz(0) if enc is None else zz(1) + enc

def v1(user=b"u42", typ="query", ts=1763900000000, query="coffee near me", lat=55.676,
       lon=12.568, tz=60, page=None, in_store=None, lang="en"):
    return frame(1, b"".join([
        opt(s("e-17")), s(user), opt(s("s9")), opt(None if ts is None else zz(ts)), s(typ),
        opt(None if query is None else s(query)), opt(s("mobile")), opt(s("search")),
        opt(None if lang is None else s(lang)),
        opt(None if lat is None else struct.pack("<d", lat)),
        opt(None if lon is None else struct.pack("<d", lon)),
        opt(None if tz is None else zz(tz)), opt(None),
        opt(None if page is None else zz(page)),
        opt(None if in_store is None else bytes([in_store]))]))

def v2(depth=2, query=b"\x02" + s("how to fix a bike")):
    node = zz(0)
    for _ in range(depth):
        node = zz(1) + zz(2) + zz(0) + node  # Node{v: [null, null], next}
    return frame(2, b"".join([
        zz(2), opt(s("u7")), zz(2) + s("a") + s("b") + zz(0), s("page_view"),
        zz(-2) + zz(15) + s("k") + zz(1) + zz(3) + s("d") + zz(2) + struct.pack("<d", 1.5) + zz(0),
        s("Aarhus") + struct.pack("<f", 1.5), query, zz(2), b"\x01\x02\x03\x04",
        zz(1) + struct.pack("<f", 55.5), zz(1) + zz(12), zz(2) + zz(1763900000000),
        zz(4200), s(b"\xff\x00"), b"\x01", node]))

seeds = {
    "v1_query": v1(),
    "v1_minimal": v1(ts=None, query=None, lat=None, lon=None, tz=None, lang=None),
    "v1_page_view": v1(typ="page_view", query=None, page=4200, in_store=1),
    "v1_location": v1(typ="location", query=None, in_store=0),
    "v1_da": v1(query="køb billige sko nær mig", lang="da"),
    "v1_empty_user": v1(user=b""),
    "v1_bad_utf8": v1(user=b"u\xff"),
    "v1_unknown_type": v1(typ="teleport"),
    "v1_ts_seconds": v1(ts=1763900000),
    "v1_lat_range": v1(lat=91.0),
    "v1_tz_range": v1(tz=5000),
    "v1_long_query": v1(query="x" * 300),
    "v2_full": v2(),
    "v2_deep": v2(depth=40),
    "v2_query_bytes": v2(query=b"\x04" + s(b"bytes query")),
    "v2_query_null": v2(query=b"\x00"),
    "unknown_id": frame(99, b"\x00"),
    "header_only": frame(1, b""),
    "short": b"\0\0\0",
    "bad_union": frame(1, b"\x04"),
    "bad_varint": frame(1, b"\x02" + b"\xff" * 11),
    "huge_len": frame(1, b"\x02" + zz(1 << 62) + b"x"),
    "neg_len": frame(1, b"\x02" + zz(-5) + b"x"),
    "bad_bool": v1(in_store=7),
}
seeds["trailing"] = v1() + b"\0"
full = v1()
for cut in (6, 20, len(full) // 2, len(full) - 1):
    seeds["v1_cut_%d" % cut] = full[:cut]

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "fuzz_avro_decode")
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name + ".avro"), "wb") as f:
        f.write(data)
print("%d seeds in %s" % (len(seeds), out))
