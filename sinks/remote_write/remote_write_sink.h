/*
 * remote_write_sink: the sinks.remote_write sink (lagwatch.yml(5), SINKS;
 * lagwatch(8), REMOTE WRITE) over the sender of remote_write.h.
 *
 * Series go out under the names /metrics uses, with the configured fold
 * set (series_fold_values); REST and Kafka lag points as one series per
 * numeric field (expo_flink_field). Its spool is agent.spool_dir/
 * remote_write. On /metrics it writes the lagwatch_remote_write_*
 * families; in the report, one "remote write" line.
 *
 * Threads: as sink.h; the sender thread belongs to remote_write.h.
 */
#ifndef SINKS_REMOTE_WRITE_SINK_H
#define SINKS_REMOTE_WRITE_SINK_H

#include "sink.h"

extern const struct sink_ops remote_write_sink_ops;

#endif
