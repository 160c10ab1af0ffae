/*
 * config_defaults: the value of every key the file does not set
 * (lagwatch.yml(5) documents each default beside its key). List entries get
 * theirs from the table's init hooks (config_check.c).
 */
#include <stdlib.h>

#include "config_int.h"
#include "pipeline/series_fold.h"
#include "util/xalloc.h"

static char **strv(const char *const *src, size_t n)
{
    char **v = xcalloc(n, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        v[i] = xstrdup(src[i]);
    return v;
}

void config_set_defaults(struct config *cfg)
{
    static const char *const drop[] = {"task_attempt_id", "task_attempt_num",
                                       "tm_id", "host"};
    static const char *const fold[] = {"numRecords.*", "numBytes.*",
                                       ".*TimeMsPerSecond"};
    static const char *const fields3[] = {"max", "sum", "avg"};
    static const char *const shard[] = {"job_name"};
    struct cfg_agent *a = &cfg->agent;
    struct cfg_trim *t = &cfg->trim;
    struct cfg_influx *in = &cfg->influx;

    a->interval_ms = 15000;
    a->align = true;
    a->listen = xstrdup("127.0.0.1:9743");
    a->spool_dir = xstrdup("/var/lib/lagwatch/spool");
    a->spool_max_bytes = 1ULL << 30;
    a->log_level = xstrdup("info");
    a->scrape_timeout_ms = 10000;
    a->max_response_bytes = 64ULL << 20;
    a->scrape_concurrency = 16;
    a->shutdown_timeout_ms = 30000;
    a->spool_fsync = true;
    a->max_connections = 64;

    t->drop_labels = strv(drop, 4);
    t->n_drop_labels = 4;
    t->drop_labels_match = xstrdup("flink_taskmanager_job_.*");
    t->fold_metrics = strv(fold, 3);
    t->n_fold_metrics = 3;
    t->fold_fields = strv(fields3, 3);
    t->n_fold_fields = 3;
    t->fold = SERIES_FOLD_ALL;
    t->max_series = 1000000;
    t->max_label_bytes = 4096;

    in->database = xstrdup("flink");
    in->shard_by = strv(shard, 1);
    in->n_shard_by = 1;
    in->vnodes = 1000;
    in->replicas = 1;
    in->batch_size = 5000;
    in->flush_interval_ms = 1000;
    in->timeout_ms = 10000;
    in->max_retries = 3;
    in->queue_max_bytes = 64ULL << 20;
    in->create_database = true;
    in->gzip = true;

    cfg->proxy.listen = xstrdup("127.0.0.1:9744");
    cfg->proxy.timeout_ms = 30000;
    cfg->proxy.max_response_bytes = 64ULL << 20;
    cfg->proxy.threads = 4;
    cfg->remote_write.timeout_ms = 10000;
    cfg->remote_write.batch_size = 2000;
    cfg->remote_write.max_retries = 5;
    cfg->remote_write.min_backoff_ms = 500;
    cfg->remote_write.max_backoff_ms = 30000;
    cfg->remote_write.queue_max_bytes = 64ULL << 20;
}
