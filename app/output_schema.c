/*
 * The moment schema's id, asked of the registry at start when not given:
 * what a Confluent serializer does with auto.register.schemas, once per
 * process (the schema is fixed at build time), before any record is read.
 */
#include "output_schema.h"

#include <stdlib.h>
#include <string.h>

#include "../sinks/sinks.h"
#include "log.h"

bool mm_output_schema_register(mm_config_t *cfg, char *errstr, size_t errstr_size) {
    if (cfg->engine.output_format != MM_OUTPUT_AVRO || cfg->engine.output_schema_id >= 0)
        return true;
    const char *schema = mm_avro_moment_schema();
    size_t cap = 2 * strlen(schema) + 64; /* every byte escaped at worst */
    char *body = malloc(cap);
    if (!body) {
        snprintf(errstr, errstr_size, "out of memory");
        return false;
    }
    mm_jw_t jw;
    mm_jw_init(&jw, body, cap);
    mm_jw_object_open(&jw);
    mm_jw_key(&jw, "schema");
    mm_jw_cstr(&jw, schema);
    mm_jw_object_close(&jw);
    char subject[300];
    snprintf(subject, sizeof(subject), "%s-value", cfg->engine.output_topic);
    mm_avro_conf_t ac;
    mm_engine_avro_conf(&cfg->engine, &ac);
    int32_t id = -1;
    bool ok = mm_jw_ok(&jw) && mm_avro_register_schema(&ac, subject, body, jw.len, &id,
                                                       errstr, errstr_size) == MM_ERR_OK;
    free(body);
    if (!ok)
        return false;
    cfg->engine.output_schema_id = id;
    mm_log_info("registered the moment schema as subject %s: schema id %d", subject, (int)id);
    return true;
}
