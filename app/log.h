/* Operator-facing logging to stderr: one line per message, with a level. */
#ifndef MM_LOG_H
#define MM_LOG_H

#include <stdarg.h>

typedef enum {
    MM_LOG_ERROR = 3, /* syslog levels, as librdkafka's log callback uses */
    MM_LOG_WARN = 4,
    MM_LOG_INFO = 6,
    MM_LOG_DEBUG = 7
} mm_log_level_t;

typedef enum { MM_LOG_FORMAT_TEXT, MM_LOG_FORMAT_JSON } mm_log_format_t;

/** @brief Set once at start-up, before any thread logs. */
void mm_log_setup(const char *prog, mm_log_level_t level, mm_log_format_t format);
int mm_log_enabled(mm_log_level_t level);
void mm_log(mm_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define mm_log_error(...) mm_log(MM_LOG_ERROR, __VA_ARGS__)
#define mm_log_warn(...) mm_log(MM_LOG_WARN, __VA_ARGS__)
#define mm_log_info(...) mm_log(MM_LOG_INFO, __VA_ARGS__)
#define mm_log_debug(...) mm_log(MM_LOG_DEBUG, __VA_ARGS__)

#endif
