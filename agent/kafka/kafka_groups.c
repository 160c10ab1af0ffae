#include "kafka/kafka_groups.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/xalloc.h"

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int kafka_groups_list(rd_kafka_conf_t *conf, const char *cluster,
                      int timeout_ms, size_t max_ids, char ***ids, size_t *n,
                      char *err, size_t errlen)
{
    char errstr[512];
    int rc = -1;
    rd_kafka_queue_t *q = NULL;
    rd_kafka_event_t *ev = NULL;
    rd_kafka_AdminOptions_t *opts = NULL;
    *ids = NULL;
    *n = 0;
    rd_kafka_t *rk =
        rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        snprintf(err, errlen, "cannot create client: %s", errstr);
        goto out;
    }
    q = rd_kafka_queue_new(rk);
    opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS);
    if (rd_kafka_AdminOptions_set_request_timeout(opts, timeout_ms, errstr,
                                                  sizeof(errstr)) != 0) {
        snprintf(err, errlen, "%s", errstr);
        goto out;
    }
    rd_kafka_ListConsumerGroups(rk, opts, q);
    ev = rd_kafka_queue_poll(q, timeout_ms + 1000);
    if (!ev) {
        snprintf(err, errlen, "cannot list consumer groups: timeout");
        goto out;
    }
    const rd_kafka_ListConsumerGroups_result_t *res =
        rd_kafka_event_ListConsumerGroups_result(ev);
    rd_kafka_resp_err_t e = rd_kafka_event_error(ev);
    size_t n_errs = 0;
    const rd_kafka_error_t **errs =
        res ? rd_kafka_ListConsumerGroups_result_errors(res, &n_errs) : NULL;
    for (size_t i = 0; !e && i < n_errs; i++)
        e = rd_kafka_error_code(errs[i]);
    if (e == RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE ||
        e == RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION) {
        rc = 1;
        goto out;
    }
    if (e || !res) {
        snprintf(err, errlen, "cannot list consumer groups: %s",
                 rd_kafka_err2str(e));
        goto out;
    }
    size_t cnt = 0;
    const rd_kafka_ConsumerGroupListing_t **l =
        rd_kafka_ListConsumerGroups_result_valid(res, &cnt);
    if (cnt > max_ids) {
        log_warn("kafka cluster '%s' lists %zu groups, only the first %zu "
                 "are matched against patterns",
                 cluster, cnt, max_ids);
        cnt = max_ids;
    }
    *ids = cnt ? xcalloc(cnt, sizeof(**ids)) : NULL;
    for (size_t i = 0; i < cnt; i++)
        (*ids)[(*n)++] = xstrdup(rd_kafka_ConsumerGroupListing_group_id(l[i]));
    if (*n)
        qsort(*ids, *n, sizeof(**ids), cmp_str);
    rc = 0;
out:
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opts);
    if (q)
        rd_kafka_queue_destroy(q);
    if (rk)
        rd_kafka_destroy(rk);
    return rc;
}
