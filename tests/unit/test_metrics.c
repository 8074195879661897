/* Metrics endpoint: exposition text, escaping, family rules, and the HTTP
 * endpoints answered over a real loopback socket. */
#include <arpa/inet.h>
#include <check.h>

#include "check_run.h"
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "app/metrics.h"

/* ---- helpers ----------------------------------------------------------- */

typedef struct {
    int status;
    char head[2048];
    char body[65536];
} http_reply_t;

/* A port nothing listens on right now (the kernel's pick, released). */
static uint16_t free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    socklen_t len = sizeof(sa);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

/* Starts the endpoint on a free loopback port (retries if another process
 * takes the port between the probe and the start). */
static mm_metrics_t *start_on_loopback(mm_metrics_collect_fn *collect, void *ctx) {
    char errstr[256] = "";
    for (int attempt = 0; attempt < 5; attempt++) {
        char listen[32];
        snprintf(listen, sizeof(listen), "127.0.0.1:%u", (unsigned)free_port());
        mm_metrics_t *m = mm_metrics_start(listen, collect, ctx, errstr, sizeof(errstr));
        if (m)
            return m;
    }
    ck_abort_msg("could not start the endpoint: %s", errstr);
    return NULL;
}

static void copy_bounded(char *dst, size_t size, const char *src) {
    size_t n = strlen(src);
    ck_assert_uint_lt(n, size);
    memcpy(dst, src, n + 1);
}

/* One request with a plain socket, HTTP/1.0: the server closes when done. */
static void http_request(uint16_t port, const char *method, const char *path,
                         http_reply_t *r) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons(port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    char req[256];
    int n = snprintf(req, sizeof(req), "%s %s HTTP/1.0\r\nHost: localhost\r\n\r\n", method,
                     path);
    ck_assert_int_eq(send(fd, req, (size_t)n, 0), n);
    static char raw[sizeof(r->head) + sizeof(r->body)];
    size_t len = 0;
    ssize_t got;
    while (len < sizeof(raw) - 1 && (got = recv(fd, raw + len, sizeof(raw) - 1 - len, 0)) > 0)
        len += (size_t)got;
    close(fd);
    raw[len] = '\0';
    char *sep = strstr(raw, "\r\n\r\n");
    ck_assert_msg(sep != NULL, "no header end in: %s", raw);
    *sep = '\0';
    copy_bounded(r->head, sizeof(r->head), raw);
    copy_bounded(r->body, sizeof(r->body), sep + 4);
    ck_assert_int_eq(sscanf(raw, "HTTP/1.%*d %d", &r->status), 1);
}

static char *render(mm_metrics_collect_fn *collect, void *ctx) {
    char errstr[256] = "";
    size_t len = 0;
    char *text = mm_metrics_render(collect, ctx, &len, errstr, sizeof(errstr));
    ck_assert_msg(text != NULL, "render failed: %s", errstr);
    ck_assert_uint_eq(strlen(text), len);
    return text;
}

static size_t count_of(const char *hay, const char *needle) {
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* ---- collect callbacks -------------------------------------------------- */

static void collect_app_like(mm_metrics_writer_t *w, void *ctx) {
    (void)ctx;
    mm_metrics_counter(w, "mm_events_in_total", "Input records consumed.", NULL, 1234);
    mm_metrics_counter(w, "mm_moments_out_total", "Moments produced, by type.",
                       MM_LABELS("moment", "know"), 10);
    mm_metrics_counter(w, "mm_moments_out_total", "Moments produced, by type.",
                       MM_LABELS("moment", "buy"), 3);
    mm_metrics_gauge(w, "mm_consumer_lag", "Records behind the partition's end.",
                     MM_LABELS("topic", "events", "partition", "3"), 42);
    mm_metrics_gauge(w, "mm_build_info", "Build of the running binary.",
                     MM_LABELS("version", "0.1.0"), 1);
}

static void collect_escapes(mm_metrics_writer_t *w, void *ctx) {
    (void)ctx;
    mm_metrics_gauge(w, "mm_test", "help with \\ and\nnewline",
                     MM_LABELS("v", "a\\b\"c\nd", "bad", "x\xff" "y"), 1);
}

static void collect_split_family(mm_metrics_writer_t *w, void *ctx) {
    (void)ctx;
    mm_metrics_counter(w, "mm_a_total", "a", NULL, 1);
    mm_metrics_counter(w, "mm_b_total", "b", NULL, 1);
    mm_metrics_counter(w, "mm_a_total", "a", NULL, 2);
}

static void collect_bad_name(mm_metrics_writer_t *w, void *ctx) {
    (void)ctx;
    mm_metrics_gauge(w, "mm-bad", "dash", NULL, 1);
}

static void collect_reserved_label(mm_metrics_writer_t *w, void *ctx) {
    (void)ctx;
    mm_metrics_gauge(w, "mm_x", "x", MM_LABELS("le", "1"), 1);
}

static void collect_values(mm_metrics_writer_t *w, void *ctx) {
    (void)ctx;
    mm_metrics_gauge(w, "mm_v", "v", MM_LABELS("k", "int"), 9007199254740991.0);
    mm_metrics_gauge(w, "mm_v", "v", MM_LABELS("k", "big"), 18446744073709551616.0);
    mm_metrics_gauge(w, "mm_v", "v", MM_LABELS("k", "frac"), 0.1);
    mm_metrics_gauge(w, "mm_v", "v", MM_LABELS("k", "inf"), 1.0 / 0.0);
    mm_metrics_gauge(w, "mm_v", "v", MM_LABELS("k", "nan"), 0.0 / 0.0);
    mm_metrics_gauge(w, "mm_v", "v", MM_LABELS("k", "neg"), -7);
}

static void collect_histogram(mm_metrics_writer_t *w, void *ctx) {
    mm_metrics_histogram(w, "mm_processing_latency_seconds", "Record to acknowledged output.",
                         NULL, ctx);
}

/* Writes how many times it was called: each render shows its own number. */
static void collect_counting(mm_metrics_writer_t *w, void *ctx) {
    int *calls = ctx;
    mm_metrics_counter(w, "mm_renders_total", "Renders.", NULL, ++*calls);
}

/* ---- tests --------------------------------------------------------------- */

START_TEST(test_metrics_endpoint_serves_exposition) {
    mm_metrics_t *m = start_on_loopback(collect_app_like, NULL);
    http_reply_t *r = calloc(1, sizeof(*r));
    http_request(mm_metrics_port(m), "GET", "/metrics", r);
    ck_assert_int_eq(r->status, 200);
    ck_assert_msg(strstr(r->head, "text/plain; version=0.0.4") != NULL, "%s", r->head);
    ck_assert_str_eq(r->body,
                     "# HELP mm_events_in_total Input records consumed.\n"
                     "# TYPE mm_events_in_total counter\n"
                     "mm_events_in_total 1234\n"
                     "# HELP mm_moments_out_total Moments produced, by type.\n"
                     "# TYPE mm_moments_out_total counter\n"
                     "mm_moments_out_total{moment=\"know\"} 10\n"
                     "mm_moments_out_total{moment=\"buy\"} 3\n"
                     "# HELP mm_consumer_lag Records behind the partition's end.\n"
                     "# TYPE mm_consumer_lag gauge\n"
                     "mm_consumer_lag{topic=\"events\",partition=\"3\"} 42\n"
                     "# HELP mm_build_info Build of the running binary.\n"
                     "# TYPE mm_build_info gauge\n"
                     "mm_build_info{version=\"0.1.0\"} 1\n");
    free(r);
    mm_metrics_stop(m);
}
END_TEST

START_TEST(test_metrics_help_and_type_once_per_family) {
    char *text = render(collect_app_like, NULL);
    ck_assert_uint_eq(count_of(text, "# TYPE mm_moments_out_total "), 1);
    ck_assert_uint_eq(count_of(text, "# HELP mm_moments_out_total "), 1);
    ck_assert_uint_eq(count_of(text, "mm_moments_out_total{"), 2);
    free(text);
}
END_TEST

START_TEST(test_metrics_label_values_escaped) {
    char *text = render(collect_escapes, NULL);
    ck_assert_str_eq(text, "# HELP mm_test help with \\\\ and\\nnewline\n"
                           "# TYPE mm_test gauge\n"
                           "mm_test{v=\"a\\\\b\\\"c\\nd\",bad=\"x\xEF\xBF\xBDy\"} 1\n");
    free(text);
}
END_TEST

START_TEST(test_metrics_values_formatted) {
    char *text = render(collect_values, NULL);
    ck_assert_ptr_nonnull(strstr(text, "mm_v{k=\"int\"} 9007199254740991\n"));
    ck_assert_ptr_nonnull(strstr(text, "mm_v{k=\"big\"} 1.8446744073709552e+19\n"));
    ck_assert_ptr_nonnull(strstr(text, "mm_v{k=\"frac\"} 0.1\n"));
    ck_assert_ptr_nonnull(strstr(text, "mm_v{k=\"inf\"} +Inf\n"));
    ck_assert_ptr_nonnull(strstr(text, "mm_v{k=\"nan\"} NaN\n"));
    ck_assert_ptr_nonnull(strstr(text, "mm_v{k=\"neg\"} -7\n"));
    free(text);
}
END_TEST

START_TEST(test_metrics_misuse_fails_the_scrape) {
    static const struct {
        mm_metrics_collect_fn *fn;
        const char *reason;
    } rows[] = {
        {collect_split_family, "not consecutive"},
        {collect_bad_name, "invalid metric name"},
        {collect_reserved_label, "invalid label 'le'"},
    };
    char errstr[256] = "";
    size_t len;
    char *text = mm_metrics_render(rows[_i].fn, NULL, &len, errstr, sizeof(errstr));
    ck_assert_ptr_null(text);
    ck_assert_msg(strstr(errstr, rows[_i].reason) != NULL, "row %d: %s", _i, errstr);
}
END_TEST

START_TEST(test_metrics_misuse_answers_500) {
    mm_metrics_t *m = start_on_loopback(collect_split_family, NULL);
    http_reply_t *r = calloc(1, sizeof(*r));
    http_request(mm_metrics_port(m), "GET", "/metrics", r);
    ck_assert_int_eq(r->status, 500);
    free(r);
    mm_metrics_stop(m);
}
END_TEST

START_TEST(test_metrics_histogram_exposition_in_seconds) {
    mm_histogram_t *h = mm_histogram_new();
    mm_histogram_record_us(h, 40);        /* <= 50 us */
    mm_histogram_record_us(h, 90);        /* <= 100 us */
    mm_histogram_record_us(h, 2000);      /* <= 2.5 ms */
    mm_histogram_record_us(h, 60000000);  /* past 10 s: +Inf only */
    char *text = render(collect_histogram, h);
    ck_assert_uint_eq(count_of(text, "# TYPE mm_processing_latency_seconds histogram\n"), 1);
    ck_assert_ptr_nonnull(strstr(text, "mm_processing_latency_seconds_bucket{le=\"5e-05\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(text, "mm_processing_latency_seconds_bucket{le=\"0.0001\"} 2\n"));
    ck_assert_ptr_nonnull(strstr(text, "mm_processing_latency_seconds_bucket{le=\"0.001\"} 2\n"));
    ck_assert_ptr_nonnull(strstr(text, "mm_processing_latency_seconds_bucket{le=\"0.0025\"} 3\n"));
    ck_assert_ptr_nonnull(strstr(text, "mm_processing_latency_seconds_bucket{le=\"10\"} 3\n"));
    ck_assert_ptr_nonnull(strstr(text, "mm_processing_latency_seconds_bucket{le=\"+Inf\"} 4\n"));
    ck_assert_ptr_nonnull(strstr(text, "mm_processing_latency_seconds_sum 60.00213\n"));
    ck_assert_ptr_nonnull(strstr(text, "mm_processing_latency_seconds_count 4\n"));
    /* cumulative: never decreasing down the page */
    double prev = -1;
    for (const char *p = text; (p = strstr(p, "_bucket{")); p++) {
        double v = strtod(strchr(p, '}') + 1, NULL);
        ck_assert(v >= prev);
        prev = v;
    }
    free(text);
    mm_histogram_destroy(h);
}
END_TEST

START_TEST(test_metrics_readyz_503_until_ready) {
    mm_metrics_t *m = start_on_loopback(NULL, NULL);
    http_reply_t *r = calloc(1, sizeof(*r));
    http_request(mm_metrics_port(m), "GET", "/readyz", r);
    ck_assert_int_eq(r->status, 503);
    mm_metrics_set_ready(m, true);
    http_request(mm_metrics_port(m), "GET", "/readyz", r);
    ck_assert_int_eq(r->status, 200);
    mm_metrics_set_ready(m, false); /* revoked: not ready again */
    http_request(mm_metrics_port(m), "GET", "/readyz", r);
    ck_assert_int_eq(r->status, 503);
    free(r);
    mm_metrics_stop(m);
}
END_TEST

START_TEST(test_metrics_healthz_ok) {
    mm_metrics_t *m = start_on_loopback(NULL, NULL);
    http_reply_t *r = calloc(1, sizeof(*r));
    http_request(mm_metrics_port(m), "GET", "/healthz", r);
    ck_assert_int_eq(r->status, 200);
    ck_assert_str_eq(r->body, "ok\n");
    free(r);
    mm_metrics_stop(m);
}
END_TEST

START_TEST(test_metrics_unknown_path_and_method) {
    mm_metrics_t *m = start_on_loopback(NULL, NULL);
    http_reply_t *r = calloc(1, sizeof(*r));
    http_request(mm_metrics_port(m), "GET", "/nope", r);
    ck_assert_int_eq(r->status, 404);
    http_request(mm_metrics_port(m), "DELETE", "/metrics", r);
    ck_assert_int_eq(r->status, 405);
    ck_assert_msg(strstr(r->head, "Allow: GET, HEAD") != NULL, "%s", r->head);
    free(r);
    mm_metrics_stop(m);
}
END_TEST

START_TEST(test_metrics_port_zero_disables) {
    char errstr[256] = "";
    mm_metrics_t *m = mm_metrics_start("127.0.0.1:0", NULL, NULL, errstr, sizeof(errstr));
    ck_assert_ptr_nonnull(m);
    ck_assert_uint_eq(mm_metrics_port(m), 0);
    mm_metrics_set_ready(m, true); /* a no-op, not a crash */
    mm_metrics_stop(m);
}
END_TEST

START_TEST(test_metrics_address_in_use_names_key) {
    mm_metrics_t *m = start_on_loopback(NULL, NULL);
    char listen[32], errstr[256] = "";
    snprintf(listen, sizeof(listen), "127.0.0.1:%u", (unsigned)mm_metrics_port(m));
    ck_assert_ptr_null(mm_metrics_start(listen, NULL, NULL, errstr, sizeof(errstr)));
    ck_assert_msg(strstr(errstr, "mm.metrics.listen") && strstr(errstr, "in use"), "%s",
                  errstr);
    mm_metrics_stop(m);
}
END_TEST

static const struct {
    const char *listen;
    bool ok;
    const char *host;
    unsigned port;
} listen_rows[] = {
    {"127.0.0.1:9464", true, "127.0.0.1", 9464},
    {"0.0.0.0:9464", true, "0.0.0.0", 9464},
    {"[::1]:9464", true, "::1", 9464},
    {"localhost:80", true, "localhost", 80},
    {":9464", true, "0.0.0.0", 9464},
    {"127.0.0.1:0", true, "127.0.0.1", 0},
    {"127.0.0.1", false, NULL, 0},
    {"127.0.0.1:", false, NULL, 0},
    {"127.0.0.1:65536", false, NULL, 0},
    {"127.0.0.1:9x", false, NULL, 0},
    {"::1:9464", false, NULL, 0},
    {"[::1:9464", false, NULL, 0},
};

START_TEST(test_metrics_listen_parsed) {
    char host[64] = "", errstr[256] = "";
    uint16_t port = 1;
    bool ok = mm_metrics_parse_listen(listen_rows[_i].listen, host, sizeof(host), &port,
                                      errstr, sizeof(errstr));
    ck_assert_msg(ok == listen_rows[_i].ok, "%s: %s", listen_rows[_i].listen, errstr);
    if (ok) {
        ck_assert_str_eq(host, listen_rows[_i].host);
        ck_assert_uint_eq(port, listen_rows[_i].port);
    } else {
        ck_assert_msg(strstr(errstr, "mm.metrics.listen") != NULL, "%s", errstr);
    }
}
END_TEST

START_TEST(test_metrics_burst_renders_once) {
    int calls = 0;
    mm_metrics_t *m = start_on_loopback(collect_counting, &calls);
    http_reply_t *r = calloc(1, sizeof(*r));
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 50; i++) {
        http_request(mm_metrics_port(m), "GET", "/metrics", r);
        ck_assert_int_eq(r->status, 200);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    /* one render per MM_METRICS_REUSE_MS at most, however slow this box is */
    ck_assert_msg(calls <= 1 + ms / MM_METRICS_REUSE_MS, "%d renders for 50 scrapes in %ld ms",
                  calls, ms);
    int before = calls;
    usleep((MM_METRICS_REUSE_MS + 50) * 1000);
    http_request(mm_metrics_port(m), "GET", "/metrics", r);
    ck_assert_int_eq(calls, before + 1); /* then a fresh page */
    char want[64];
    snprintf(want, sizeof(want), "mm_renders_total %d\n", calls);
    ck_assert_msg(strstr(r->body, want) != NULL, "%s", r->body);
    free(r);
    mm_metrics_stop(m);
}
END_TEST

int main(void) {
    Suite *s = suite_create("metrics");
    TCase *tc;
    tc = tcase_create("endpoint_serves_exposition");
    tcase_add_test(tc, test_metrics_endpoint_serves_exposition);
    suite_add_tcase(s, tc);
    tc = tcase_create("help_and_type_once_per_family");
    tcase_add_test(tc, test_metrics_help_and_type_once_per_family);
    suite_add_tcase(s, tc);
    tc = tcase_create("label_values_escaped");
    tcase_add_test(tc, test_metrics_label_values_escaped);
    suite_add_tcase(s, tc);
    tc = tcase_create("values_formatted");
    tcase_add_test(tc, test_metrics_values_formatted);
    suite_add_tcase(s, tc);
    tc = tcase_create("misuse_fails_the_scrape");
    tcase_add_loop_test(tc, test_metrics_misuse_fails_the_scrape, 0, 3);
    tcase_add_test(tc, test_metrics_misuse_answers_500);
    suite_add_tcase(s, tc);
    tc = tcase_create("burst_renders_once");
    tcase_add_test(tc, test_metrics_burst_renders_once);
    suite_add_tcase(s, tc);
    tc = tcase_create("histogram_exposition_in_seconds");
    tcase_add_test(tc, test_metrics_histogram_exposition_in_seconds);
    suite_add_tcase(s, tc);
    tc = tcase_create("readyz_503_until_ready");
    tcase_add_test(tc, test_metrics_readyz_503_until_ready);
    suite_add_tcase(s, tc);
    tc = tcase_create("healthz_ok");
    tcase_add_test(tc, test_metrics_healthz_ok);
    suite_add_tcase(s, tc);
    tc = tcase_create("unknown_path_and_method");
    tcase_add_test(tc, test_metrics_unknown_path_and_method);
    suite_add_tcase(s, tc);
    tc = tcase_create("port_zero_disables");
    tcase_add_test(tc, test_metrics_port_zero_disables);
    suite_add_tcase(s, tc);
    tc = tcase_create("address_in_use_names_key");
    tcase_add_test(tc, test_metrics_address_in_use_names_key);
    suite_add_tcase(s, tc);
    tc = tcase_create("listen_parsed");
    tcase_add_loop_test(tc, test_metrics_listen_parsed, 0,
                        (int)(sizeof(listen_rows) / sizeof(listen_rows[0])));
    suite_add_tcase(s, tc);
    return mm_check_run(s);
}
