/*
 * Prometheus endpoint (libmicrohttpd, one internal polling thread).
 *
 *   GET /metrics   text exposition format 0.0.4, written by the app's collect
 *                  callback through the writer helpers below
 *   GET /healthz   200 "ok" while the process serves
 *   GET /readyz    200 "ready" once mm_metrics_set_ready(m, true), else 503
 *
 * The endpoint holds no metric of its own: the app keeps its counters where
 * the hot path can bump them without locks (per-thread counters, one
 * mm_histogram_t per worker) and the collect callback reads and sums them on
 * the HTTP thread at scrape time (at most once per MM_METRICS_REUSE_MS:
 * scrapes closer together get the same page).
 *
 * Bounds: at most MM_METRICS_MAX_CONNECTIONS connections at once (fewer
 * when the process may not open that many files), idle ones closed after
 * MM_METRICS_TIMEOUT_S, an exposition of at most MM_METRICS_MAX_BYTES (a
 * larger one is answered 500 and logged). The limit is far above what
 * Prometheus and health checkers need, so that slow or idle clients (100 of
 * them, each sending a header line every few seconds) or a burst of scrapes
 * (2,000 at once) cannot take every slot and lock /healthz out: measured in
 * tests/integration/test_metrics_live.sh.
 */
#ifndef MM_METRICS_H
#define MM_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../engine/histogram.h"

#define MM_METRICS_LISTEN_DEFAULT "127.0.0.1:9464"
#define MM_METRICS_MAX_CONNECTIONS 4096u
#define MM_METRICS_TIMEOUT_S 10u
#define MM_METRICS_MAX_BYTES (4u << 20)
/* A scrape within this long of the last one gets the same exposition. */
#define MM_METRICS_REUSE_MS 100

typedef struct mm_metrics_s mm_metrics_t;
typedef struct mm_metrics_writer_s mm_metrics_writer_t;

/**
 * @brief Writes the exposition: calls to mm_metrics_counter() and friends.
 * @locality the HTTP thread, one scrape at a time (never concurrently with
 *           itself); it must only read what other threads write.
 */
typedef void mm_metrics_collect_fn(mm_metrics_writer_t *w, void *ctx);

/**
 * Labels: NULL for none, or a NULL-terminated array of name, value pairs,
 * most easily a compound literal: MM_LABELS("topic", t, "partition", p).
 * Values are escaped here (backslash, double quote, newline; invalid UTF-8
 * becomes U+FFFD); names must match [a-zA-Z_][a-zA-Z0-9_]* and not be "le".
 */
#define MM_LABELS(...) ((const char *const[]){__VA_ARGS__, NULL})

/**
 * @brief Parse "HOST:PORT" ("127.0.0.1:9464", "[::1]:9464", "0.0.0.0:9464",
 * "localhost:9464"; ":9464" means every IPv4 interface).
 * @param host_out receives the host (brackets removed), NUL-terminated.
 * @returns false, with the reason in errstr, when it is not of that shape or
 *          the port is not in 0..65535. Port 0 is valid: it means disabled.
 */
bool mm_metrics_parse_listen(const char *listen, char *host_out, size_t host_size,
                             uint16_t *port_out, char *errstr, size_t errstr_size);

/**
 * @brief Start serving on @p listen (NULL or "": MM_METRICS_LISTEN_DEFAULT).
 * With port 0 nothing listens, but the handle is valid (every call on it
 * works and does nothing), so callers need no special case.
 * @param collect called per GET /metrics on the HTTP thread, with @p ctx
 *        (borrowed until mm_metrics_stop()); NULL serves an empty exposition.
 * @returns the endpoint, or NULL with the reason in errstr (bad address,
 *          address in use, no memory). The reason names mm.metrics.listen.
 * @locality any thread; the endpoint's own thread starts here.
 */
mm_metrics_t *mm_metrics_start(const char *listen, mm_metrics_collect_fn *collect,
                               void *ctx, char *errstr, size_t errstr_size);

/**
 * @brief Stop serving (waits for the HTTP thread: no collect call runs after
 * it returns) and free @p m. NULL is fine.
 */
void mm_metrics_stop(mm_metrics_t *m);

/** @brief The port served, 0 when disabled. */
uint16_t mm_metrics_port(const mm_metrics_t *m);

/**
 * Answers GET {prefix}{rest}: writes a JSON body into @p buf and returns the
 * HTTP status. Runs on the HTTP thread.
 */
typedef int mm_metrics_route_fn(const char *rest, char *buf, size_t cap, size_t *len,
                                void *ctx);

/** @brief Serve paths under @p prefix (a literal, e.g. "/users/") with @p fn
 * (one route; set before requests arrive). NULL @p m is fine. */
void mm_metrics_route(mm_metrics_t *m, const char *prefix, mm_metrics_route_fn *fn,
                      void *ctx);

/**
 * @brief What /readyz answers: true 200, false 503 (the start value).
 * @locality any thread (an atomic store); NULL is fine.
 */
void mm_metrics_set_ready(mm_metrics_t *m, bool ready);

/*
 * Writer helpers, for the collect callback. Samples of one metric family
 * must be written one after another; HELP and TYPE are written before the
 * family's first sample. A misuse (bad name, a family split in two, a type
 * change) or an exposition past MM_METRICS_MAX_BYTES fails the scrape with
 * 500 and a message naming it, rather than serving a page Prometheus rejects.
 */

/** @brief One counter sample (name should end in _total). */
void mm_metrics_counter(mm_metrics_writer_t *w, const char *name, const char *help,
                        const char *const *labels, double value);

/** @brief One gauge sample. */
void mm_metrics_gauge(mm_metrics_writer_t *w, const char *name, const char *help,
                      const char *const *labels, double value);

/**
 * @brief A histogram in seconds (name should end in _seconds): cumulative
 * name_bucket{le="..."} from 50 us to 10 s and +Inf, name_sum, name_count,
 * from one pass over @p h (microseconds).
 */
void mm_metrics_histogram(mm_metrics_writer_t *w, const char *name, const char *help,
                          const char *const *labels, const mm_histogram_t *h);

/** @brief The error that fails this scrape, or NULL. */
const char *mm_metrics_writer_error(const mm_metrics_writer_t *w);

/*
 * For tests and other front ends: the exposition as a string, without HTTP.
 * @returns a malloc'd NUL-terminated string (caller frees) and its length,
 * or NULL with the writer's error in errstr.
 */
char *mm_metrics_render(mm_metrics_collect_fn *collect, void *ctx, size_t *len_out,
                        char *errstr, size_t errstr_size);

#endif
