/*
 * lagwatch run -c FILE [--once] [--log-level LEVEL]: the daemon loop.
 *
 * Signals only set flags (the one kind of process-wide state besides the log
 * level); the loop acts on them between cycles: SIGTERM/SIGINT stop
 * collecting and drain the sink within a deadline, SIGHUP reloads the
 * configuration, keeping the running one when the new one is bad.
 *
 * Under systemd (Type=notify) the loop reports READY=1 after the first
 * cycle, a STATUS= line per cycle, RELOADING=1/READY=1 around a reload,
 * STOPPING=1 on shutdown, and pings the watchdog from the loop itself, so a
 * hung cycle is noticed (see sdnotify.h).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent.h"
#include "cmd/cmd.h"
#include "proxy/proxy.h"
#include "config.h"
#include "serve/endpoint.h"
#include "serve/status.h"
#include "util/clock.h"
#include "kafka/lag_report.h"
#include "kafka/lagcollect.h"
#include "util/log.h"
#include "cmd/ringinfo.h"
#include "hashring/hashring.h"
#include "util/sdnotify.h"
#include "util/xalloc.h"

/* Deadline for writing what is queued after --once and before a reload
 * (SIGTERM uses agent.shutdown_timeout). */
#define DRAIN_TIMEOUT_MS 30000
/* Before a reload: what is not written by then is spooled. */
#define RELOAD_DRAIN_MS 2000

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t reload_requested;

static void on_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void on_reload(int sig)
{
    (void)sig;
    reload_requested = 1;
}

static int install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop;
    if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0)
        return -1;
    sa.sa_handler = on_reload;
    if (sigaction(SIGHUP, &sa, NULL) < 0)
        return -1;
    sa.sa_handler = SIG_IGN;
    if (sigaction(SIGPIPE, &sa, NULL) < 0)
        return -1;
    return 0;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sleeps until the deadline or until a signal flag is raised, pinging the
 * watchdog on the way. */
static void sleep_until(double deadline, struct sdnotify *sn)
{
    while (!stop_requested && !reload_requested) {
        sdnotify_watchdog(sn);
        double left = deadline - mono_s();
        if (left <= 0)
            return;
        if (left > 0.1)
            left = 0.1;
        struct timespec ts = {0, (long)(left * 1e9)};
        nanosleep(&ts, NULL);
    }
}

static int apply_log_level(const char *cli_level, const struct config *cfg)
{
    enum log_level lvl;
    const char *s = cli_level ? cli_level : cfg->agent.log_level;
    if (log_level_parse(s, &lvl) < 0)
        return -1;
    log_set_level(lvl);
    return 0;
}

/* Loads path and builds an agent for it; both or neither are returned. */
static int load(const char *path, const char *cli_level, struct config **cfgp,
                struct agent **agp)
{
    char err[1024];
    struct config *cfg = config_load(path, err, sizeof(err));
    if (!cfg) {
        log_error("%s", err);
        return EXIT_USAGE;
    }
    if (apply_log_level(cli_level, cfg) < 0) {
        log_error("invalid log level '%s'", cli_level);
        config_free(&cfg);
        return EXIT_USAGE;
    }
    struct agent *ag = agent_new(cfg, err, sizeof(err));
    if (!ag) {
        log_error("%s", err);
        config_free(&cfg);
        return EXIT_USAGE;
    }
    *cfgp = cfg;
    *agp = ag;
    return 0;
}

/* Logs why the reload of path was refused, frees the new configuration
 * and puts the running log level back. */
static void reject_reload(const char *path, const char *why,
                          struct config **ncfg, const char *cli_level,
                          struct config *cfg)
{
    log_error("%s", why);
    log_error("reload of '%s' rejected: keeping the running configuration",
              path);
    config_free(ncfg);
    apply_log_level(cli_level, cfg);
}

/* On success the previous configuration is handed back in *oldp (the
 * endpoint is rebuilt from the difference), else *oldp is NULL. Returns -1
 * only when neither the new nor the running configuration could be set up
 * again (the daemon then stops). */
static int reload(const char *path, const char *cli_level, struct config **cfgp,
                  struct agent **agp, struct config **oldp)
{
    char err[1024];
    *oldp = NULL;
    log_info("reloading configuration from '%s'", path);
    struct config *ncfg = config_load(path, err, sizeof(err));
    if (!ncfg || apply_log_level(cli_level, ncfg) < 0) {
        if (ncfg)
            snprintf(err, sizeof(err), "invalid log level '%s'", cli_level);
        reject_reload(path, err, &ncfg, cli_level, *cfgp);
        return 0;
    }
    char oldfp[HASHRING_FINGERPRINT_LEN + 1] = "";
    char newfp[HASHRING_FINGERPRINT_LEN + 1] = "";
    ringinfo_fingerprint(*cfgp, oldfp);
    ringinfo_fingerprint(ncfg, newfp);
    /* The old agent goes first: its sinks hold the node spools the new
     * ones open. What it has queued gets a short chance to be written;
     * freeing it spools the rest, still addressed to the node it was
     * routed to under the old ring (a dead node must not stall the
     * reload). */
    if (agent_drain(*agp, RELOAD_DRAIN_MS) < 0)
        log_warn("not every point queued before the reload was written");
    agent_free(agp);
    *agp = agent_new(ncfg, err, sizeof(err));
    if (!*agp) {
        reject_reload(path, err, &ncfg, cli_level, *cfgp);
        *agp = agent_new(*cfgp, err, sizeof(err));
        if (!*agp) {
            log_error("cannot set up the running configuration again: %s", err);
            return -1;
        }
        return 0;
    }
    if (strcmp(oldfp, newfp) != 0)
        log_warn("ring changed on reload: fingerprint %s -> %s",
                 oldfp[0] ? oldfp : "(none)", newfp[0] ? newfp : "(none)");
    *oldp = *cfgp;
    *cfgp = ncfg;
    log_info("configuration reloaded");
    return 0;
}

/* Where the status page says the configuration came from. */
struct loaded {
    const char *path;
    int64_t at_ms;
};

/* Publishes the last cycle's self-metrics and status on the endpoint. */
static void publish(struct endpoint *ep, struct agent *ag,
                    const struct config *cfg, const struct loaded *ld)
{
    if (!ep)
        return;
    struct endpoint_data d;
    memset(&d, 0, sizeof(d));
    struct buf b;
    buf_init(&b, 0);
    /* the previous cycle's model is freed when its last reader is done */
    d.metrics = agent_take_metrics(ag);
    d.lag = lagcollect_copy(agent_lagcollect(ag), &d.n_lag);
    lag_report_json(&b, (const struct kafka_lag_cluster *const *)d.lag,
                    d.n_lag);
    buf_addc(&b, '\n');
    d.lag_json = buf_detach(&b, &d.lag_json_len);
    d.status = agent_take_status(ag);
    d.status->version = xstrdup(PACKAGE_VERSION);
    d.status->config_path = xstrdup(ld->path);
    d.status->config_loaded_ms = ld->at_ms;
    char fp[HASHRING_FINGERPRINT_LEN + 1] = "";
    ringinfo_fingerprint(cfg, fp);
    d.status->fingerprint = fp[0] ? xstrdup(fp) : NULL;
    endpoint_publish(ep, &d);
    endpoint_set_ready(ep, true);
}

/* After a reload: new endpoint settings (or secret files to re-read) get
 * a new endpoint. A new address is bound before the old endpoint stops, so
 * a failure keeps the old one serving; the same address must be released
 * first, and a failure then falls back to the previous settings. */
static void rebind(struct endpoint **epp, const struct cfg_agent *old,
                   const struct cfg_agent *nw)
{
    char err[768];
    if (*epp && !endpoint_needs_rebuild(old, nw))
        return;
    if (*epp && strcmp(old->listen, nw->listen) != 0) {
        struct endpoint *nep = endpoint_new(nw, err, sizeof(err));
        if (!nep) {
            log_error("%s; still serving on '%s' with the previous settings",
                      err, old->listen);
            return;
        }
        endpoint_free(epp);
        *epp = nep;
        log_info("serving on '%s'", nw->listen);
        return;
    }
    endpoint_free(epp);
    *epp = endpoint_new(nw, err, sizeof(err));
    if (*epp) {
        log_info("serving on '%s' with the reloaded settings", nw->listen);
        return;
    }
    log_error("%s", err);
    *epp = endpoint_new(old, err, sizeof(err));
    if (*epp)
        log_warn("still serving on '%s' with the previous settings",
                 old->listen);
    else
        log_error("%s; no HTTP endpoint until a reload succeeds", err);
}

/* READY=1 (first time and after a reload) plus the last cycle's STATUS. */
static void notify_cycle(struct sdnotify *sn, bool ready,
                         const struct agent_cycle_report *rep, int cycle_rc)
{
    if (!sdnotify_enabled(sn))
        return;
    sdnotify_sendf(sn,
                   "%sSTATUS=cycle %s: %llu targets, %llu failed, %llu "
                   "points in %.1f s",
                   ready ? "READY=1\n" : "",
                   cycle_rc < 0 ? "with errors" : "ok",
                   (unsigned long long)rep->targets,
                   (unsigned long long)rep->targets_failed,
                   (unsigned long long)rep->points_out, rep->duration_s);
}

/* agent.align (lagwatch.yml(5)): the wall-clock multiple of the interval
 * at or before now, which stamps the cycle. */
static int64_t align_floor(int64_t now_ms, uint64_t interval_ms)
{
    int64_t iv = (int64_t)interval_ms;
    return now_ms - (now_ms % iv + iv) % iv;
}

/* With agent.align, waits for the next multiple of the interval after
 * last_ts (INT64_MIN before the first cycle) and returns it; a slot
 * already used or already begun is never stamped again, so a cycle right
 * after a reload or a restart cannot overwrite the previous one's points.
 * Returns -1 when a signal cut the wait short. */
static int64_t wait_slot(const struct config *cfg, int64_t last_ts,
                         struct sdnotify *sn)
{
    int64_t iv = (int64_t)cfg->agent.interval_ms;
    int64_t wall = clock_wall_ms();
    int64_t slot = align_floor(wall, cfg->agent.interval_ms);
    if (slot < wall)
        slot += iv;
    if (last_ts != INT64_MIN && slot <= last_ts)
        slot = last_ts + iv;
    /* a wake a hair early must not stamp the slot before */
    sleep_until(mono_s() + (double)(slot - wall) / 1000.0 + 0.002, sn);
    if (stop_requested || reload_requested)
        return -1;
    return slot;
}

static const char run_usage[] =
    "usage: lagwatch run -c FILE [--once] [--log-level "
    "debug|info|warn|error]\n";

int cmd_run(int argc, char **argv)
{
    const char *path = NULL;
    const char *cli_level = NULL;
    bool once = false;
    static const struct option opts[] = {
        {"once", no_argument, NULL, 'o'},
        {"log-level", required_argument, NULL, 'l'},
        CMD_COMMON_OPTIONS,
    };
    int c, rc = 0;
    optind = 1;
    while ((c = cmd_getopt(argc, argv, "c:h", opts, run_usage, run_usage, &path,
                           &rc)) > 0) {
        if (c == 'o')
            once = true;
        else if (c == 'l')
            cli_level = optarg;
    }
    if (c == 0)
        return rc;
    if (!path || optind != argc) {
        fputs(run_usage, stderr);
        return EXIT_USAGE;
    }
    enum log_level lvl;
    if (cli_level && log_level_parse(cli_level, &lvl) < 0) {
        fprintf(stderr, "lagwatch: invalid --log-level '%s'\n", cli_level);
        return EXIT_USAGE;
    }
    if (install_signals() < 0) {
        fprintf(stderr, "lagwatch: cannot install signal handlers: %s\n",
                strerror(errno));
        return EXIT_RUNTIME;
    }

    struct config *cfg = NULL;
    struct agent *ag = NULL;
    struct proxy *px = NULL;
    rc = load(path, cli_level, &cfg, &ag);
    if (rc != 0)
        return rc;

    struct agent_cycle_report *rep;
    if (once) {
        /* a one-shot run is on no schedule: aligned, two runs within an
         * interval would write their points at the same instant */
        rc = agent_cycle(ag, &rep) < 0 ? EXIT_RUNTIME : 0;
        /* spooled for a later run is not lost, but this cycle failed */
        if (agent_drain(ag, DRAIN_TIMEOUT_MS) != 0)
            rc = EXIT_RUNTIME;
        agent_print_report(ag, stdout);
        goto out;
    }

    char err[768];
    struct sdnotify *sn = sdnotify_new(err, sizeof(err));
    if (!sn)
        log_warn("%s; not notifying systemd", err);
    struct endpoint *ep = endpoint_new(&cfg->agent, err, sizeof(err));
    if (!ep) {
        log_error("%s", err);
        rc = EXIT_RUNTIME;
        sdnotify_free(&sn);
        goto out;
    }
    if (endpoint_set_ring(ep, cfg, err, sizeof(err)) < 0)
        log_error("cannot serve /api/v1/ring: %s", err);
    /* The proxy: section is served next to the collector (lagwatch(8),
     * PROXY); built from the first configuration, a reload keeps it. */
    if (cfg->proxy.enabled) {
        px = proxy_new(cfg, err, sizeof(err));
        if (!px) {
            log_error("%s: %s", path, err);
            rc = EXIT_RUNTIME;
            goto out_ep;
        }
        log_info("InfluxDB proxy serving on '%s'", cfg->proxy.listen);
    }
    char fp[HASHRING_FINGERPRINT_LEN + 1];
    ringinfo_fingerprint(cfg, fp);
    log_info("lagwatch %s started: agent '%s', interval %llu ms, ring %s, "
             "serving on '%s'",
             PACKAGE_VERSION, cfg->agent.name,
             (unsigned long long)cfg->agent.interval_ms, fp[0] ? fp : "(none)",
             cfg->agent.listen);
    struct loaded ld = {path, clock_wall_ms()};
    double next = mono_s();
    int64_t last_ts = INT64_MIN; /* the last aligned cycle's slot */
    bool notify_ready = true;    /* READY=1 due: first cycle, after a reload */
    sdnotify_watchdog(sn);
    while (!stop_requested) {
        if (reload_requested) {
            struct timespec now;
            struct config *old = NULL;
            reload_requested = 0;
            clock_gettime(CLOCK_MONOTONIC, &now);
            sdnotify_sendf(sn,
                           "RELOADING=1\nMONOTONIC_USEC=%llu\n"
                           "STATUS=reloading '%s'",
                           (unsigned long long)now.tv_sec * 1000000ULL +
                               (unsigned long long)now.tv_nsec / 1000ULL,
                           path);
            if (reload(path, cli_level, &cfg, &ag, &old) < 0) {
                rc = EXIT_RUNTIME;
                goto out_ep;
            }
            if (old)
                rebind(&ep, &old->agent, &cfg->agent);
            config_free(&old);
            ld.at_ms = clock_wall_ms();
            if (ep && endpoint_set_ring(ep, cfg, err, sizeof(err)) < 0)
                log_error("cannot serve /api/v1/ring: %s", err);
            notify_ready = true;
        }
        int64_t ts = clock_wall_ms();
        if (cfg->agent.align) {
            ts = wait_slot(cfg, last_ts, sn);
            if (ts < 0)
                continue;
            last_ts = ts;
        }
        int cycle_rc = agent_cycle_at(ag, ts, &rep);
        publish(ep, ag, cfg, &ld);
        notify_cycle(sn, notify_ready, rep, cycle_rc);
        notify_ready = false;
        sdnotify_watchdog(sn);
        double now = mono_s();
        if (cfg->agent.align) {
            /* wait_slot sleeps before the next cycle; one that overran
             * skips the slots it missed rather than run late */
            if (clock_wall_ms() - ts > (int64_t)cfg->agent.interval_ms)
                log_warn("cycle took longer than the interval of %llu ms",
                         (unsigned long long)cfg->agent.interval_ms);
        } else {
            next += (double)cfg->agent.interval_ms / 1000.0;
            if (next < now) {
                log_warn("cycle took longer than the interval of %llu ms",
                         (unsigned long long)cfg->agent.interval_ms);
                next = now;
            }
        }
        if (!cfg->agent.align)
            sleep_until(next, sn);
    }
    log_info("stopping: writing what is queued (deadline %llu ms)",
             (unsigned long long)cfg->agent.shutdown_timeout_ms);
    sdnotify_send(sn, "STOPPING=1\nSTATUS=stopping: writing what is queued");
    rc = agent_drain(ag, cfg->agent.shutdown_timeout_ms) < 0 ? EXIT_RUNTIME : 0;
out_ep:
    proxy_free(&px);
    endpoint_free(&ep);
    sdnotify_free(&sn);
out:
    agent_free(&ag);
    config_free(&cfg);
    return rc;
}
