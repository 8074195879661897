/* Registering the Avro moment schema at start-up (mm.output.schema.id=-1). */
#ifndef MM_OUTPUT_SCHEMA_H
#define MM_OUTPUT_SCHEMA_H

#include "config.h"

/**
 * @brief With mm.output.format=avro and no mm.output.schema.id, register
 * schemas/moment.avsc as subject <mm.output.topic>-value at the registry and
 * put the id it answers into cfg->output_schema_id. Anything else: nothing.
 * @returns false with why in errstr (the registry's URL masked): a runtime
 *          failure, exit 1.
 */
bool mm_output_schema_register(mm_config_t *cfg, char *errstr, size_t errstr_size);

#endif
