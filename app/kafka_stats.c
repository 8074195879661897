/*
 * librdkafka's statistics, read as JSON. The document is
 *   {..., "brokers": {"<name>": {"nodeid": 1, "nodename": "host:port",
 *                                "rtt": {"avg": <us>, ...}, ...}, ...}, ...}
 * where one broker can appear more than once: the logical
 * "GroupCoordinator" entry ("source": "logical") carries the node id and
 * host:port of the broker that coordinates the group (librdkafka 2.0.2),
 * and a bootstrap entry ("configured") may stand beside the "learned" one.
 * So logical entries are left out and a node id is written once.
 *
 * A small recursive-descent reader over the buffer, enough for this shape:
 * values are skipped unless wanted, strings are taken raw (a host name has
 * no escapes; one that had would only show escaped), nesting is bounded.
 */
#include "kafka_stats.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 32

typedef struct reader_s {
    const char *p, *end;
} reader_t;

typedef struct view_s {
    const char *s;
    size_t len;
} view_t;

static void ws(reader_t *r) {
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

static bool eat(reader_t *r, char c) {
    ws(r);
    if (r->p < r->end && *r->p == c) {
        r->p++;
        return true;
    }
    return false;
}

static bool string(reader_t *r, view_t *out) {
    if (!eat(r, '"'))
        return false;
    const char *start = r->p;
    while (r->p < r->end && *r->p != '"') {
        if (*r->p == '\\' && r->p + 1 < r->end)
            r->p++;
        r->p++;
    }
    if (r->p >= r->end)
        return false;
    out->s = start;
    out->len = (size_t)(r->p - start);
    r->p++;
    return true;
}

static bool number(reader_t *r, double *out) {
    ws(r);
    char buf[64];
    size_t n = 0;
    while (r->p + n < r->end && n < sizeof(buf) - 1 && strchr("+-0123456789.eE", r->p[n]))
        n++;
    if (n == 0)
        return false;
    memcpy(buf, r->p, n);
    buf[n] = '\0';
    char *stop;
    *out = strtod(buf, &stop);
    if (stop != buf + n)
        return false;
    r->p += n;
    return true;
}

static bool skip(reader_t *r, int depth);

/* Walks the object at r->p: for each member, @p member consumes the value
 * (or returns false to have it skipped). */
typedef bool member_fn(reader_t *r, view_t key, void *ctx, int depth, bool *ok);

static bool object(reader_t *r, int depth, member_fn *member, void *ctx) {
    if (depth > MAX_DEPTH || !eat(r, '{'))
        return false;
    if (eat(r, '}'))
        return true;
    do {
        view_t key;
        if (!string(r, &key) || !eat(r, ':'))
            return false;
        bool ok = true;
        if (!(member && member(r, key, ctx, depth, &ok)) && !skip(r, depth + 1))
            return false;
        if (!ok)
            return false;
    } while (eat(r, ','));
    return eat(r, '}');
}

static bool skip(reader_t *r, int depth) {
    ws(r);
    if (r->p >= r->end || depth > MAX_DEPTH)
        return false;
    view_t v;
    double d;
    switch (*r->p) {
    case '{': return object(r, depth, NULL, NULL);
    case '[':
        r->p++;
        if (eat(r, ']'))
            return true;
        do {
            if (!skip(r, depth + 1))
                return false;
        } while (eat(r, ','));
        return eat(r, ']');
    case '"': return string(r, &v);
    case 't': case 'f': case 'n': {
        static const char *const words[] = {"true", "false", "null"};
        for (size_t i = 0; i < 3; i++) {
            size_t n = strlen(words[i]);
            if ((size_t)(r->end - r->p) >= n && memcmp(r->p, words[i], n) == 0) {
                r->p += n;
                return true;
            }
        }
        return false;
    }
    default: return number(r, &d);
    }
}

static bool key_is(view_t key, const char *name) {
    return key.len == strlen(name) && memcmp(key.s, name, key.len) == 0;
}

typedef struct broker_s {
    double nodeid, rtt_avg_us;
    view_t nodename, source;
    bool has_id, has_rtt;
} broker_t;

static bool on_rtt(reader_t *r, view_t key, void *ctx, int depth, bool *ok) {
    (void)depth;
    broker_t *b = ctx;
    if (!key_is(key, "avg"))
        return false;
    *ok = number(r, &b->rtt_avg_us);
    b->has_rtt = *ok;
    return true;
}

static bool on_broker_field(reader_t *r, view_t key, void *ctx, int depth, bool *ok) {
    broker_t *b = ctx;
    if (key_is(key, "nodeid")) {
        *ok = b->has_id = number(r, &b->nodeid);
    } else if (key_is(key, "nodename")) {
        *ok = string(r, &b->nodename);
    } else if (key_is(key, "source")) {
        *ok = string(r, &b->source);
    } else if (key_is(key, "rtt")) {
        *ok = object(r, depth + 1, on_rtt, b);
    } else {
        return false;
    }
    return true;
}

#define MAX_BROKERS 256 /* node ids remembered per document */

typedef struct emit_s {
    mm_metrics_writer_t *w;
    const char *client;
    int32_t written[MAX_BROKERS];
    size_t n_written;
} emit_t;

/* A real broker (not a logical one), with a node id not written yet. */
static bool wanted(emit_t *e, const broker_t *b) {
    if (!b->has_id || b->nodeid < 0 || b->nodeid >= 2147483648.0 || !b->has_rtt ||
        (b->source.s && key_is(b->source, "logical")))
        return false;
    int32_t id = (int32_t)b->nodeid;
    for (size_t i = 0; i < e->n_written; i++)
        if (e->written[i] == id)
            return false;
    if (e->n_written == MAX_BROKERS)
        return false;
    e->written[e->n_written++] = id;
    return true;
}

static bool on_broker(reader_t *r, view_t key, void *ctx, int depth, bool *ok) {
    (void)key;
    emit_t *e = ctx;
    broker_t b = {0};
    *ok = object(r, depth + 1, on_broker_field, &b);
    if (*ok && wanted(e, &b)) {
        char id[16], host[256];
        snprintf(id, sizeof(id), "%d", (int)b.nodeid);
        snprintf(host, sizeof(host), "%.*s", (int)b.nodename.len, b.nodename.s);
        mm_metrics_gauge(e->w, "mm_kafka_broker_rtt_seconds",
                         "Broker round-trip time (librdkafka's average), per broker node id.",
                         MM_LABELS("client", e->client, "broker_id", id, "broker", host),
                         b.rtt_avg_us / 1e6);
    }
    return true;
}

static bool on_top(reader_t *r, view_t key, void *ctx, int depth, bool *ok) {
    if (!key_is(key, "brokers"))
        return false;
    *ok = object(r, depth + 1, on_broker, ctx);
    return true;
}

void mm_kafka_stats_broker_rtts(mm_metrics_writer_t *w, const char *client,
                                const char *json, size_t len) {
    reader_t r = {.p = json, .end = json + len};
    emit_t e = {.w = w, .client = client};
    object(&r, 0, on_top, &e);
}
