#!/usr/bin/env python3
"""A small, independent Avro binary codec for the integration tests (python3
here has no avro package, and the tests must not trust the product's own
codec). Written from the Avro 1.11 specification:

  null nothing | boolean one byte | int, long zig-zag varint | float, double
  IEEE little-endian | bytes, string varint length + bytes | record its
  fields in order | enum varint index | array, map blocks: count (negative:
  followed by a byte size), items, ending with a 0 count | union varint
  branch index + value | fixed its size in bytes

plus the Confluent wire format (magic 0x00, 4-byte big-endian schema id,
Avro body) and the binary-safe record stream kcat writes with
KCAT_FORMAT (see read_kcat).

Schemas are parsed JSON (dict/list/str), named types are resolved by name.
Only writing and reading with one schema (no resolution): resolution is what
the product under test does.
"""
import json
import struct
import sys

MAGIC = 0


# ------------------------------------------------------------------ schemas
class Schema:
    """A parsed schema with its named types, so "Node" can refer back."""

    def __init__(self, text_or_obj):
        self.root = json.loads(text_or_obj) if isinstance(text_or_obj, str) else text_or_obj
        self.named = {}
        self._collect(self.root, None)

    def _collect(self, s, ns):
        if isinstance(s, list):
            for b in s:
                self._collect(b, ns)
        elif isinstance(s, dict):
            t = s["type"]
            if t in ("record", "error", "enum", "fixed"):
                name = s["name"]
                ns2 = s.get("namespace", ns)
                full = name if "." in name or not ns2 else ns2 + "." + name
                self.named[full] = s
                self.named[name] = s
                if t in ("record", "error"):
                    for f in s["fields"]:
                        self._collect(f["type"], ns2)
            elif t == "array":
                self._collect(s["items"], ns)
            elif t == "map":
                self._collect(s["values"], ns)
            elif isinstance(t, (dict, list)):
                self._collect(t, ns)

    def resolve(self, s):
        if isinstance(s, str) and s in self.named:
            return self.named[s]
        if isinstance(s, dict) and isinstance(s["type"], (dict, list)):
            return self.resolve(s["type"])
        if isinstance(s, dict) and s["type"] in self.named and s["type"] not in PRIMS:
            return self.named[s["type"]]
        return s


PRIMS = ("null", "boolean", "int", "long", "float", "double", "bytes", "string")


def _tname(s):
    return s if isinstance(s, str) else (s["type"] if isinstance(s, dict) else "union")


# ------------------------------------------------------------------ writing
def zigzag(n):
    u = (n << 1) ^ (n >> 63)
    u &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = u & 0x7F
        u >>= 7
        if u:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def enc_bytes(b):
    if isinstance(b, str):
        b = b.encode("utf-8")
    return zigzag(len(b)) + b


def _matches(s, v, sch):
    t = _tname(sch.resolve(s))
    if t == "null":
        return v is None
    if t == "boolean":
        return isinstance(v, bool)
    if t in ("int", "long"):
        return isinstance(v, int) and not isinstance(v, bool)
    if t in ("float", "double"):
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if t == "string":
        return isinstance(v, str) or isinstance(v, (bytes, bytearray))
    if t == "bytes":
        return isinstance(v, (bytes, bytearray))
    if t in ("record", "map"):
        return isinstance(v, dict)
    if t == "array":
        return isinstance(v, list)
    if t == "enum":
        return isinstance(v, str)
    if t == "fixed":
        return isinstance(v, (bytes, bytearray))
    return False


def encode(sch, v, s=None):
    """Avro binary of datum v under schema s (default: the root)."""
    s = sch.root if s is None else s
    s = sch.resolve(s)
    if isinstance(s, list):  # union: first branch that fits
        for i, b in enumerate(s):
            if _matches(b, v, sch):
                return zigzag(i) + encode(sch, v, b)
        raise ValueError("no union branch of %r for %r" % (s, v))
    t = _tname(s)
    if t == "null":
        return b""
    if t == "boolean":
        return b"\x01" if v else b"\x00"
    if t in ("int", "long"):
        return zigzag(int(v))
    if t == "float":
        return struct.pack("<f", v)
    if t == "double":
        return struct.pack("<d", v)
    if t in ("string", "bytes"):
        return enc_bytes(v)  # str as UTF-8; bytes as given (may be invalid UTF-8)
    if t in ("record", "error"):
        out = []
        for f in s["fields"]:
            if f["name"] in v:
                out.append(encode(sch, v[f["name"]], f["type"]))
            elif "default" in f:
                out.append(encode(sch, f["default"], f["type"]))
            else:
                raise ValueError("record %s: no value for %s" % (s["name"], f["name"]))
        return b"".join(out)
    if t == "enum":
        return zigzag(s["symbols"].index(v))
    if t == "fixed":
        assert len(v) == s["size"]
        return bytes(v)
    if t == "array":
        if not v:
            return zigzag(0)
        return zigzag(len(v)) + b"".join(encode(sch, x, s["items"]) for x in v) + zigzag(0)
    if t == "map":
        if not v:
            return zigzag(0)
        return (zigzag(len(v)) + b"".join(enc_bytes(k) + encode(sch, x, s["values"])
                                          for k, x in v.items()) + zigzag(0))
    raise ValueError("unsupported schema %r" % (s,))


def frame(schema_id, body):
    return bytes([MAGIC]) + struct.pack(">I", schema_id) + body


# ------------------------------------------------------------------ reading
class Reader:
    def __init__(self, buf, pos=0):
        self.buf = buf
        self.pos = pos

    def take(self, n):
        if n < 0 or self.pos + n > len(self.buf):
            raise ValueError("truncated at %d (+%d of %d)" % (self.pos, n, len(self.buf)))
        b = self.buf[self.pos:self.pos + n]
        self.pos += n
        return b

    def varint(self):
        u = shift = 0
        while True:
            b = self.take(1)[0]
            u |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
            if shift > 63:
                raise ValueError("varint too long")
        return (u >> 1) ^ -(u & 1)


def decode(sch, r, s=None):
    """Reads one datum of schema s (default: the root) from Reader r."""
    s = sch.root if s is None else s
    s = sch.resolve(s)
    if isinstance(s, list):
        i = r.varint()
        if not 0 <= i < len(s):
            raise ValueError("union index %d" % i)
        return decode(sch, r, s[i])
    t = _tname(s)
    if t == "null":
        return None
    if t == "boolean":
        b = r.take(1)[0]
        if b > 1:
            raise ValueError("boolean byte %d" % b)
        return b == 1
    if t in ("int", "long"):
        return r.varint()
    if t == "float":
        return struct.unpack("<f", r.take(4))[0]
    if t == "double":
        return struct.unpack("<d", r.take(8))[0]
    if t == "bytes":
        return r.take(r.varint())
    if t == "string":
        return r.take(r.varint()).decode("utf-8")  # strict: the output must be UTF-8
    if t in ("record", "error"):
        return {f["name"]: decode(sch, r, f["type"]) for f in s["fields"]}
    if t == "enum":
        return s["symbols"][r.varint()]
    if t == "fixed":
        return r.take(s["size"])
    if t in ("array", "map"):
        out = [] if t == "array" else {}
        while True:
            n = r.varint()
            if n == 0:
                return out
            if n < 0:
                n = -n
                r.varint()  # block size in bytes
            for _ in range(n):
                if t == "array":
                    out.append(decode(sch, r, s["items"]))
                else:
                    k = r.take(r.varint()).decode("utf-8")
                    out[k] = decode(sch, r, s["values"])
    raise ValueError("unsupported schema %r" % (s,))


def unframe(sch, data):
    """(schema_id, datum) of one Confluent-framed record; the whole record
    must be consumed."""
    if len(data) < 5 or data[0] != MAGIC:
        raise ValueError("no Confluent header: %r" % data[:5])
    sid = struct.unpack(">I", data[1:5])[0]
    r = Reader(data, 5)
    v = decode(sch, r)
    if r.pos != len(data):
        raise ValueError("%d trailing bytes" % (len(data) - r.pos))
    return sid, v


# ----------------------------------------------------- kcat binary framing
# kcat -C -f "$KCAT_FORMAT": per record "P<partition> O<offset> K<keylen>:" then
# the key bytes, the payload length as a 4-byte big-endian int (%R, -1 for
# NULL), the payload bytes, then the headers (%h, "n=v,n=v") and the end
# mark. Binary-safe: the lengths say where key and payload end.
KCAT_FORMAT = r"P%p O%o K%K:%k%R%s%h\n<<END>>\n"
_END = b"\n<<END>>\n"


def read_kcat(data):
    """Records of a kcat stream written with KCAT_FORMAT: dicts with
    partition, offset, key (bytes or None), value (bytes or None), headers
    (dict of str; the text kcat prints)."""
    out = []
    pos = 0
    while pos < len(data):
        sp = data.index(b" ", pos)
        assert data[pos:pos + 1] == b"P", data[pos:pos + 40]
        partition = int(data[pos + 1:sp])
        sp2 = data.index(b" ", sp + 1)
        offset = int(data[sp + 2:sp2])
        colon = data.index(b":", sp2 + 1)
        klen = int(data[sp2 + 2:colon])
        pos = colon + 1
        key = None
        if klen >= 0:
            key = data[pos:pos + klen]
            pos += klen
        vlen = struct.unpack(">i", data[pos:pos + 4])[0]
        pos += 4
        value = None
        if vlen >= 0:
            value = data[pos:pos + vlen]
            pos += vlen
        end = data.index(_END, pos)
        htext = data[pos:end].decode("utf-8", "replace")
        pos = end + len(_END)
        headers = {}
        if htext:
            # "n=v,n=v": split on ",mm." so that a reason text with commas
            # stays whole (every header of ours starts with "mm.").
            for part in ("," + htext).split(",mm.")[1:]:
                n, _, v = part.partition("=")
                headers["mm." + n] = v
        out.append({"partition": partition, "offset": offset, "key": key,
                    "value": value, "headers": headers})
    return out


def read_kcat_file(path):
    with open(path, "rb") as f:
        return read_kcat(f.read())


# ------------------------------------------------- events of schemas/event.avsc
# Writer schema v1 is the reader schema itself (schemas/event.avsc). v2 is a
# producer's next version: the same fields in reverse order, page_load_ms
# written as int (the reader's is long: promotion), and fields the reader
# does not know, of every kind (int, string, double, array of records, map,
# enum, fixed), which schema resolution must skip.
V2_EXTRAS = ("accuracy_m", "sku", "currency", "price", "scroll_pct", "items")


def event_schemas(event_avsc_text):
    """(v1, v2) writer schemas, as JSON-able objects."""
    v1 = json.loads(event_avsc_text)
    v2 = json.loads(event_avsc_text)
    v2["doc"] = "A producer's next version: fields reordered, more fields."
    v2["fields"] = list(reversed(v2["fields"]))
    for f in v2["fields"]:
        if f["name"] == "page_load_ms":
            f["type"] = ["null", "int"]
    v2["fields"][3:3] = [
        {"name": "schema_rev", "type": "int"},
        {"name": "accuracy_m", "type": ["null", "int"], "default": None},
        {"name": "sku", "type": ["null", "string"], "default": None},
        {"name": "currency", "type": ["null", "string"], "default": None},
        {"name": "price", "type": ["null", "double"], "default": None},
        {"name": "scroll_pct", "type": ["null", "int"], "default": None},
        {"name": "items", "type": ["null", {"type": "array", "items": {
            "type": "record", "name": "Item", "fields": [
                {"name": "sku", "type": "string"}, {"name": "qty", "type": "int"}]}}],
         "default": None},
        {"name": "attrs", "type": {"type": "map", "values": "string"}},
        {"name": "tier", "type": {"type": "enum", "name": "Tier", "symbols": ["FREE", "PRO"]}},
        {"name": "hash", "type": {"type": "fixed", "name": "Hash4", "size": 4}},
    ]
    return v1, v2


class EventEncoder:
    """Confluent-framed Avro of input events (dicts as in the JSON contract;
    a missing field is null) under writer schema v1 or v2."""

    def __init__(self, event_avsc_text, id_v1, id_v2):
        v1, v2 = event_schemas(event_avsc_text)
        self.v1_obj, self.v2_obj = v1, v2
        self.s1, self.s2 = Schema(v1), Schema(v2)
        self.fields = [f["name"] for f in v1["fields"]]
        self.id_v1, self.id_v2 = id_v1, id_v2

    def v1(self, ev, sid=None):
        return frame(self.id_v1 if sid is None else sid,
                     encode(self.s1, {k: ev.get(k) for k in self.fields}))

    def v2(self, ev, sid=None):
        d = {k: ev.get(k) for k in self.fields}
        d.update({k: ev.get(k) for k in V2_EXTRAS})
        d.update(schema_rev=2, attrs={"ab": "b", "src": "it"}, tier="PRO",
                 hash=b"\x01\x02\x03\xff")
        return frame(self.id_v2 if sid is None else sid, encode(self.s2, d))


# ------------------------------------------------------ kcat binary producing
# kcat -P -K "$KCAT_KEY_DELIM" -D "$KCAT_REC_DELIM" -l FILE reads
# key KEY_DELIM value REC_DELIM ...: binary-safe as long as no key or value
# contains a delimiter (write_kcat_input checks).
KCAT_KEY_DELIM = r"\x1f\x1f<k>\x1f"
KCAT_REC_DELIM = r"\x1e\x1e<r>\x1e"
_KD = b"\x1f\x1f<k>\x1f"
_RD = b"\x1e\x1e<r>\x1e"


def write_kcat_input(path, records):
    """records: (key bytes, value bytes) in the order to produce."""
    with open(path, "wb") as f:
        for key, value in records:
            for d in (_KD, _RD):
                if d in key or d in value:
                    raise ValueError("delimiter in record %r" % ((key, value[:40]),))
            f.write(key + _KD + value + _RD)


def _selftest():
    sch = Schema({"type": "record", "name": "R", "fields": [
        {"name": "a", "type": ["null", "string"]}, {"name": "b", "type": "long"},
        {"name": "c", "type": {"type": "array", "items": "double"}},
        {"name": "d", "type": ["null", {"type": "record", "name": "N", "fields": [
            {"name": "x", "type": "int"}, {"name": "n", "type": ["null", "N"]}]}]},
        {"name": "e", "type": {"type": "map", "values": "boolean"}}]})
    v = {"a": "hé", "b": -1763900000000, "c": [1.5, -2.0],
         "d": {"x": 3, "n": {"x": -4, "n": None}}, "e": {"k": True}}
    body = encode(sch, v)
    assert zigzag(0) == b"\x00" and zigzag(-1) == b"\x01" and zigzag(64) == b"\x80\x01"
    sid, back = unframe(sch, frame(7, body))
    assert sid == 7 and back == v, back
    print("avro_frame self-test ok")


if __name__ == "__main__":
    if sys.argv[1:] == ["selftest"]:
        _selftest()
    elif sys.argv[1:2] == ["const"]:  # avro_frame.py const NAME: for shell scripts
        print(globals()[sys.argv[2]])
