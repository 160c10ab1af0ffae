/*
 * outbox_test: the delivery engine (sinks/outbox.h) with an in-process
 * fake protocol: the engine is the unit here, so the destination is a
 * script of answers, and the spool a real one in a temporary directory.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "outbox.h"
#include "spool.h"
#include "tests/lib/tap.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/xalloc.h"

#define MAX_SEEN 256

struct fake {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned fail_left; /* answer RETRY this many times */
    bool refuse_next;   /* answer REFUSED once */
    uint32_t partial;   /* items refused in the next SENT */
    bool gate_closed;   /* send waits until opened */
    bool probe_ok;
    unsigned probes;
    unsigned sends;
    unsigned seen[MAX_SEEN]; /* ids delivered, in order */
    unsigned nseen;
};

static void fake_init(struct fake *f)
{
    memset(f, 0, sizeof(*f));
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    f->probe_ok = true;
}

static void fake_destroy(struct fake *f)
{
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
}

static void fake_send(void *ctx, const struct outbox_rec *r,
                      struct outbox_result *res)
{
    struct fake *f = ctx;
    unsigned id = (unsigned)strtoul((const char *)r->data + 1, NULL, 10);
    pthread_mutex_lock(&f->mu);
    while (f->gate_closed)
        pthread_cond_wait(&f->cv, &f->mu);
    f->sends++;
    res->answered = true;
    if (f->fail_left > 0) {
        f->fail_left--;
        res->answered = false;
        res->status = OUTBOX_RETRY;
        snprintf(res->why, sizeof(res->why), "fake failure");
    } else if (f->refuse_next) {
        f->refuse_next = false;
        res->status = OUTBOX_REFUSED;
        snprintf(res->why, sizeof(res->why), "fake refusal");
    } else {
        res->refused = f->partial;
        f->partial = 0;
        if (res->refused)
            snprintf(res->why, sizeof(res->why), "fake partial");
        if (f->nseen < MAX_SEEN)
            f->seen[f->nseen++] = id;
    }
    pthread_mutex_unlock(&f->mu);
}

static bool fake_probe(void *ctx)
{
    struct fake *f = ctx;
    pthread_mutex_lock(&f->mu);
    f->probes++;
    bool ok = f->probe_ok;
    pthread_mutex_unlock(&f->mu);
    return ok;
}

static void fake_set_gate(struct fake *f, bool closed)
{
    pthread_mutex_lock(&f->mu);
    f->gate_closed = closed;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

static const struct outbox_ops ops_plain = {.send = fake_send};
static const struct outbox_ops ops_probe = {.send = fake_send,
                                            .probe = fake_probe};

static struct outbox_opts opts_for(struct fake *f, const char *spool_dir)
{
    struct outbox_opts o = {
        .name = "fake 'test'",
        .unit = "items",
        .ops = &ops_plain,
        .ctx = f,
        .queue_max_bytes = 1 << 20,
        .spool_dir = spool_dir,
        .spool_reopen_ms = 50,
        .max_retries = 2,
        .down_after = 2,
        .backoff_min_ms = 5,
        .backoff_max_ms = 20,
    };
    return o;
}

/* Record id: "rNNN" and padding to len bytes. */
static void put_rec(struct outbox *ob, unsigned id, uint32_t items, size_t len)
{
    char *d = xcalloc(1, len + 1);
    snprintf(d, len + 1, "r%03u", id);
    outbox_put(ob, d, len, items, id);
}

static void tmp_dir(char *out, size_t n, const char *what)
{
    snprintf(out, n, "/tmp/lw_outbox_%ld_%s", (long)getpid(), what);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", out);
    if (system(cmd) != 0)
        fprintf(stderr, "# cannot clean %s\n", out);
}

/* Polls until the queue holds bytes, at most 5 s (the sender took what
 * was before). */
static void wait_queue(struct outbox *ob, uint64_t bytes)
{
    for (int i = 0; i < 500; i++) {
        struct outbox_stats st;
        outbox_get_stats(ob, &st);
        if (st.queue_bytes == bytes)
            return;
        usleep(10000);
    }
}

/* Ten records of 40 bytes, the first held by the sender at the closed
 * gate when the others are put. */
static void put_ten_behind_gate(struct outbox *ob, uint32_t items)
{
    put_rec(ob, 0, items, 40);
    wait_queue(ob, 0);
    for (unsigned i = 1; i < 10; i++)
        put_rec(ob, i, items, 40);
}

/* Polls until pred(ob) or 5 s. */
static bool wait_for(struct outbox *ob,
                     bool (*pred)(const struct outbox_stats *, uint64_t),
                     uint64_t arg)
{
    for (int i = 0; i < 500; i++) {
        struct outbox_stats st;
        outbox_get_stats(ob, &st);
        if (pred(&st, arg))
            return true;
        usleep(10000);
    }
    return false;
}

static bool written_is(const struct outbox_stats *st, uint64_t n)
{
    return st->written == n;
}

static bool is_down(const struct outbox_stats *st, uint64_t unused)
{
    (void)unused;
    return st->down;
}

static bool seen_in_order(struct fake *f, unsigned n)
{
    pthread_mutex_lock(&f->mu);
    bool ok = f->nseen == n;
    for (unsigned i = 0; ok && i < n; i++)
        ok = f->seen[i] == i;
    pthread_mutex_unlock(&f->mu);
    return ok;
}

TAP_CASE(order_kept_across_spool_handover)
{
    struct fake f;
    fake_init(&f);
    char dir[256];
    tmp_dir(dir, sizeof(dir), "order");
    struct outbox_opts o = opts_for(&f, dir);
    f.fail_left = 3; /* the first record, then two replays */
    f.gate_closed = true;
    char err[256];
    struct outbox *ob = outbox_new(&o, err, sizeof(err));
    TAP_OK(ob != NULL);
    for (unsigned i = 0; i < 10; i++)
        put_rec(ob, i, 3, 40);
    fake_set_gate(&f, false);
    TAP_OK(wait_for(ob, written_is, 30));
    TAP_EQ_INT(0, outbox_drain(ob, clock_mono_ms() + 5000));
    TAP_OK(seen_in_order(&f, 10));
    struct outbox_stats st;
    outbox_get_stats(ob, &st);
    TAP_EQ_U64(30, st.written);
    TAP_EQ_U64(30, st.spooled); /* the failed one and all behind it */
    TAP_EQ_U64(30, st.replayed);
    TAP_EQ_U64(0, st.refused + st.dropped);
    TAP_EQ_U64(3, st.retries); /* each replay after a failure */
    TAP_EQ_U64(0, st.spool_items);
    TAP_EQ_INT(0, st.down);
    TAP_EQ_INT(1, st.up);
    outbox_free(&ob);
    TAP_OK(ob == NULL);
    fake_destroy(&f);
}

TAP_CASE(queue_full_goes_to_spool)
{
    struct fake f;
    fake_init(&f);
    char dir[256];
    tmp_dir(dir, sizeof(dir), "full");
    struct outbox_opts o = opts_for(&f, dir);
    o.queue_max_bytes = 100; /* two records of 40 bytes */
    f.gate_closed = true;
    char err[256];
    struct outbox *ob = outbox_new(&o, err, sizeof(err));
    TAP_OK(ob != NULL);
    put_ten_behind_gate(ob, 1);
    struct outbox_stats st;
    outbox_get_stats(ob, &st);
    TAP_OK(st.spooled >= 7); /* all but what fit before the queue filled */
    TAP_EQ_U64(0, st.dropped);
    fake_set_gate(&f, false);
    TAP_OK(wait_for(ob, written_is, 10));
    TAP_EQ_INT(0, outbox_drain(ob, clock_mono_ms() + 5000));
    TAP_OK(seen_in_order(&f, 10));
    outbox_free(&ob);
    fake_destroy(&f);
}

TAP_CASE(queue_full_drops_without_spool)
{
    struct fake f;
    fake_init(&f);
    struct outbox_opts o = opts_for(&f, NULL);
    o.queue_max_bytes = 100;
    f.gate_closed = true;
    char err[256];
    struct outbox *ob = outbox_new(&o, err, sizeof(err));
    TAP_OK(ob != NULL);
    put_ten_behind_gate(ob, 2);
    struct outbox_stats st;
    outbox_get_stats(ob, &st);
    /* 0 in flight, 1 and 2 queued, 3..9 dropped */
    TAP_EQ_U64(14, st.dropped);
    TAP_EQ_U64(7, st.records_failed);
    TAP_EQ_U64(80, st.queue_bytes);
    fake_set_gate(&f, false);
    TAP_OK(wait_for(ob, written_is, 6));
    TAP_EQ_INT(-1, outbox_drain(ob, clock_mono_ms() + 5000));
    TAP_EQ_INT(0, outbox_drain(ob, clock_mono_ms() + 5000));
    TAP_OK(seen_in_order(&f, 3));
    TAP_EQ_STR("queue full", st.last_error);
    outbox_free(&ob);
    fake_destroy(&f);
}

TAP_CASE(drain_deadline_and_return_codes)
{
    struct fake f;
    fake_init(&f);
    struct outbox_opts o = opts_for(&f, NULL);
    f.gate_closed = true;
    char err[256];
    struct outbox *ob = outbox_new(&o, err, sizeof(err));
    TAP_OK(ob != NULL);
    put_rec(ob, 0, 4, 16);
    uint64_t t0 = clock_mono_ms();
    TAP_EQ_INT(1, outbox_drain(ob, t0 + 150));
    uint64_t dt = clock_mono_ms() - t0;
    TAP_OK(dt >= 140 && dt < 1000);
    fake_set_gate(&f, false);
    TAP_EQ_INT(0, outbox_drain(ob, clock_mono_ms() + 5000));
    pthread_mutex_lock(&f.mu);
    f.refuse_next = true;
    pthread_mutex_unlock(&f.mu);
    put_rec(ob, 1, 4, 16);
    TAP_EQ_INT(-1, outbox_drain(ob, clock_mono_ms() + 5000));
    TAP_EQ_INT(0, outbox_drain(ob, clock_mono_ms() + 5000));
    struct outbox_stats st;
    outbox_get_stats(ob, &st);
    TAP_EQ_U64(4, st.written);
    TAP_EQ_U64(4, st.refused);
    TAP_EQ_STR("fake refusal", st.last_error);
    outbox_free(&ob);
    fake_destroy(&f);
}

TAP_CASE(probe_and_down_state)
{
    struct fake f;
    fake_init(&f);
    char dir[256];
    tmp_dir(dir, sizeof(dir), "probe");
    struct outbox_opts o = opts_for(&f, dir);
    o.ops = &ops_probe;
    f.fail_left = 1000;
    f.probe_ok = false;
    char err[256];
    struct outbox *ob = outbox_new(&o, err, sizeof(err));
    TAP_OK(ob != NULL);
    put_rec(ob, 0, 5, 16);
    TAP_OK(wait_for(ob, is_down, 0));
    /* down: not waited for, the spool keeps the record */
    uint64_t t0 = clock_mono_ms();
    TAP_EQ_INT(1, outbox_drain(ob, t0 + 3000));
    TAP_OK(clock_mono_ms() - t0 < 1000);
    usleep(200000);
    pthread_mutex_lock(&f.mu);
    unsigned sends = f.sends, probes = f.probes;
    f.fail_left = 0;
    f.probe_ok = true;
    pthread_mutex_unlock(&f.mu);
    /* marked down after 2 failures: the live send and one replay; then
     * only probes */
    TAP_EQ_INT(2, sends);
    TAP_OK(probes >= 1);
    TAP_OK(wait_for(ob, written_is, 5));
    TAP_EQ_INT(0, outbox_drain(ob, clock_mono_ms() + 5000));
    struct outbox_stats st;
    outbox_get_stats(ob, &st);
    TAP_EQ_INT(0, st.down);
    TAP_EQ_INT(1, st.up);
    TAP_EQ_U64(5, st.replayed);
    TAP_EQ_U64(5, st.spooled);
    outbox_free(&ob);
    fake_destroy(&f);
}

TAP_CASE(exact_counters_without_spool)
{
    struct fake f;
    fake_init(&f);
    struct outbox_opts o = opts_for(&f, NULL);
    char err[256];
    struct outbox *ob = outbox_new(&o, err, sizeof(err));
    TAP_OK(ob != NULL);
    /* record 0: fails twice, then delivered with 2 of 5 items refused */
    pthread_mutex_lock(&f.mu);
    f.fail_left = 2;
    f.partial = 2;
    pthread_mutex_unlock(&f.mu);
    put_rec(ob, 0, 5, 16);
    TAP_EQ_INT(-1, outbox_drain(ob, clock_mono_ms() + 5000));
    /* record 1: fails three times, max_retries 2: dropped */
    pthread_mutex_lock(&f.mu);
    f.fail_left = 3;
    pthread_mutex_unlock(&f.mu);
    put_rec(ob, 1, 7, 16);
    TAP_EQ_INT(-1, outbox_drain(ob, clock_mono_ms() + 5000));
    struct outbox_stats st;
    outbox_get_stats(ob, &st);
    TAP_EQ_U64(3, st.written);
    TAP_EQ_U64(2, st.refused);
    TAP_EQ_U64(7, st.dropped);
    TAP_EQ_U64(0, st.dropped_spool);
    TAP_EQ_U64(5 * 2 + 7 * 2, st.retried);
    TAP_EQ_U64(4, st.retries);
    TAP_EQ_U64(1, st.records_written);
    TAP_EQ_U64(1, st.records_failed);
    TAP_EQ_U64(0, st.spooled);
    TAP_EQ_INT(6, f.sends);
    TAP_OK(strstr(st.last_error, "giving up after 2 retries") != NULL);
    outbox_free(&ob);
    fake_destroy(&f);
}

TAP_CASE(shutdown_spools_leftovers)
{
    struct fake f;
    fake_init(&f);
    char dir[256];
    tmp_dir(dir, sizeof(dir), "leftovers");
    struct outbox_opts o = opts_for(&f, dir);
    f.gate_closed = true;
    char err[256];
    struct outbox *ob = outbox_new(&o, err, sizeof(err));
    TAP_OK(ob != NULL);
    for (unsigned i = 0; i < 5; i++)
        put_rec(ob, i, 2, 32);
    wait_queue(ob, 4 * 32);
    /* the sender holds record 0 at the gate; stop, then let it finish */
    outbox_stop(ob);
    fake_set_gate(&f, false);
    outbox_free(&ob);
    TAP_OK(seen_in_order(&f, 1));
    struct spool *sp = spool_open(dir, 0, false, err, sizeof(err));
    TAP_OK(sp != NULL);
    struct spool_stats ss;
    spool_get_stats(sp, &ss);
    TAP_EQ_U64(4, ss.records);
    TAP_EQ_U64(8, ss.points);
    struct spool_rec r;
    TAP_EQ_INT(1, spool_peek_oldest(sp, &r, err, sizeof(err)));
    TAP_OK(r.len == 32 && memcmp(r.data, "r001", 4) == 0);
    spool_release(sp, &r);
    spool_close(&sp);
    fake_destroy(&f);
}

/* Counts the lines of path that contain needle. */
static unsigned count_lines(const char *path, const char *needle)
{
    FILE *fp = fopen(path, "r");
    unsigned n = 0;
    char line[4096];
    if (!fp)
        return 0;
    while (fgets(line, sizeof(line), fp))
        if (strstr(line, needle))
            n++;
    fclose(fp);
    return n;
}

TAP_CASE(locked_spool_is_logged_once)
{
    struct fake f;
    fake_init(&f);
    char dir[256], logp[300], err[256];
    tmp_dir(dir, sizeof(dir), "locked");
    snprintf(logp, sizeof(logp), "%s.log", dir);
    /* the sink a reload replaces still holds the spool, with a record */
    struct spool *held = spool_open(dir, 0, false, err, sizeof(err));
    TAP_OK(held != NULL);
    TAP_EQ_INT(0, spool_append(held, "r000 old", 8, 3, 0, err, sizeof(err)));
    /* log lines go to stderr: to a file for this case */
    fflush(stderr);
    int saved = dup(2);
    int fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    TAP_OK(saved >= 0 && fd >= 0);
    bool redirected = dup2(fd, 2) == 2;
    close(fd);
    enum log_level was = log_threshold_;
    log_set_level(LOG_LVL_INFO);
    struct outbox_opts o = opts_for(&f, dir);
    struct outbox *ob = outbox_new(&o, err, sizeof(err));
    /* 50 ms apart, ~12 attempts to open while it is held */
    usleep(600000);
    int rc_locked = ob ? outbox_drain(ob, clock_mono_ms()) : -2;
    spool_close(&held);
    bool replayed = ob && wait_for(ob, written_is, 3);
    fflush(stderr);
    bool restored = dup2(saved, 2) == 2;
    close(saved);
    TAP_OK(redirected && restored);
    log_set_level(was);
    TAP_OK(ob != NULL);
    TAP_EQ_INT(1, rc_locked); /* a spool not opened yet still waits */
    TAP_OK(replayed);
    TAP_EQ_INT(1, count_lines(logp, "cannot open the spool of fake 'test'"));
    TAP_EQ_INT(1, count_lines(logp, "spool of fake 'test' opened"));
    TAP_EQ_INT(1, count_lines(logp, "resuming the spool of fake 'test'"));
    TAP_OK(seen_in_order(&f, 1));
    outbox_free(&ob);
    unlink(logp);
    fake_destroy(&f);
}

static const struct tap_case cases[] = {
    TAP_ENTRY(order_kept_across_spool_handover),
    TAP_ENTRY(queue_full_goes_to_spool),
    TAP_ENTRY(queue_full_drops_without_spool),
    TAP_ENTRY(drain_deadline_and_return_codes),
    TAP_ENTRY(probe_and_down_state),
    TAP_ENTRY(exact_counters_without_spool),
    TAP_ENTRY(shutdown_spools_leftovers),
    TAP_ENTRY(locked_spool_is_logged_once),
};

int main(int argc, char **argv)
{
    if (!getenv("LW_LOG_DEBUG"))
        log_set_level(LOG_LVL_ERROR);
    return tap_main(cases, TAP_N(cases), argc, argv);
}
