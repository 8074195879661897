/* The Schema Registry client's connection: basic auth from the URL's user
 * info or from user.info, credentials never in a message, and registering
 * a schema (POST /subjects/{subject}/versions). A one-thread HTTP server
 * records the last request and answers what the test set. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check_run.h"
#include "consumer/consumer.h"

typedef struct server_s {
    int fd, port;
    pthread_t thread;
    int status;            /* the answer */
    const char *answer;
    char request[8192];    /* the last request, head and body */
} server_t;

static void *server_main(void *arg) {
    server_t *srv = arg;
    int c;
    while ((c = accept(srv->fd, NULL, NULL)) >= 0) {
        size_t n = 0;
        ssize_t r;
        char *end = NULL;
        /* Head, then as much body as Content-Length says. */
        while (n < sizeof(srv->request) - 1 &&
               (r = read(c, srv->request + n, sizeof(srv->request) - 1 - n)) > 0) {
            n += (size_t)r;
            srv->request[n] = '\0';
            if (!end && (end = strstr(srv->request, "\r\n\r\n")) != NULL)
                end += 4;
            if (end) {
                const char *cl = strstr(srv->request, "Content-Length:");
                size_t want = cl && cl < end ? strtoul(cl + 15, NULL, 10) : 0;
                if (n >= (size_t)(end - srv->request) + want)
                    break;
            }
        }
        char resp[1024];
        int len = snprintf(resp, sizeof(resp),
                           "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                           "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                           srv->status, strlen(srv->answer), srv->answer);
        if (write(c, resp, (size_t)len) != len)
            break;
        close(c);
    }
    return NULL;
}

static server_t *server_start(int status, const char *answer) {
    server_t *srv = calloc(1, sizeof(*srv));
    srv->status = status;
    srv->answer = answer;
    srv->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    ck_assert_int_eq(bind(srv->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(srv->fd, 8), 0);
    getsockname(srv->fd, (struct sockaddr *)&a, &alen);
    srv->port = ntohs(a.sin_port);
    pthread_create(&srv->thread, NULL, server_main, srv);
    return srv;
}

static void server_stop(server_t *srv) {
    shutdown(srv->fd, SHUT_RDWR);
    close(srv->fd);
    pthread_join(srv->thread, NULL);
    free(srv);
}

/* The last request holds @p text; else fail showing the request. */
#define ck_assert_request_has(srv, text) \
    ck_assert_msg(strstr((srv)->request, (text)) != NULL, "%s", (srv)->request)

/* Asks the registry for schema id 7 through a decoder, as a record would. */
static mm_err_t ask(const char *url, const char *user_info, char *errstr, size_t size) {
    mm_avro_conf_t conf;
    mm_avro_conf_defaults(&conf);
    conf.registry_url = url;
    conf.registry_user_info = user_info;
    conf.registry_timeout_ms = 2000;
    mm_avro_decoder_t *dec = mm_avro_decoder_new(&conf, errstr, size);
    ck_assert_msg(dec != NULL, "%s", errstr);
    static const char record[] = {0, 0, 0, 0, 7, 2, 'x'};
    mm_decode_limits_t lim;
    mm_decode_limits_defaults(&lim);
    mm_event_t ev;
    mm_err_t err = mm_decode_avro(dec, record, sizeof(record), &lim, &ev, errstr, size);
    /* The request runs in the background: the record is asked again once
     * the answer is in. */
    while (err == MM_ERR_IO && mm_avro_decoder_busy(dec)) {
        mm_avro_decoder_wait(dec, 100);
        err = mm_decode_avro(dec, record, sizeof(record), &lim, &ev, errstr, size);
    }
    mm_avro_decoder_destroy(dec);
    return err;
}

/* Where the credentials come from, and the header the registry sees. */
static const struct {
    const char *url_format; /* %d: the server's port */
    const char *user_info;  /* mm.schema.registry.basic.auth.user.info */
    const char *header;     /* NULL: no Authorization header at all */
} auth_rows[] = {
    /* the URL's user info, percent-decoded ("s%40cret" is "s@cret");
     * base64("alice:s@cret") */
    {"http://alice:s%%40cret@127.0.0.1:%d/", NULL,
     "Authorization: Basic YWxpY2U6c0BjcmV0\r\n"},
    /* user.info, split at its first colon; base64("bob:pw:with:colons") */
    {"http://127.0.0.1:%d", "bob:pw:with:colons",
     "Authorization: Basic Ym9iOnB3OndpdGg6Y29sb25z\r\n"},
    {"http://127.0.0.1:%d", NULL, NULL},
};

START_TEST(test_credentials_become_basic_auth) {
    server_t *srv = server_start(404, "{}");
    char url[128], err[512];
    snprintf(url, sizeof(url), auth_rows[_i].url_format, srv->port);
    ck_assert_int_eq(ask(url, auth_rows[_i].user_info, err, sizeof(err)),
                     MM_ERR_UNKNOWN_SCHEMA);
    /* the request line carries no user info */
    ck_assert_request_has(srv, "GET /schemas/ids/7 HTTP/1.1\r\n");
    if (auth_rows[_i].header)
        ck_assert_request_has(srv, auth_rows[_i].header);
    else
        ck_assert_msg(!strstr(srv->request, "Authorization:"), "%s", srv->request);
    server_stop(srv);
}
END_TEST

START_TEST(test_messages_never_carry_credentials) {
    server_t *srv = server_start(500, "{\"message\":\"down\"}");
    char url[128], err[512];
    snprintf(url, sizeof(url), "http://alice:topsecret@127.0.0.1:%d", srv->port);
    ck_assert_int_eq(ask(url, NULL, err, sizeof(err)), MM_ERR_IO);
    ck_assert_msg(strstr(err, "HTTP 500") && strstr(err, "127.0.0.1"), "%s", err);
    ck_assert_msg(!strstr(err, "topsecret") && !strstr(err, "alice"), "%s", err);
    int port = srv->port;
    server_stop(srv); /* now nothing listens there: a connection error */
    snprintf(url, sizeof(url), "http://alice:topsecret@127.0.0.1:%d", port);
    ck_assert_int_eq(ask(url, NULL, err, sizeof(err)), MM_ERR_IO);
    ck_assert_msg(!strstr(err, "topsecret") && !strstr(err, "alice"), "%s", err);
    char bad[] = "ftp://alice:topsecret@host/";
    mm_avro_conf_t conf;
    mm_avro_conf_defaults(&conf);
    conf.registry_url = bad;
    ck_assert_ptr_null(mm_avro_decoder_new(&conf, err, sizeof(err)));
    ck_assert_msg(strstr(err, "ftp://[masked]@host/") && !strstr(err, "topsecret"), "%s", err);
}
END_TEST

static mm_err_t register_at(server_t *srv, int32_t *id, char *err, size_t size) {
    char url[128];
    snprintf(url, sizeof(url), "http://u:p@127.0.0.1:%d/", srv->port);
    mm_avro_conf_t conf;
    mm_avro_conf_defaults(&conf);
    conf.registry_url = url;
    conf.registry_timeout_ms = 2000;
    static const char body[] = "{\"schema\":\"\\\"string\\\"\"}";
    return mm_avro_register_schema(&conf, "moments-value", body, sizeof(body) - 1, id, err,
                                   size);
}

START_TEST(test_register_posts_the_subject_and_reads_the_id) {
    server_t *srv = server_start(200, "{\"id\": 42}");
    char err[512];
    int32_t id = -1;
    ck_assert_msg(register_at(srv, &id, err, sizeof(err)) == MM_ERR_OK, "%s", err);
    ck_assert_int_eq(id, 42);
    ck_assert_request_has(srv, "POST /subjects/moments-value/versions HTTP/1.1\r\n");
    ck_assert_request_has(srv, "Content-Type: application/vnd.schemaregistry.v1+json\r\n");
    ck_assert_request_has(srv, "Authorization: Basic dTpw\r\n");
    ck_assert_request_has(srv, "\r\n\r\n{\"schema\":\"\\\"string\\\"\"}");
    server_stop(srv);
}
END_TEST

START_TEST(test_register_refused_says_why) {
    server_t *srv = server_start(409, "{\"error_code\":409,\"message\":\"incompatible\"}");
    char err[512];
    int32_t id = -1;
    ck_assert_int_eq(register_at(srv, &id, err, sizeof(err)), MM_ERR_IO);
    ck_assert_msg(strstr(err, "HTTP 409") && strstr(err, "incompatible"), "%s", err);
    ck_assert_int_eq(id, -1);
    server_stop(srv);
    srv = server_start(200, "{\"version\": 3}");
    ck_assert_int_eq(register_at(srv, &id, err, sizeof(err)), MM_ERR_IO);
    ck_assert_msg(strstr(err, "no \"id\""), "%s", err);
    server_stop(srv);
}
END_TEST

int main(void) {
    Suite *s = suite_create("registry");
    TCase *tc = tcase_create("registry_auth");
    tcase_add_loop_test(tc, test_credentials_become_basic_auth, 0,
                        (int)(sizeof(auth_rows) / sizeof(auth_rows[0])));
    tcase_add_test(tc, test_messages_never_carry_credentials);
    suite_add_tcase(s, tc);
    tc = tcase_create("registry_register");
    tcase_add_test(tc, test_register_posts_the_subject_and_reads_the_id);
    tcase_add_test(tc, test_register_refused_says_why);
    suite_add_tcase(s, tc);
    return mm_check_run(s);
}
