/* librdkafka's statistics JSON (statistics.interval.ms) as metrics. */
#ifndef MM_KAFKA_STATS_H
#define MM_KAFKA_STATS_H

#include <stddef.h>

#include "metrics.h"

/**
 * @brief Write mm_kafka_broker_rtt_seconds{client, broker_id, broker} for
 * each broker in @p json (librdkafka's "brokers" object) with a node id and
 * a round-trip time: one series per node id. Logical entries (the group
 * coordinator) repeat a real broker's id and host:port and are left out.
 * @param json,len the statistics as librdkafka emitted them; parsed as JSON
 *        (a malformed document writes nothing), never read past len.
 * @locality the HTTP thread (collect callback); no allocation.
 */
void mm_kafka_stats_broker_rtts(mm_metrics_writer_t *w, const char *client,
                                const char *json, size_t len);

#endif
