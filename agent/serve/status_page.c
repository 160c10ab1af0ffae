#include "serve/status_page.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/timefmt.h"

/* Flink's web UI: busy red, backpressured dark grey, idle blue; the
 * backpressure status is OK up to 10%, LOW up to 50%, HIGH above. */
#define C_BUSY "#ee6464"
#define C_BP   "#4a4a4a"
#define C_IDLE "#5b8ff9"
#define C_OK   "#52c41a"
#define C_LOW  "#faad14"
#define C_HIGH "#f5222d"

void status_page_escape(struct buf *b, const char *s)
{
    if (!s)
        return;
    for (const char *p = s; *p; p++) {
        switch (*p) {
        case '&':
            buf_adds(b, "&amp;");
            break;
        case '<':
            buf_adds(b, "&lt;");
            break;
        case '>':
            buf_adds(b, "&gt;");
            break;
        case '"':
            buf_adds(b, "&quot;");
            break;
        case '\'':
            buf_adds(b, "&#39;");
            break;
        default:
            buf_addc(b, *p);
        }
    }
}

/* "3d4h", "5m12s", "850ms"; "-" for a negative (unknown) duration. */
static void dur(struct buf *b, int64_t ms)
{
    if (ms < 0) {
        buf_adds(b, "-");
        return;
    }
    int64_t s = ms / 1000;
    if (s == 0)
        buf_addf(b, "%" PRId64 "ms", ms);
    else if (s < 60)
        buf_addf(b, "%.1fs", (double)ms / 1000.0);
    else if (s < 3600)
        buf_addf(b, "%" PRId64 "m%02" PRId64 "s", s / 60, s % 60);
    else if (s < 86400)
        buf_addf(b, "%" PRId64 "h%02" PRId64 "m", s / 3600, s / 60 % 60);
    else
        buf_addf(b, "%" PRId64 "d%" PRId64 "h", s / 86400, s / 3600 % 24);
}

static void when(struct buf *b, int64_t ms)
{
    if (ms <= 0) {
        buf_adds(b, "-");
        return;
    }
    char t[40];
    timefmt_rfc3339_ms(ms, t, sizeof(t));
    buf_adds(b, t);
}

static void bytes(struct buf *b, uint64_t n)
{
    if (n < 10240)
        buf_addf(b, "%" PRIu64 " B", n);
    else if (n < 10485760)
        buf_addf(b, "%.1f KiB", (double)n / 1024.0);
    else
        buf_addf(b, "%.1f MiB", (double)n / 1048576.0);
}

static void pct(struct buf *b, double v)
{
    if (isfinite(v))
        buf_addf(b, "%.0f%%", v * 100.0);
    else
        buf_adds(b, "-");
}

static const char *bp_level(double bp, const char **colour)
{
    if (!isfinite(bp)) {
        *colour = "#bbb";
        return "n/a";
    }
    if (bp <= 0.1) {
        *colour = C_OK;
        return "OK";
    }
    if (bp <= 0.5) {
        *colour = C_LOW;
        return "LOW";
    }
    *colour = C_HIGH;
    return "HIGH";
}

static const char style[] =
    "<style>"
    "body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#222;"
    "background:#f4f5f7}"
    "header{background:#1f2d3d;color:#fff;padding:10px 20px}"
    "header h1{font-size:20px;margin:0 0 4px}"
    "section{background:#fff;margin:14px 20px;padding:10px 16px;"
    "border-radius:6px;box-shadow:0 1px 2px #0002}"
    "h2{font-size:16px;margin:4px 0 8px}"
    "table{border-collapse:collapse;width:100%}"
    "th,td{text-align:left;padding:3px 8px;border-bottom:1px solid #eee;"
    "vertical-align:middle;white-space:nowrap}"
    /* long Flink names wrap anywhere; numbers and badges never do */
    "td:first-child,td.bn,td.err{white-space:normal;overflow-wrap:anywhere;"
    "min-width:10em}"
    "th{background:#fafafa;font-weight:600}"
    ".up{color:#fff;background:" C_OK ";padding:1px 6px;border-radius:3px}"
    ".down{color:#fff;background:" C_HIGH ";padding:1px 6px;"
    "border-radius:3px}"
    ".warn{color:#fff;background:" C_LOW ";padding:1px 6px;"
    "border-radius:3px}"
    ".bn{font-weight:700;color:" C_HIGH "}"
    ".err{color:" C_HIGH ";font-size:12px}"
    ".muted{color:#777}"
    "details{margin:6px 0}summary{cursor:pointer}"
    "input{padding:3px 6px}"
    "</style>";

static void targets(struct buf *b, const struct status *st, int64_t now_ms)
{
    buf_adds(b, "<section id=\"targets\"><h2>Targets</h2><table><tr>"
                "<th>endpoint</th><th>cluster</th><th>kind</th><th>state</th>"
                "<th>last scrape</th><th>duration</th><th>samples</th>"
                "<th>bytes</th><th>error</th></tr>");
    for (size_t i = 0; i < st->n_targets; i++) {
        const struct status_target *t = &st->targets[i];
        buf_adds(b, "<tr><td>");
        status_page_escape(b, t->url);
        buf_adds(b, "</td><td>");
        status_page_escape(b, t->cluster);
        buf_addf(b, "</td><td>%s</td><td><span class=\"%s\">%s</span></td><td>",
                 t->kind, t->ok ? "up" : "down", t->ok ? "up" : "down");
        dur(b, now_ms - t->last_ms);
        buf_adds(b, " ago</td><td>");
        dur(b, (int64_t)(t->duration_s * 1000.0));
        buf_addf(b, "</td><td>%" PRIu64 "</td><td>", t->samples);
        bytes(b, t->bytes);
        buf_adds(b, "</td><td class=\"err\">");
        status_page_escape(b, t->error);
        buf_adds(b, "</td></tr>");
    }
    buf_adds(b, "</table>");
    if (st->targets_omitted)
        buf_addf(b, "<p class=\"muted\">%zu more targets not shown</p>",
                 st->targets_omitted);
    buf_adds(b, "</section>");
}

/* One task's busy / backpressured / idle as a stacked bar 200 px wide. */
static void task_bar(struct buf *b, const struct status_task *t)
{
    double busy = isfinite(t->busy) ? t->busy : 0;
    double bp = isfinite(t->backpressured) ? t->backpressured : 0;
    double idle = isfinite(t->idle) ? t->idle : 0;
    double sum = busy + bp + idle;
    if (sum > 1.0) {
        busy /= sum;
        bp /= sum;
        idle /= sum;
    }
    int wb = (int)lround(busy * 200), wp = (int)lround(bp * 200),
        wi = (int)lround(idle * 200);
    buf_addf(
        b,
        "<svg width=\"200\" height=\"12\" role=\"img\"><rect width=\"200\" "
        "height=\"12\" fill=\"#eee\"/><rect width=\"%d\" height=\"12\" "
        "fill=\"" C_BUSY "\"/><rect x=\"%d\" width=\"%d\" height=\"12\" "
        "fill=\"" C_BP "\"/><rect x=\"%d\" width=\"%d\" height=\"12\" "
        "fill=\"" C_IDLE "\"/></svg>",
        wb, wb, wp, wb + wp, wi);
}

static void job_tasks(struct buf *b, const struct status_job *j, bool open)
{
    buf_addf(b, "<details%s><summary>tasks of <b>", open ? " open" : "");
    status_page_escape(b, j->name);
    buf_adds(b, "</b></summary><table class=\"tasks\"><tr><th>task</th>"
                "<th>busy / backpressured / idle</th><th>busy</th>"
                "<th>backpressure</th><th>idle</th><th>time per record</th>"
                "<th>watermark lag</th></tr>");
    for (size_t k = 0; k < j->n_tasks; k++) {
        const struct status_task *t = &j->tasks[k];
        const char *colour;
        const char *lvl = bp_level(t->backpressured, &colour);
        buf_addf(b, "<tr%s><td>", t->bottleneck ? " class=\"bn\"" : "");
        status_page_escape(b, t->name);
        if (t->bottleneck)
            buf_adds(b, " <span class=\"bnmark\">&larr; bottleneck</span>");
        buf_adds(b, "</td><td>");
        task_bar(b, t);
        buf_adds(b, "</td><td>");
        pct(b, t->busy);
        buf_addf(b, "</td><td><span style=\"color:%s\">%s</span> ", colour,
                 lvl);
        pct(b, t->backpressured);
        buf_adds(b, "</td><td>");
        pct(b, t->idle);
        buf_adds(b, "</td><td>");
        if (isfinite(t->record_us))
            buf_addf(b, "%.1f &micro;s", t->record_us);
        else
            buf_adds(b, "-");
        buf_adds(b, "</td><td>");
        dur(b,
            isfinite(t->watermark_lag_ms) ? (int64_t)t->watermark_lag_ms : -1);
        buf_adds(b, "</td></tr>");
    }
    buf_adds(b, "</table>");
    if (j->tasks_omitted)
        buf_addf(b, "<p class=\"muted\">%zu more tasks not shown</p>",
                 j->tasks_omitted);
    buf_adds(b, "</details>");
}

/* Jobs worth a look first: not running, then with a bottleneck. */
static int job_rank(const struct status_job *j)
{
    if (!j->running)
        return 0;
    return status_job_bottleneck(j) >= 0 ? 1 : 2;
}

static void jobs(struct buf *b, const struct status *st, const char *job,
                 status_owners_fn owners, void *ctx, int64_t now_ms)
{
    struct buf ow;
    buf_init(&ow, 4096);
    buf_addf(b,
             "<section id=\"jobs\"><h2>Flink jobs (%zu)</h2><table><tr>"
             "<th>job</th><th>cluster</th><th>state</th><th>uptime</th>"
             "<th>restarts</th><th>last checkpoint</th><th>duration</th>"
             "<th>failed checkpoints</th><th>bottleneck</th>%s</tr>",
             st->n_jobs, owners ? "<th>node(s)</th>" : "");
    for (size_t i = 0; i < st->n_jobs && !buf_error(b); i++) {
        const struct status_job *j = &st->jobs[i];
        long bn = status_job_bottleneck(j);
        buf_adds(b, "<tr><td>");
        status_page_escape(b, j->name);
        buf_adds(b, "</td><td>");
        status_page_escape(b, j->cluster);
        buf_addf(b, "</td><td><span class=\"%s\">%s</span></td><td>",
                 j->running ? "up" : "down",
                 j->running ? "RUNNING" : "not running");
        dur(b, j->uptime_ms);
        buf_adds(b, "</td><td>");
        if (j->restarts >= 0)
            buf_addf(b, "%" PRId64, j->restarts);
        buf_adds(b, "</td><td>");
        if (j->last_checkpoint_ms > 0) {
            dur(b, now_ms - j->last_checkpoint_ms);
            buf_adds(b, " ago");
        } else {
            buf_adds(b, "-");
        }
        buf_adds(b, "</td><td>");
        dur(b, j->last_checkpoint_duration_ms);
        buf_adds(b, "</td><td>");
        if (j->failed_checkpoints >= 0)
            buf_addf(b, "%s%" PRId64 "%s",
                     j->failed_checkpoints ? "<span class=\"warn\">" : "",
                     j->failed_checkpoints,
                     j->failed_checkpoints ? "</span>" : "");
        buf_adds(b, "</td><td class=\"bn\">");
        if (bn >= 0)
            status_page_escape(b, j->tasks[bn].name);
        buf_adds(b, "</td>");
        if (owners) {
            buf_reset(&ow);
            owners(ctx, j->name, &ow);
            buf_adds(b, "<td>");
            if (ow.len)
                status_page_escape(b, ow.data);
            buf_adds(b, "</td>");
        }
        buf_adds(b, "</tr>");
    }
    buf_adds(b, "</table>");
    if (st->jobs_omitted)
        buf_addf(b, "<p class=\"muted\">%zu more jobs not shown</p>",
                 st->jobs_omitted);
    /* Task detail, bounded: the job asked for, then by rank. */
    size_t shown = 0, with_tasks = 0;
    for (size_t i = 0; i < st->n_jobs; i++)
        with_tasks += st->jobs[i].n_tasks > 0;
    for (int rank = -1; rank <= 2; rank++) {
        for (size_t i = 0; i < st->n_jobs && shown < STATUS_PAGE_TASK_JOBS;
             i++) {
            const struct status_job *j = &st->jobs[i];
            bool asked = job && strcmp(job, j->name) == 0;
            if (!j->n_tasks || (rank == -1) != asked ||
                (rank >= 0 && job_rank(j) != rank))
                continue;
            job_tasks(b, j, asked || st->n_jobs <= 10);
            shown++;
        }
    }
    if (shown < with_tasks)
        buf_addf(b,
                 "<p class=\"muted\">tasks shown for %zu of %zu jobs; ask for "
                 "one with the box above</p>",
                 shown, with_tasks);
    buf_adds(b, "</section>");
    buf_release(&ow);
}

/* The last hour of one group's time lag, 160 x 28 px. */
static void sparkline(struct buf *b, const struct status_group *g)
{
    buf_adds(b, "<svg width=\"160\" height=\"28\" role=\"img\">"
                "<rect width=\"160\" height=\"28\" fill=\"#f7f7f7\"/>");
    if (g->n_hist == 1) {
        buf_adds(b,
                 "<circle cx=\"3\" cy=\"14\" r=\"2.5\" fill=\"" C_BUSY "\"/>");
    } else if (g->n_hist >= 2) {
        double max = 0;
        for (size_t k = 0; k < g->n_hist; k++)
            if (g->hist[k] > max)
                max = g->hist[k];
        if (max <= 0)
            max = 1;
        buf_adds(b, "<polyline fill=\"none\" stroke=\"" C_BUSY
                    "\" stroke-width=\"1.5\" points=\"");
        for (size_t k = 0; k < g->n_hist; k++) {
            double x = 160.0 * (double)k / (double)(STATUS_HIST_LEN - 1);
            double y = 27.0 - 25.0 * g->hist[k] / max;
            buf_addf(b, "%s%.1f,%.1f", k ? " " : "", x, y);
        }
        buf_adds(b, "\"/>");
    }
    buf_adds(b, "</svg>");
}

static void groups(struct buf *b, const struct status *st)
{
    buf_adds(b, "<section id=\"kafka\"><h2>Kafka consumer groups</h2><table>"
                "<tr><th>group</th><th>cluster</th><th>job</th>"
                "<th>time lag (slowest partition)</th><th>last hour</th>"
                "<th>record lag</th><th>consumed through</th>"
                "<th>catch-up</th></tr>");
    for (size_t i = 0; i < st->n_groups; i++) {
        const struct status_group *g = &st->groups[i];
        buf_adds(b, "<tr><td>");
        status_page_escape(b, g->group);
        if (g->stale)
            buf_adds(b, " <span class=\"warn\">stale</span>");
        buf_adds(b, "</td><td>");
        status_page_escape(b, g->cluster);
        buf_adds(b, "</td><td>");
        status_page_escape(b, g->job);
        buf_adds(b, "</td><td>");
        dur(b,
            isfinite(g->lag_seconds) ? (int64_t)(g->lag_seconds * 1000.0) : -1);
        if (g->slowest_topic) {
            buf_adds(b, " <span class=\"muted\">");
            status_page_escape(b, g->slowest_topic);
            buf_addf(b, "[%" PRId32 "]</span>", g->slowest_partition);
        }
        buf_adds(b, "</td><td>");
        sparkline(b, g);
        buf_addf(b, "</td><td>%" PRId64 "</td><td>", g->lag_records);
        when(b, g->consumed_through_ms);
        buf_adds(b, "</td><td>");
        if (isfinite(g->catch_up_s))
            dur(b, (int64_t)(g->catch_up_s * 1000.0));
        else if (isinf(g->catch_up_s))
            buf_adds(b, "never (not gaining)");
        else
            buf_adds(b, "-");
        buf_adds(b, "</td></tr>");
    }
    buf_adds(b, "</table>");
    if (st->groups_omitted)
        buf_addf(b, "<p class=\"muted\">%zu more groups not shown</p>",
                 st->groups_omitted);
    buf_adds(b, "</section>");
}

static void ring(struct buf *b, const struct status *st)
{
    buf_adds(b, "<section id=\"ring\"><h2>Sinks and ring</h2>");
    if (st->fingerprint) {
        buf_adds(b, "<p>ring fingerprint <code>");
        status_page_escape(b, st->fingerprint);
        buf_adds(b, "</code></p>");
    }
    buf_adds(b, "<table><tr><th>node</th><th>sink</th><th>url</th>"
                "<th>health</th><th>queue</th><th>spool</th>"
                "<th>points written</th><th>dropped</th><th>last error</th>"
                "</tr>");
    for (size_t i = 0; i < st->n_nodes; i++) {
        const struct status_node *n = &st->nodes[i];
        buf_adds(b, "<tr><td>");
        status_page_escape(b, n->name);
        buf_adds(b, "</td><td>");
        status_page_escape(b, n->sink);
        buf_adds(b, "</td><td>");
        status_page_escape(b, n->url);
        buf_addf(b, "</td><td><span class=\"%s\">%s</span></td><td>",
                 n->down ? "down"
                 : n->up ? "up"
                         : "warn",
                 n->down ? "down"
                 : n->up ? "up"
                         : "no answer yet");
        bytes(b, n->queue_bytes);
        buf_adds(b, "</td><td>");
        bytes(b, n->spool_bytes);
        buf_addf(b, "</td><td>%" PRIu64 "</td><td>%" PRIu64 "</td>", n->written,
                 n->dropped);
        buf_adds(b, "<td class=\"err\">");
        status_page_escape(b, n->error);
        buf_adds(b, "</td></tr>");
    }
    buf_adds(b, "</table></section>");
}

static void header(struct buf *b, const struct status *st, int64_t now_ms)
{
    buf_adds(b, "<header><h1>lagwatch ");
    status_page_escape(b, st->version);
    buf_adds(b, " &mdash; agent ");
    status_page_escape(b, st->agent_name);
    buf_adds(b, "</h1><div>cycle ");
    dur(b, (int64_t)(st->cycle_s * 1000.0));
    buf_adds(b, " of an interval of ");
    dur(b, (int64_t)st->interval_ms);
    double frac =
        st->interval_ms ? st->cycle_s * 1000.0 / (double)st->interval_ms : 0;
    int w = (int)lround((frac > 1 ? 1 : frac) * 120);
    buf_addf(b,
             " <svg width=\"120\" height=\"10\"><rect width=\"120\" "
             "height=\"10\" fill=\"#3c4b5c\"/><rect width=\"%d\" "
             "height=\"10\" fill=\"%s\"/></svg>",
             w,
             frac > 1     ? C_HIGH
             : frac > 0.5 ? C_LOW
                          : C_OK);
    buf_adds(b, " &middot; last cycle ");
    dur(b, now_ms - st->cycle_ts_ms);
    buf_adds(b, " ago");
    if (st->align)
        buf_adds(b, " (aligned)");
    buf_adds(b, " &middot; config ");
    status_page_escape(b, st->config_path);
    buf_adds(b, " loaded ");
    when(b, st->config_loaded_ms);
    buf_adds(b, "</div></header>");
}

static void search(struct buf *b, const struct status *st, const char *job,
                   status_owners_fn owners, void *ctx)
{
    buf_adds(b, "<section id=\"where\"><form method=\"get\" action=\"/\">"
                "<label>where is job <input name=\"job\" value=\"");
    status_page_escape(b, job);
    buf_adds(b, "\" placeholder=\"job name\"></label> <button>find</button>"
                "</form>");
    if (job && *job) {
        bool known = false;
        for (size_t i = 0; i < st->n_jobs && !known; i++)
            known = strcmp(st->jobs[i].name, job) == 0;
        buf_adds(b, "<p id=\"where-answer\">job <b>");
        status_page_escape(b, job);
        buf_adds(b, "</b>");
        if (!known)
            buf_adds(b, " (not among the jobs seen this cycle)");
        if (owners) {
            struct buf ow;
            buf_init(&ow, 4096);
            owners(ctx, job, &ow);
            buf_adds(b, " is written to: <b>");
            status_page_escape(b, ow.len ? ow.data : "(no node)");
            buf_adds(b, "</b>");
            buf_release(&ow);
        } else {
            buf_adds(b, ": no sinks.influxdb ring is configured");
        }
        buf_adds(b, "</p>");
    }
    buf_adds(b, "</section>");
}

int status_page_html(struct buf *b, const struct status *st, const char *job,
                     status_owners_fn owners, void *ctx, int64_t now_ms)
{
    buf_adds(b,
             "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
             "<meta name=\"viewport\" content=\"width=device-width\">"
             "<title>lagwatch ");
    status_page_escape(b, st->agent_name);
    buf_adds(b, "</title>");
    buf_adds(b, style);
    buf_adds(b, "</head><body>");
    header(b, st, now_ms);
    search(b, st, job, owners, ctx);
    targets(b, st, now_ms);
    jobs(b, st, job, owners, ctx, now_ms);
    groups(b, st);
    ring(b, st);
    buf_adds(b, "<footer class=\"muted\" style=\"margin:0 20px 20px\">"
                "also: <a href=\"/api/v1/status\">/api/v1/status</a> "
                "<a href=\"/metrics\">/metrics</a> "
                "<a href=\"/api/v1/lag\">/api/v1/lag</a></footer>"
                "</body></html>\n");
    return buf_error(b) ? -1 : 0;
}
