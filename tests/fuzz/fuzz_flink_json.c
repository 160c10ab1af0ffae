/*
 * fuzz_flink_json: the parsers of Flink's JobManager REST answers.
 *
 * Input: byte 0 % 7 picks the document kind (jobs overview, job details,
 * metric list, aggregated subtask metrics (given to the metric list
 * parser), checkpoints, task managers, error body), the rest is the body, given
 * without a NUL as the fetcher does. With bit 7 of byte 0 set, every parser
 * gets the body (a jobs answer fed to the checkpoints parser is the mix-up a
 * misrouted request makes). Properties beyond "no crash, no leak": what a
 * parser returns satisfies flink_json.h (validated ids, parallelism in range,
 * upstream indices in range), release is idempotent, and the lookups work on
 * what was parsed.
 */
#include <math.h>

#include "flink/flink_json.h"
#include "tests/fuzz/fuzz_common.h"

enum kind {
    K_JOBS,
    K_DETAILS,
    K_METRICS,
    K_AGG,
    K_CHECKPOINTS,
    K_TASKMANAGERS,
    K_ERROR,
    K_N_
};

static void check_id(const char *id, const char *what)
{
    FUZZ_CHECK(id != NULL, "%s is NULL", what);
    size_t n = strlen(id);
    FUZZ_CHECK(n >= 1 && n <= 64, "%s '%s' of %zu chars", what, id, n);
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        FUZZ_CHECK((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                       (c >= 'A' && c <= 'Z'),
                   "%s '%s' has a bad char", what, id);
    }
}

static void jobs(const char *s, size_t len, char *err, size_t errlen)
{
    struct flink_jobs j = {0};
    if (flink_json_jobs_overview(s, len, &j, err, errlen) == 0) {
        for (size_t i = 0; i < j.n; i++) {
            check_id(j.v[i].jid, "jid");
            if (j.v[i].state)
                (void)flink_job_state_terminal(j.v[i].state);
        }
    }
    flink_jobs_release(&j);
    flink_jobs_release(&j);
}

static void details(const char *s, size_t len, char *err, size_t errlen)
{
    struct flink_job_details d = {0};
    if (flink_json_job_details(s, len, &d, err, errlen) == 0) {
        for (size_t i = 0; i < d.n; i++) {
            const struct flink_vertex *v = &d.v[i];
            check_id(v->id, "vertex id");
            FUZZ_CHECK(v->parallelism >= 1 &&
                           v->parallelism <= FLINK_MAX_PARALLELISM,
                       "parallelism %zu", v->parallelism);
            for (size_t k = 0; k < v->n_upstream; k++)
                FUZZ_CHECK(v->upstream[k] < d.n, "upstream %zu of %zu",
                           v->upstream[k], d.n);
            if (!d.has_plan)
                FUZZ_CHECK(v->n_upstream == 0, "edges without a plan");
        }
    }
    flink_job_details_release(&d);
    flink_job_details_release(&d);
}

static void metrics(const char *s, size_t len, char *err, size_t errlen)
{
    struct flink_metrics m = {0};
    if (flink_json_metrics(s, len, &m, err, errlen) == 0) {
        for (size_t i = 0; i < m.n; i++) {
            FUZZ_CHECK(m.v[i].id != NULL, "metric without id");
            double v;
            int rc = flink_metrics_get(&m, m.v[i].id, &v);
            /* a duplicate id answers with its first entry, so only the
             * presence of some numeric value is implied */
            if (m.v[i].numeric)
                FUZZ_CHECK(rc == 0, "get('%s') failed", m.v[i].id);
            if (!m.v[i].numeric)
                FUZZ_CHECK(isnan(m.v[i].value), "non-numeric not NaN");
        }
        struct task_timing_subtask st[8];
        for (size_t k = 0; k < 8; k++)
            task_timing_subtask_clear(&st[k]);
        size_t set = flink_metrics_subtask_timing(&m, st, 8);
        FUZZ_CHECK(set <= m.n, "%zu values set from %zu metrics", set, m.n);
    }
    flink_metrics_release(&m);
    flink_metrics_release(&m);
}

static void checkpoints(const char *s, size_t len, char *err, size_t errlen)
{
    struct flink_checkpoints c;
    memset(&c, 0, sizeof(c));
    (void)flink_json_checkpoints(s, len, &c, err, errlen);
}

static void taskmanagers(const char *s, size_t len, char *err, size_t errlen)
{
    struct flink_taskmanagers t = {0};
    if (flink_json_taskmanagers(s, len, &t, err, errlen) == 0) {
        for (size_t i = 0; i < t.n; i++) {
            FUZZ_CHECK(t.v[i].id != NULL, "taskmanager without id");
            const char *h = t.v[i].host;
            /* "validated hostname/IP chars" */
            for (; h && *h; h++)
                FUZZ_CHECK(
                    (*h >= '0' && *h <= '9') || (*h >= 'a' && *h <= 'z') ||
                        (*h >= 'A' && *h <= 'Z') || *h == '.' || *h == '-' ||
                        *h == '_' || *h == ':' || *h == '[' || *h == ']',
                    "host '%s' has a bad char", t.v[i].host);
        }
    }
    flink_taskmanagers_release(&t);
    flink_taskmanagers_release(&t);
}

static void error_message(const char *s, size_t len)
{
    char out[64];
    memset(out, 'x', sizeof(out));
    if (flink_json_error_message(s, len, out, sizeof(out)) == 0)
        FUZZ_CHECK(memchr(out, '\0', sizeof(out)) != NULL,
                   "message not terminated within outlen");
    char one[1];
    (void)flink_json_error_message(s, len, one, sizeof(one));
}

static void parse(enum kind k, const char *s, size_t len, char *err,
                  size_t errlen)
{
    switch (k) {
    case K_JOBS:
        jobs(s, len, err, errlen);
        break;
    case K_DETAILS:
        details(s, len, err, errlen);
        break;
    case K_METRICS:
        metrics(s, len, err, errlen);
        break;
    case K_AGG:
        /* the aggregated form of the subtask metrics: the daemon asks for
         * per-subtask values and has no parser of its own for it any
         * more, so such a body must be handled (refused or read) by the
         * metric list parser it could be mistaken for */
        metrics(s, len, err, errlen);
        break;
    case K_CHECKPOINTS:
        checkpoints(s, len, err, errlen);
        break;
    case K_TASKMANAGERS:
        taskmanagers(s, len, err, errlen);
        break;
    case K_ERROR:
    case K_N_:
        error_message(s, len);
        break;
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_quiet_logs();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    /* a heap copy of exactly the body, so ASan sees a read past its end
     * (the fetcher's buffers have no NUL guarantee either) */
    size_t len = size - 1;
    char *s = malloc(len ? len : 1);
    FUZZ_CHECK(s != NULL, "malloc");
    memcpy(s, data + 1, len);
    char err[256];
    err[0] = '\0';
    unsigned first = data[0] % K_N_, last = data[0] & 0x80 ? K_N_ - 1 : first;
    if (data[0] & 0x80)
        first = 0;
    for (unsigned k = first; k <= last; k++) {
        err[0] = '\0';
        parse((enum kind)k, s, len, err, sizeof(err));
        FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL,
                   "err not terminated");
    }
    free(s);
    return 0;
}
