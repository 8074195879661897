/*
 * Avro schemas for the decoder (see avro_decode.c, HOW IT WORKS): the
 * built-in reader schema, reading schema files, and compiling a writer
 * schema into a plan: per writer field, skip it or read it into a contract
 * field, with how each union branch is encoded (Avro's schema resolution,
 * restricted to what mm_event_t holds). Runs once per schema id, never per
 * record; allocation is fine here.
 */
#include <avro.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro_int.h"
#include "json_int.h"

/* Mirror of schemas/event.avsc (docs dropped); a unit test checks that the
 * two parse to equal schemas. */
static const char mm__event_avsc[] =
    "{\"type\":\"record\",\"name\":\"Event\",\"namespace\":\"io.micromoment\","
    "\"fields\":["
    "{\"name\":\"event_id\",\"type\":[\"null\",\"string\"],\"default\":null},"
    "{\"name\":\"user_id\",\"type\":\"string\"},"
    "{\"name\":\"session_id\",\"type\":[\"null\",\"string\"],\"default\":null},"
    "{\"name\":\"ts\",\"type\":[\"null\",{\"type\":\"long\","
    "\"logicalType\":\"timestamp-millis\"}],\"default\":null},"
    "{\"name\":\"type\",\"type\":\"string\"},"
    "{\"name\":\"query\",\"type\":[\"null\",\"string\"],\"default\":null},"
    "{\"name\":\"device\",\"type\":[\"null\",\"string\"],\"default\":null},"
    "{\"name\":\"channel\",\"type\":[\"null\",\"string\"],\"default\":null},"
    "{\"name\":\"lang\",\"type\":[\"null\",\"string\"],\"default\":null},"
    "{\"name\":\"lat\",\"type\":[\"null\",\"double\"],\"default\":null},"
    "{\"name\":\"lon\",\"type\":[\"null\",\"double\"],\"default\":null},"
    "{\"name\":\"tz_offset_min\",\"type\":[\"null\",\"int\"],\"default\":null},"
    "{\"name\":\"url\",\"type\":[\"null\",\"string\"],\"default\":null},"
    "{\"name\":\"page_load_ms\",\"type\":[\"null\",\"long\"],\"default\":null},"
    "{\"name\":\"in_store\",\"type\":[\"null\",\"boolean\"],\"default\":null},"
    "{\"name\":\"value\",\"type\":[\"null\",\"double\"],\"default\":null},"
    "{\"name\":\"currency\",\"type\":[\"null\",\"string\"],\"default\":null}"
    "]}";

const char *mm_avro_event_schema(void) { return mm__event_avsc; }

avro_schema_t mm__avro_deref(avro_schema_t s) {
    while (s && is_avro_link(s))
        s = avro_schema_link_target(s);
    return s;
}

/** Writer primitive type @p w read as reader primitive @p r (spec's
 * promotions). */
static mm__avro_conv_t conv_for(avro_type_t w, avro_type_t r) {
    switch (w) {
    case AVRO_NULL: return MM__CV_NULL;
    case AVRO_BOOLEAN: return r == AVRO_BOOLEAN ? MM__CV_BOOL : MM__CV_BAD;
    case AVRO_INT32:
        return r == AVRO_INT32 || r == AVRO_INT64 || r == AVRO_FLOAT || r == AVRO_DOUBLE
                   ? MM__CV_INT : MM__CV_BAD;
    case AVRO_INT64:
        return r == AVRO_INT64 || r == AVRO_FLOAT || r == AVRO_DOUBLE ? MM__CV_LONG : MM__CV_BAD;
    case AVRO_FLOAT: return r == AVRO_FLOAT || r == AVRO_DOUBLE ? MM__CV_FLOAT : MM__CV_BAD;
    case AVRO_DOUBLE: return r == AVRO_DOUBLE ? MM__CV_DOUBLE : MM__CV_BAD;
    case AVRO_STRING:
    case AVRO_BYTES: return r == AVRO_STRING || r == AVRO_BYTES ? MM__CV_TEXT : MM__CV_BAD;
    default: return MM__CV_BAD;
    }
}

static const char *type_name(avro_type_t t) {
    switch (t) {
    case AVRO_STRING: return "string";
    case AVRO_BYTES: return "bytes";
    case AVRO_INT32: return "int";
    case AVRO_INT64: return "long";
    case AVRO_FLOAT: return "float";
    case AVRO_DOUBLE: return "double";
    case AVRO_BOOLEAN: return "boolean";
    default: return "null";
    }
}

void mm__avro_plan_destroy(mm__avro_plan_t *plan) {
    if (!plan)
        return;
    free(plan->fields);
    if (plan->writer)
        avro_schema_decref(plan->writer);
    free(plan);
}

/**
 * @brief Compile @p writer (a reference is taken) against the reader.
 * @returns the plan, or NULL with why in errstr.
 */
mm__avro_plan_t *mm__avro_plan_new(avro_schema_t writer, const mm__avro_reader_t *rd, char *errstr,
                        size_t errstr_size) {
    mm__avro_plan_t *plan = calloc(1, sizeof(*plan));
    if (!plan) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    plan->writer = avro_schema_incref(writer);
    if (!is_avro_record(writer)) {
        snprintf(errstr, errstr_size, "the writer schema is a %s, not a record",
                 avro_schema_type_name(writer));
        goto fail;
    }
    plan->n_fields = avro_schema_record_size(writer);
    plan->fields = calloc(plan->n_fields ? plan->n_fields : 1, sizeof(mm__avro_wfield_t));
    if (!plan->fields) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < plan->n_fields; i++) {
        mm__avro_wfield_t *f = &plan->fields[i];
        const char *name = avro_schema_record_field_name(writer, (int)i);
        f->schema = avro_schema_record_field_get_by_index(writer, (int)i);
        int target = name ? mm__ev_field_lookup(name, strlen(name)) : -1;
        f->target = target >= 0 && rd->type[target] != AVRO_NULL ? target : -1;
        if (f->target < 0)
            continue;
        avro_type_t r = rd->type[f->target];
        avro_schema_t s = mm__avro_deref(f->schema);
        if (!is_avro_union(s)) {
            f->conv = (uint8_t)conv_for(avro_typeof(s), r);
            if (f->conv == MM__CV_BAD) {
                snprintf(errstr, errstr_size,
                         "writer field %s is %s, which cannot be read as %s", name,
                         avro_schema_type_name(s), type_name(r));
                goto fail;
            }
            continue;
        }
        size_t n = avro_schema_union_size(s);
        if (n > MM__AVRO_UNION_MAX) {
            snprintf(errstr, errstr_size, "writer field %s is a union of %zu types, at most %d",
                     name, n, MM__AVRO_UNION_MAX);
            goto fail;
        }
        bool any = false;
        f->n_branches = (uint8_t)n;
        for (size_t b = 0; b < n; b++) {
            avro_schema_t bs = mm__avro_deref(avro_schema_union_branch(s, (int)b));
            mm__avro_conv_t c = bs ? conv_for(avro_typeof(bs), r) : MM__CV_BAD;
            f->branch_conv[b] = (uint8_t)c;
            any |= c != MM__CV_BAD && c != MM__CV_NULL;
        }
        if (!any) {
            snprintf(errstr, errstr_size,
                     "writer field %s has no type that can be read as the reader's", name);
            goto fail;
        }
    }
    return plan;
fail:
    mm__avro_plan_destroy(plan);
    return NULL;
}

/* Read a whole small file into a malloc'ed NUL-terminated buffer. */
char *mm__avro_slurp(const char *path, size_t *len, char *errstr, size_t errstr_size) {
    FILE *fp = fopen(path, "rb");
    char *buf = NULL;
    if (!fp) {
        snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
        return NULL;
    }
    buf = malloc(MM__AVRO_SCHEMA_MAX + 1);
    if (!buf) {
        snprintf(errstr, errstr_size, "out of memory");
        goto done;
    }
    *len = fread(buf, 1, MM__AVRO_SCHEMA_MAX + 1, fp);
    if (ferror(fp) || *len > MM__AVRO_SCHEMA_MAX) {
        snprintf(errstr, errstr_size, "%s: %s", path,
                 ferror(fp) ? "read error" : "larger than 1 MiB");
        free(buf);
        buf = NULL;
        goto done;
    }
    buf[*len] = '\0';
done:
    fclose(fp);
    return buf;
}

/*
 * A schema file may be the wrong file (mm.schema.files=17=/etc/shadow): its
 * errors name the file and a position, never its text. JSON syntax is
 * checked here first, for the line and column; Avro C's own messages quote
 * the text after their first ": " ("invalid token near 'root'", "Unknown
 * Avro type: x"), so only what comes before is kept.
 */
avro_schema_t mm__avro_parse_schema(const char *json, size_t len, const char *what,
                                  char *errstr, size_t errstr_size) {
    mm_json_parser_t jp = {.p = (const unsigned char *)json, .len = len, .max_depth = 128};
    mm_json_value_t v;
    mm_err_t err = mm__json_read_value(&jp, 1, &v);
    if (err == MM_ERR_OK)
        err = mm__json_expect_end(&jp);
    if (err == MM_ERR_BAD_JSON || err == MM_ERR_BAD_UTF8) {
        size_t line = 1, col = 1;
        for (size_t i = 0; i < jp.pos && i < len; i++, col++)
            if (json[i] == '\n')
                line++, col = 0;
        snprintf(errstr, errstr_size, "%s: not an Avro schema: not JSON (line %zu, column %zu)",
                 what, line, col);
        return NULL;
    }
    avro_schema_t s = NULL;
    if (avro_schema_from_json_length(json, len, &s) != 0 || !s) {
        const char *msg = avro_strerror();
        const char *colon = strstr(msg, ": ");
        snprintf(errstr, errstr_size, "%s: not an Avro schema: %.*s", what,
                 (int)(colon ? (size_t)(colon - msg) : strlen(msg)), msg);
        return NULL;
    }
    return s;
}

int mm__avro_reader_load(mm__avro_reader_t *reader, const char *path, char *errstr,
                         size_t errstr_size) {
    size_t len = sizeof(mm__event_avsc) - 1;
    char *text = NULL;
    int rc = -1;
    if (path && !(text = mm__avro_slurp(path, &len, errstr, errstr_size)))
        return -1;
    avro_schema_t s = mm__avro_parse_schema(text ? text : mm__event_avsc, len,
                                   path ? path : "built-in event schema", errstr, errstr_size);
    if (!s)
        goto done;
    if (!is_avro_record(s)) {
        snprintf(errstr, errstr_size, "reader schema: not a record");
        goto done;
    }
    for (size_t i = 0; i < avro_schema_record_size(s); i++) {
        const char *name = avro_schema_record_field_name(s, (int)i);
        int f = mm__ev_field_lookup(name, strlen(name));
        avro_schema_t ft = mm__avro_deref(avro_schema_record_field_get_by_index(s, (int)i));
        bool nullable = false;
        if (is_avro_union(ft) && avro_schema_union_size(ft) == 2 &&
            is_avro_null(mm__avro_deref(avro_schema_union_branch(ft, 0)))) {
            ft = mm__avro_deref(avro_schema_union_branch(ft, 1));
            nullable = true;
        }
        if (f < 0 || !is_avro_primitive(ft) || is_avro_null(ft)) {
            snprintf(errstr, errstr_size,
                     "reader schema: field %s is not a contract field of a primitive "
                     "or [\"null\", primitive] type", name);
            goto done;
        }
        reader->type[f] = avro_typeof(ft);
        reader->nullable[f] = nullable;
    }
    if (reader->type[MM__EVF_USER_ID] == AVRO_NULL ||
        reader->type[MM__EVF_TYPE] == AVRO_NULL) {
        snprintf(errstr, errstr_size, "reader schema: user_id and type are required");
        goto done;
    }
    rc = 0;
done:
    if (s)
        avro_schema_decref(s);
    free(text);
    return rc;
}
