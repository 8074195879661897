#include "log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../sinks/sinks.h"

static const char *log_prog = "micromoment";
static mm_log_level_t log_level = MM_LOG_INFO;
static mm_log_format_t log_format = MM_LOG_FORMAT_TEXT;

void mm_log_setup(const char *prog, mm_log_level_t level, mm_log_format_t format) {
    log_prog = prog;
    log_level = level;
    log_format = format;
}

int mm_log_enabled(mm_log_level_t level) { return level <= log_level; }

static const char *level_name(mm_log_level_t level) {
    switch (level) {
    case MM_LOG_ERROR: return "error";
    case MM_LOG_WARN: return "warn";
    case MM_LOG_INFO: return "info";
    default: return "debug";
    }
}

void mm_log(mm_log_level_t level, const char *fmt, ...) {
    if (!mm_log_enabled(level))
        return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[40];
    size_t n = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + n, sizeof(when) - n, ".%03ldZ", ts.tv_nsec / 1000000);

    /* One fputs per line so concurrent threads do not interleave lines. */
    char line[2600];
    if (log_format == MM_LOG_FORMAT_JSON) {
        mm_jw_t jw;
        mm_jw_init(&jw, line, sizeof(line) - 2);
        mm_jw_object_open(&jw);
        mm_jw_key(&jw, "ts");
        mm_jw_cstr(&jw, when);
        mm_jw_key(&jw, "level");
        mm_jw_cstr(&jw, level_name(level));
        mm_jw_key(&jw, "prog");
        mm_jw_cstr(&jw, log_prog);
        mm_jw_key(&jw, "msg");
        mm_jw_cstr(&jw, msg);
        mm_jw_object_close(&jw);
        if (!mm_jw_ok(&jw))
            return;
        line[jw.len] = '\n';
        line[jw.len + 1] = '\0';
    } else {
        snprintf(line, sizeof(line), "%s %s %s: %s\n", when, level_name(level),
                 log_prog, msg);
    }
    fputs(line, stderr);
}
