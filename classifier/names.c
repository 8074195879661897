/* Names and static tables shared by every module. */
#include <string.h>

#include "classifier.h"

static const char *const err_names[] = {
#define MM__ERR_NAME(name, text) #name,
    MM_ERR_MAP(MM__ERR_NAME)
#undef MM__ERR_NAME
};

static const char *const err_texts[] = {
#define MM__ERR_TEXT(name, text) text,
    MM_ERR_MAP(MM__ERR_TEXT)
#undef MM__ERR_TEXT
};

/* Stable names are the enum's suffix in lower case ("BAD_JSON" ->
 * "bad_json"), built once so that no caller allocates. */
static char err_lower[MM_ERR__COUNT][32];
static int err_lower_ready;

const char *mm_err_name(mm_err_t err) {
    if ((unsigned)err >= MM_ERR__COUNT)
        return "unknown";
    if (!__atomic_load_n(&err_lower_ready, __ATOMIC_ACQUIRE)) {
        /* Idempotent: racing threads write the same bytes. */
        for (int i = 0; i < MM_ERR__COUNT; i++) {
            size_t j = 0;
            for (; err_names[i][j] && j < sizeof(err_lower[i]) - 1; j++) {
                char c = err_names[i][j];
                err_lower[i][j] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
            }
            err_lower[i][j] = '\0';
        }
        __atomic_store_n(&err_lower_ready, 1, __ATOMIC_RELEASE);
    }
    return err_lower[err];
}

const char *mm_err_str(mm_err_t err) {
    if ((unsigned)err >= MM_ERR__COUNT)
        return "unknown error";
    return err_texts[err];
}

static const char *const event_type_names[] = {
#define MM__EV_NAME(name, text) text,
    MM_EVENT_TYPE_MAP(MM__EV_NAME)
#undef MM__EV_NAME
};

const char *mm_event_type_name(mm_event_type_t type) {
    return (unsigned)type < MM_EVENT__COUNT ? event_type_names[type] : "unknown";
}

bool mm_event_type_parse(const char *s, size_t len, mm_event_type_t *type) {
    for (int i = 0; i < MM_EVENT__COUNT; i++) {
        if (strlen(event_type_names[i]) == len &&
            memcmp(event_type_names[i], s, len) == 0) {
            *type = (mm_event_type_t)i;
            return true;
        }
    }
    return false;
}

void mm_event_init(mm_event_t *ev) {
    memset(ev, 0, sizeof(*ev));
    ev->in_store = -1;
}

static const char *const moment_names[MM_MOMENT__COUNT] = {"know", "go", "do",
                                                           "buy"};

const char *mm_moment_type_name(mm_moment_type_t type) {
    return (unsigned)type < MM_MOMENT__COUNT ? moment_names[type] : "unknown";
}

bool mm_moment_type_parse(const char *s, size_t len, mm_moment_type_t *type) {
    for (int i = 0; i < MM_MOMENT__COUNT; i++) {
        if (strlen(moment_names[i]) == len && memcmp(moment_names[i], s, len) == 0) {
            *type = (mm_moment_type_t)i;
            return true;
        }
    }
    return false;
}

static const char *const stage_names[MM_STAGE__COUNT] = {
    "awareness", "consideration", "decision", "post-purchase"};

const char *mm_journey_stage_name(mm_journey_stage_t stage) {
    return (unsigned)stage < MM_STAGE__COUNT ? stage_names[stage] : "unknown";
}
