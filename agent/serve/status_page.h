/*
 * status_page: the HTML status page lagwatch serves at `/` (lagwatch(8),
 * STATUS PAGE), rendered on the server from one status snapshot.
 *
 * One self-contained document: inline CSS and SVG (task bars, each group's
 * lag sparkline), no script and no external asset, so it works without
 * internet and under a strict Content-Security-Policy. Everything that
 * comes from Flink, Kafka or the request is HTML-escaped. The "where is job
 * X" box is a GET form (`/?job=X`) answered here from the ring. The page is
 * bounded: per-task bars are drawn for at most STATUS_PAGE_TASK_JOBS jobs
 * (the one asked for, then those not running, then with a bottleneck), the rest
 * are one table row each.
 *
 * Pure function of its inputs; any thread.
 */
#ifndef SERVE_STATUS_PAGE_H
#define SERVE_STATUS_PAGE_H

#include "serve/status.h"
#include "util/buf.h"

#define STATUS_PAGE_TASK_JOBS 30

/* Appends the page to b. job is the search box's query (or NULL), owners
 * answers it and the per-job node column (NULL without a ring). now_ms is
 * the time ages are measured against. -1 when b's cap is reached. */
int status_page_html(struct buf *b, const struct status *st, const char *job,
                     status_owners_fn owners, void *ctx, int64_t now_ms);

/* Appends s HTML-escaped (& < > " '). */
void status_page_escape(struct buf *b, const char *s);

#endif
