/*
 * Prometheus endpoint on libmicrohttpd (see metrics.h for the contract).
 *
 * One internal polling thread serves every connection with epoll (no
 * FD_SETSIZE limit, no cost per idle connection): scrapes are rare and
 * small, so a thread per connection would only add threads; it also means
 * the collect callback never runs twice at once. A health check waits at
 * most for the scrapes queued before it, each a render of the exposition
 * (tens of microseconds) and a send the kernel buffers. The exposition is
 * built in a growing buffer capped at MM_METRICS_MAX_BYTES and handed to
 * MHD, which frees it.
 */
#include "metrics.h"

#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "log.h"

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define MAX_FAMILIES 256 /* split-family detection covers this many */

struct mm_metrics_s {
    struct MHD_Daemon *mhd; /* NULL when disabled */
    uint16_t port;
    atomic_bool ready;
    mm_metrics_collect_fn *collect;
    void *ctx;
    const char *route_prefix;
    mm_metrics_route_fn *route;
    void *route_ctx;
    /* The last exposition, answered again for MM_METRICS_REUSE_MS: a burst
     * of scrapes costs one render, not one each (HTTP thread only). */
    struct MHD_Response *last;
    int64_t last_ms;
};

/* ---- writer ------------------------------------------------------------ */

struct mm_metrics_writer_s {
    char *buf;
    size_t len, cap;
    char err[256];
    char family[128]; /* family of the last sample */
    const char *type; /* its TYPE */
    uint64_t seen[MAX_FAMILIES]; /* hashes of the families finished so far */
    size_t n_seen;
};

static void fail(mm_metrics_writer_t *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void fail(mm_metrics_writer_t *w, const char *fmt, ...) {
    if (w->err[0])
        return; /* the first error is the one to fix */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->err, sizeof(w->err), fmt, ap);
    va_end(ap);
}

static bool reserve(mm_metrics_writer_t *w, size_t more) {
    if (w->err[0])
        return false;
    if (w->len + more + 1 <= w->cap)
        return true;
    if (w->len + more + 1 > MM_METRICS_MAX_BYTES) {
        fail(w, "exposition larger than %u bytes", MM_METRICS_MAX_BYTES);
        return false;
    }
    size_t cap = w->cap ? w->cap : 16384;
    while (cap < w->len + more + 1)
        cap *= 2;
    if (cap > MM_METRICS_MAX_BYTES)
        cap = MM_METRICS_MAX_BYTES;
    char *buf = realloc(w->buf, cap);
    if (!buf) {
        fail(w, "out of memory");
        return false;
    }
    w->buf = buf;
    w->cap = cap;
    return true;
}

static void put(mm_metrics_writer_t *w, const char *s, size_t n) {
    if (!reserve(w, n))
        return;
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
}

static void puts_(mm_metrics_writer_t *w, const char *s) { put(w, s, strlen(s)); }

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    size_t len;
    uint32_t cp, min;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, cp = c & 0x1F, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, cp = c & 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, cp = c & 0x07, min = 0x10000;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

/* Escapes per the exposition format: \ and newline always, " in label
 * values; invalid UTF-8 becomes U+FFFD (Prometheus rejects the page else). */
static void put_escaped(mm_metrics_writer_t *w, const char *s, bool quote) {
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    while (n > 0) {
        size_t run = 0; /* bytes that need nothing */
        size_t k;
        while (run < n && p[run] != '\\' && p[run] != '\n' && !(quote && p[run] == '"') &&
               (k = utf8_seq(p + run, n - run)) > 0)
            run += k;
        put(w, (const char *)p, run);
        p += run;
        n -= run;
        if (n == 0)
            break;
        if (*p == '\\')
            put(w, "\\\\", 2);
        else if (*p == '\n')
            put(w, "\\n", 2);
        else if (*p == '"')
            put(w, "\\\"", 2);
        else
            put(w, "\xEF\xBF\xBD", 3);
        p++;
        n--;
    }
}

static bool valid_name(const char *s, bool colon_ok) {
    if (!s || !*s)
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                     (colon_ok && c == ':');
        if (!alpha && !(p > s && c >= '0' && c <= '9'))
            return false;
    }
    return true;
}

static uint64_t fnv1a(const char *s) {
    uint64_t h = 1469598103934665603u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

/* HELP and TYPE before a family's first sample; checks the family rules.
 * @returns false when the sample must not be written. */
static bool begin_family(mm_metrics_writer_t *w, const char *name, const char *help,
                         const char *type) {
    if (w->err[0])
        return false;
    if (!valid_name(name, true) || strlen(name) >= sizeof(w->family)) {
        fail(w, "invalid metric name '%s'", name ? name : "(null)");
        return false;
    }
    if (strcmp(name, w->family) == 0) {
        if (strcmp(type, w->type) != 0) {
            fail(w, "%s: written as %s and as %s", name, w->type, type);
            return false;
        }
        return true;
    }
    uint64_t h = fnv1a(name);
    for (size_t i = 0; i < w->n_seen; i++)
        if (w->seen[i] == h) {
            fail(w, "%s: samples of the family are not consecutive", name);
            return false;
        }
    if (w->family[0] && w->n_seen < MAX_FAMILIES)
        w->seen[w->n_seen++] = fnv1a(w->family);
    strcpy(w->family, name);
    w->type = type;
    puts_(w, "# HELP ");
    puts_(w, name);
    put(w, " ", 1);
    put_escaped(w, help ? help : "", false);
    puts_(w, "\n# TYPE ");
    puts_(w, name);
    put(w, " ", 1);
    puts_(w, type);
    put(w, "\n", 1);
    return true;
}

/* name{labels[,le="..."]} */
static void put_series(mm_metrics_writer_t *w, const char *name, const char *suffix,
                       const char *const *labels, const char *le) {
    puts_(w, name);
    puts_(w, suffix);
    if ((!labels || !labels[0]) && !le)
        return;
    put(w, "{", 1);
    bool first = true;
    for (size_t i = 0; labels && labels[i]; i += 2) {
        const char *lname = labels[i], *value = labels[i + 1];
        if (!valid_name(lname, false) || strcmp(lname, "le") == 0 ||
            strncmp(lname, "__", 2) == 0 || !value) {
            fail(w, "%s: invalid label '%s'%s", name, lname, value ? "" : " (no value)");
            return;
        }
        if (!first)
            put(w, ",", 1);
        first = false;
        puts_(w, lname);
        put(w, "=\"", 2);
        put_escaped(w, value, true);
        put(w, "\"", 1);
    }
    if (le) {
        if (!first)
            put(w, ",", 1);
        puts_(w, "le=\"");
        puts_(w, le);
        put(w, "\"", 1);
    }
    put(w, "}", 1);
}

/* Shortest text that reads back as v; integers without exponent. */
static void format_value(double v, char *out, size_t size) {
    if (isnan(v)) {
        snprintf(out, size, "NaN");
    } else if (isinf(v)) {
        snprintf(out, size, v > 0 ? "+Inf" : "-Inf");
    } else if (v == floor(v) && fabs(v) < 9007199254740992.0) {
        snprintf(out, size, "%.0f", v);
    } else {
        snprintf(out, size, "%.15g", v);
        if (strtod(out, NULL) != v)
            snprintf(out, size, "%.17g", v);
    }
}

static void put_value(mm_metrics_writer_t *w, double v) {
    char num[40];
    format_value(v, num, sizeof(num));
    put(w, " ", 1);
    puts_(w, num);
    put(w, "\n", 1);
}

static void sample(mm_metrics_writer_t *w, const char *type, const char *name,
                   const char *help, const char *const *labels, double value) {
    if (!begin_family(w, name, help, type))
        return;
    put_series(w, name, "", labels, NULL);
    put_value(w, value);
}

void mm_metrics_counter(mm_metrics_writer_t *w, const char *name, const char *help,
                        const char *const *labels, double value) {
    sample(w, "counter", name, help, labels, value);
}

void mm_metrics_gauge(mm_metrics_writer_t *w, const char *name, const char *help,
                      const char *const *labels, double value) {
    sample(w, "gauge", name, help, labels, value);
}

/* Bucket bounds of the exposition: a 1-2.5-5 ladder from 50 us to 10 s,
 * enough for histogram_quantile() over a stream processor's latencies
 * without the 896 internal buckets on the wire. */
static const uint64_t le_us[] = {50,     100,     250,     500,     1000,    2500,
                                 5000,   10000,   25000,   50000,   100000,  250000,
                                 500000, 1000000, 2500000, 5000000, 10000000};
#define N_LE (sizeof(le_us) / sizeof(le_us[0]))

void mm_metrics_histogram(mm_metrics_writer_t *w, const char *name, const char *help,
                          const char *const *labels, const mm_histogram_t *h) {
    if (!begin_family(w, name, help, "histogram"))
        return;
    uint64_t cum[N_LE], count, sum_us;
    mm_histogram_cumulative(h, le_us, N_LE, cum, &count, &sum_us);
    char le[40];
    for (size_t i = 0; i < N_LE; i++) {
        format_value((double)le_us[i] / 1e6, le, sizeof(le));
        put_series(w, name, "_bucket", labels, le);
        put_value(w, (double)cum[i]);
    }
    put_series(w, name, "_bucket", labels, "+Inf");
    put_value(w, (double)count);
    put_series(w, name, "_sum", labels, NULL);
    put_value(w, (double)sum_us / 1e6);
    put_series(w, name, "_count", labels, NULL);
    put_value(w, (double)count);
}

const char *mm_metrics_writer_error(const mm_metrics_writer_t *w) {
    return w->err[0] ? w->err : NULL;
}

char *mm_metrics_render(mm_metrics_collect_fn *collect, void *ctx, size_t *len_out,
                        char *errstr, size_t errstr_size) {
    mm_metrics_writer_t *w = calloc(1, sizeof(*w));
    if (!w) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    w->type = "";
    if (reserve(w, 0)) /* an empty exposition is "", not what the heap held */
        w->buf[0] = '\0';
    if (collect)
        collect(w, ctx);
    char *out = NULL;
    if (w->err[0]) {
        snprintf(errstr, errstr_size, "%s", w->err);
        free(w->buf);
    } else {
        out = w->buf;
        *len_out = w->len;
    }
    free(w);
    return out;
}

/* ---- HTTP -------------------------------------------------------------- */

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status,
                             const char *body, size_t len, enum MHD_ResponseMemoryMode mode,
                             const char *content_type) {
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)body, mode);
    if (!resp) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free((void *)body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned status,
                                  const char *text) {
    return reply(conn, status, text, strlen(text), MHD_RESPMEM_PERSISTENT,
                 "text/plain; charset=utf-8");
}

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A libmicrohttpd response may be queued on any number of connections (it
 * is reference-counted), so one rendered exposition serves every scrape of
 * the next MM_METRICS_REUSE_MS. A failed render is never kept. */
static enum MHD_Result serve_metrics(mm_metrics_t *m, struct MHD_Connection *conn) {
    int64_t now = mono_ms();
    if (m->last && now - m->last_ms < MM_METRICS_REUSE_MS)
        return MHD_queue_response(conn, MHD_HTTP_OK, m->last);
    char errstr[300];
    size_t len = 0;
    char *text = mm_metrics_render(m->collect, m->ctx, &len, errstr, sizeof(errstr));
    if (!text) {
        mm_log_error("metrics: scrape failed: %s", errstr);
        return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
                          "exposition failed; the reason is in the log\n");
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE);
    if (m->last)
        MHD_destroy_response(m->last); /* connections still sending it keep it */
    m->last = resp;
    m->last_ms = now;
    return MHD_queue_response(conn, MHD_HTTP_OK, resp);
}

#define ROUTE_BODY_MAX 65536

static enum MHD_Result serve_route(mm_metrics_t *m, struct MHD_Connection *conn,
                                   const char *rest) {
    char *body = malloc(ROUTE_BODY_MAX);
    if (!body)
        return reply_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory\n");
    size_t len = 0;
    int status = m->route(rest, body, ROUTE_BODY_MAX, &len, m->route_ctx);
    return reply(conn, (unsigned)status, body, len, MHD_RESPMEM_MUST_FREE,
                 "application/json");
}

void mm_metrics_route(mm_metrics_t *m, const char *prefix, mm_metrics_route_fn *fn,
                      void *ctx) {
    if (!m)
        return;
    m->route_prefix = prefix;
    m->route_ctx = ctx;
    m->route = fn;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **req_cls) {
    (void)version;
    (void)upload_data;
    (void)req_cls;
    mm_metrics_t *m = cls;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        *upload_data_size = 0; /* a body is not read: the answer is the same */
        return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
    }
    if (strcmp(url, "/metrics") == 0)
        return serve_metrics(m, conn);
    if (strcmp(url, "/healthz") == 0)
        return reply_text(conn, MHD_HTTP_OK, "ok\n");
    if (strcmp(url, "/readyz") == 0) {
        bool ready = atomic_load_explicit(&m->ready, memory_order_relaxed);
        return ready ? reply_text(conn, MHD_HTTP_OK, "ready\n")
                     : reply_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "not ready\n");
    }
    if (m->route && strncmp(url, m->route_prefix, strlen(m->route_prefix)) == 0)
        return serve_route(m, conn, url + strlen(m->route_prefix));
    if (strcmp(url, "/") == 0)
        return reply_text(conn, MHD_HTTP_OK, "micromoment: /metrics /healthz /readyz\n");
    return reply_text(conn, MHD_HTTP_NOT_FOUND, "not found: try /metrics\n");
}

/* MHD's own messages (connection resets and the like) are debug noise. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    if (!mm_log_enabled(MM_LOG_DEBUG))
        return;
    char line[512];
    vsnprintf(line, sizeof(line), fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    mm_log_debug("metrics: libmicrohttpd: %s", line);
}

/* ---- start/stop -------------------------------------------------------- */

/* Resolves host:port and checks it can be bound, for an error that names
 * the cause (MHD_start_daemon only says NULL). MHD then binds it itself,
 * with SO_REUSEADDR as here, so the probe leaves nothing in its way. */
static bool resolve_and_probe(const char *host, uint16_t port, struct sockaddr_storage *sa,
                              socklen_t *sa_len, const char *listen, char *errstr,
                              size_t errstr_size) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV | AI_ADDRCONFIG};
    struct addrinfo *res = NULL;
    char service[8];
    snprintf(service, sizeof(service), "%u", (unsigned)port);
    int gai = getaddrinfo(host, service, &hints, &res);
    if (gai != 0 || !res) {
        snprintf(errstr, errstr_size, "mm.metrics.listen: '%s': %s", listen,
                 gai ? gai_strerror(gai) : "no address");
        if (res)
            freeaddrinfo(res);
        return false;
    }
    memcpy(sa, res->ai_addr, res->ai_addrlen);
    *sa_len = res->ai_addrlen;
    freeaddrinfo(res);
    int fd = socket(sa->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int on = 1;
    bool ok = fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == 0 &&
              bind(fd, (struct sockaddr *)sa, *sa_len) == 0;
    if (!ok)
        snprintf(errstr, errstr_size, "mm.metrics.listen: cannot listen on %s: %s", listen,
                 strerror(errno));
    if (fd >= 0)
        close(fd);
    return ok;
}

/* Connections the endpoint may hold: MM_METRICS_MAX_CONNECTIONS, within the
 * process's file limit, which is raised toward its hard limit for them
 * (Debian's shells start at 1024). FD_RESERVE files stay for the Kafka
 * clients, the logs and the rest of the process. */
#define FD_RESERVE 512u
static unsigned connection_limit(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 64;
    rlim_t want = MM_METRICS_MAX_CONNECTIONS + FD_RESERVE;
    if (rl.rlim_cur < want && rl.rlim_cur != RLIM_INFINITY) {
        rlim_t raised = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
        if (raised > rl.rlim_cur) {
            rl.rlim_cur = raised;
            setrlimit(RLIMIT_NOFILE, &rl);
            getrlimit(RLIMIT_NOFILE, &rl);
        }
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= want)
        return MM_METRICS_MAX_CONNECTIONS;
    return rl.rlim_cur > FD_RESERVE + 64 ? (unsigned)(rl.rlim_cur - FD_RESERVE) : 64;
}

mm_metrics_t *mm_metrics_start(const char *listen, mm_metrics_collect_fn *collect,
                               void *ctx, char *errstr, size_t errstr_size) {
    if (!listen || !*listen)
        listen = MM_METRICS_LISTEN_DEFAULT;
    char host[256];
    uint16_t port;
    if (!mm_metrics_parse_listen(listen, host, sizeof(host), &port, errstr, errstr_size))
        return NULL;
    mm_metrics_t *m = calloc(1, sizeof(*m));
    if (!m) {
        snprintf(errstr, errstr_size, "mm.metrics.listen: out of memory");
        return NULL;
    }
    atomic_init(&m->ready, false);
    m->collect = collect;
    m->ctx = ctx;
    if (port == 0)
        return m; /* disabled */
    struct sockaddr_storage sa;
    socklen_t sa_len = 0;
    if (!resolve_and_probe(host, port, &sa, &sa_len, listen, errstr, errstr_size))
        goto fail;
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    unsigned limit = connection_limit();
    if (sa.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    m->mhd = MHD_start_daemon(
        flags, port, NULL, NULL, on_request, m,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_CONNECTION_LIMIT, limit,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)MM_METRICS_TIMEOUT_S,
        /* a request's head; the exposition is a buffer of its own */
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(16 * 1024),
        /* a burst of connects waits in the kernel, not in SYN retries (1 s) */
        MHD_OPTION_LISTEN_BACKLOG_SIZE, limit,
        MHD_OPTION_END);
    if (!m->mhd) {
        snprintf(errstr, errstr_size, "mm.metrics.listen: cannot serve on %s: %s", listen,
                 errno ? strerror(errno) : "libmicrohttpd failed to start");
        goto fail;
    }
    m->port = port;
    return m;
fail:
    mm_metrics_stop(m);
    return NULL;
}

void mm_metrics_stop(mm_metrics_t *m) {
    if (!m)
        return;
    if (m->mhd)
        MHD_stop_daemon(m->mhd);
    if (m->last)
        MHD_destroy_response(m->last);
    free(m);
}

uint16_t mm_metrics_port(const mm_metrics_t *m) { return m ? m->port : 0; }

void mm_metrics_set_ready(mm_metrics_t *m, bool ready) {
    if (m)
        atomic_store_explicit(&m->ready, ready, memory_order_relaxed);
}
