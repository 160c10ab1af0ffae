#!/usr/bin/env python3
"""gen.py: lagwatch's Grafana dashboards, alert rules and provisioning
files, generated from the definitions below (standard library only).

    gen.py write DIR          write every generated file under DIR (the
                              committed ones live in dashboards/; after an
                              edit here: python3 dashboards/gen.py write
                              dashboards)
    gen.py alerts NODE...     Grafana alert provisioning YAML for these
                              InfluxDB ring nodes (datasource uid
                              lagwatch-NODE)
    gen.py datasources NODE=URL...
                              Grafana datasource provisioning YAML: one
                              InfluxDB datasource per ring node, named after
                              the node

The dashboards come in two flavours with the same layout: influxdb/ (InfluxQL
over the sharded store; a datasource variable "node" picks the ring node) and
prometheus/ (PromQL over lagwatch's /metrics). lagwatch's own health is
Prometheus only: the self-metrics are served on /metrics, not written to
InfluxDB. tests/integration/dashboards.sh runs every query against a live
run and diffs the committed files against this generator's output.
"""

import json
import os
import sys

# The dashboard schemaVersion of the @grafana/schema release the test
# validates against (its defaultDashboard.schemaVersion).
SCHEMA_VERSION = 41
EXAMPLE_NODES = [("influx-a", "http://influx-a:8086"),
                 ("influx-b", "http://influx-b:8086")]

# Thresholds shared with rules/lagwatch.rules.yml, so that a panel turns
# red when the matching alert fires.
LAG_WARN_S = 300
LAG_CRIT_S = 1800
BP_LOW = 0.1    # Flink web UI: back-pressure OK up to 10%, LOW up to 50%
BP_HIGH = 0.5   # and HIGH above
BUSY_HIGH = 0.8  # flink[].bottleneck_threshold default


# ------------------------------------------------------------ building blocks

def steps(*pairs):
    """steps("green", 300, "orange", ...): absolute thresholds."""
    out = [{"color": pairs[0], "value": None}]
    for i in range(1, len(pairs), 2):
        out.append({"color": pairs[i + 1], "value": pairs[i]})
    return {"mode": "absolute", "steps": out}


NEUTRAL = steps("green")
BP_STEPS = steps("green", BP_LOW, "orange", BP_HIGH, "red")
BUSY_STEPS = steps("green", 0.5, "yellow", BUSY_HIGH, "red")
IDLE_STEPS = steps("red", 0.1, "yellow", 0.5, "green")
LAG_STEPS = steps("green", LAG_WARN_S, "orange", LAG_CRIT_S, "red")
BAD_IF_ANY = steps("green", 1, "red")

RUNNING_MAP = [{"type": "value", "options": {
    "0": {"text": "NOT RUNNING", "color": "red", "index": 0},
    "1": {"text": "RUNNING", "color": "green", "index": 1}}}]
BOTTLENECK_MAP = [{"type": "value", "options": {
    "0": {"text": "-", "color": "transparent", "index": 0},
    "1": {"text": "BOTTLENECK", "color": "red", "index": 1}}}]


class Flavour:
    def __init__(self, kind):
        self.kind = kind            # "influxdb" or "prometheus"
        self.dsvar = "node" if kind == "influxdb" else "datasource"
        self.ds = {"type": kind, "uid": "${%s}" % self.dsvar}

    def target(self, ref, query, legend="", table=False):
        if self.kind == "influxdb":
            t = {"refId": ref, "datasource": self.ds, "query": query,
                 "rawQuery": True,
                 "resultFormat": "table" if table else "time_series"}
            if legend:
                t["alias"] = legend
            return t
        t = {"refId": ref, "datasource": self.ds, "expr": query,
             "editorMode": "code", "range": not table, "instant": table,
             "format": "table" if table else "time_series"}
        if legend:
            t["legendFormat"] = legend
        return t

    def dsvariable(self):
        if self.kind == "influxdb":
            return {"name": "node", "label": "InfluxDB node",
                    "description": "The ring node that holds the job or "
                    "group (one datasource per node, named after it; "
                    "lagwatch ring --key or /api/v1/ring?key= tells which)",
                    "type": "datasource", "query": "influxdb", "regex": "",
                    "refresh": 1, "hide": 0, "multi": False,
                    "includeAll": False, "options": [], "skipUrlSync": False}
        return {"name": "datasource", "label": "Prometheus",
                "type": "datasource", "query": "prometheus", "regex": "",
                "refresh": 1, "hide": 0, "multi": False, "includeAll": False,
                "options": [], "skipUrlSync": False}

    def qvar(self, name, label, query, multi=True):
        v = {"name": name, "label": label, "type": "query",
             "datasource": self.ds, "query": query, "refresh": 2,
             "regex": "", "sort": 1, "hide": 0, "multi": multi,
             "includeAll": multi, "options": [], "skipUrlSync": False}
        if multi:
            v["current"] = {"selected": True, "text": ["All"],
                            "value": ["$__all"]}
        return v


def influx_var_query(measurement, field, tag, where=""):
    """A time-bounded tag value list. InfluxDB 1.x answers SHOW TAG VALUES
    from its index without looking at time, so series of jobs gone long ago
    would fill the dropdown; the tag of a subquery grouped by it, selected
    next to a field, is bounded by $timeFilter (Grafana takes the second
    column of a SELECT as the value). The subquery also groups by
    "job_name" (the ring's shard tag: one row per job, the same values):
    lagwatch's InfluxDB proxy can then merge it over every node
    (lagwatch(8), PROXY, subqueries)."""
    cond = "$timeFilter" + ("".join(" AND " + w for w in where) if where
                            else "")
    by = '"%s"' % tag if tag == "job_name" else '"%s", "job_name"' % tag
    return ('SELECT "%s", "v" FROM (SELECT last("%s") AS "v" FROM "%s" '
            'WHERE %s GROUP BY %s)' % (tag, field, measurement, cond, by))


def match(tag, var):
    return '"%s" =~ /^$%s$/' % (tag, var)


TEXTBOX = {"name": "lagwatch_url", "label": "lagwatch agent URL",
           "description": "Base URL of a lagwatch agent, for the ring link",
           "type": "textbox", "query": "http://localhost:9743",
           "current": {"text": "http://localhost:9743",
                       "value": "http://localhost:9743"},
           "hide": 0, "skipUrlSync": False}


def link(title, url, tooltip):
    return {"title": title, "type": "link", "url": url, "icon":
            "external link", "tooltip": tooltip, "asDropdown": False,
            "includeVars": False, "keepTime": False, "tags": [],
            "targetBlank": True}


def dashlinks(kind):
    return {"title": "lagwatch dashboards", "type": "dashboards",
            "icon": "external link", "tooltip": "", "asDropdown": True,
            "includeVars": False, "keepTime": True,
            "tags": ["lagwatch", kind], "targetBlank": False}


def override(name, **props):
    out = []
    for k, v in props.items():
        out.append({"id": k.replace("__", "."), "value": v})
    return {"matcher": {"id": "byName", "options": name}, "properties": out}


def color_cell(name, unit, thresholds=None, mappings=None, display=None):
    kw = {"unit": unit,
          "custom__cellOptions": {"type": "color-background"}}
    if thresholds:
        kw["thresholds"] = thresholds
    if mappings:
        kw["mappings"] = mappings
    if display:
        kw["displayName"] = display
    return override(name, **kw)


def plain(name, unit, display=None):
    kw = {"unit": unit}
    if display:
        kw["displayName"] = display
    return override(name, **kw)


class Panel:
    def __init__(self, kind, title, targets, unit, w=12, h=8, desc="",
                 thresholds=None, mappings=None, overrides=(), minv=None,
                 maxv=None, color=None, bars=False, threshold_lines=False,
                 transformations=(), options=None):
        self.kind, self.title, self.targets = kind, title, targets
        self.unit, self.w, self.h, self.desc = unit, w, h, desc
        self.thresholds = thresholds or NEUTRAL
        self.mappings = mappings or []
        self.overrides = list(overrides)
        self.minv, self.maxv, self.color = minv, maxv, color
        self.bars, self.threshold_lines = bars, threshold_lines
        self.transformations = list(transformations)
        self.options = options

    def json(self, fl, pid, pos):
        d = {"unit": self.unit, "thresholds": self.thresholds,
             "mappings": self.mappings}
        if self.minv is not None:
            d["min"] = self.minv
        if self.maxv is not None:
            d["max"] = self.maxv
        custom = {}
        if self.kind == "timeseries":
            custom = {"drawStyle": "bars" if self.bars else "line",
                      "lineWidth": 1, "fillOpacity": 10,
                      "showPoints": "never", "spanNulls": False,
                      "thresholdsStyle": {"mode": "line" if
                                          self.threshold_lines else "off"}}
            d["color"] = {"mode": "palette-classic"}
        elif self.kind in ("state-timeline", "status-history"):
            custom = {"fillOpacity": 80, "lineWidth": 0}
            d["color"] = {"mode": self.color or "thresholds"}
        elif self.kind == "table":
            custom = {"align": "auto", "cellOptions": {"type": "auto"},
                      "inspect": False}
            d["color"] = {"mode": "thresholds"}
        else:
            d["color"] = {"mode": "thresholds"}
        if custom:
            d["custom"] = custom
        p = {"id": pid, "type": self.kind, "title": self.title,
             "description": self.desc, "datasource": fl.ds,
             "gridPos": pos,
             "targets": [fl.target(chr(ord("A") + i), *t)
                         for i, t in enumerate(self.targets)],
             "fieldConfig": {"defaults": d, "overrides": self.overrides},
             "options": self.options or default_options(self.kind)}
        if self.transformations:
            p["transformations"] = self.transformations
        return p


def default_options(kind):
    legend = {"showLegend": True, "displayMode": "list",
              "placement": "bottom", "calcs": []}
    tooltip = {"mode": "multi", "sort": "desc"}
    if kind == "timeseries":
        return {"legend": dict(legend, displayMode="table",
                               calcs=["lastNotNull", "max"]),
                "tooltip": tooltip}
    if kind == "stat":
        return {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "",
                                  "values": False},
                "colorMode": "value", "graphMode": "area",
                "textMode": "auto", "justifyMode": "auto",
                "orientation": "auto"}
    if kind == "table":
        return {"showHeader": True, "cellHeight": "sm",
                "footer": {"show": False, "reducer": ["sum"],
                           "fields": ""}}
    if kind == "state-timeline":
        return {"mergeValues": True, "showValue": "auto",
                "alignValue": "left", "rowHeight": 0.9,
                "legend": legend, "tooltip": tooltip}
    if kind == "status-history":
        return {"showValue": "never", "rowHeight": 0.9, "colWidth": 0.9,
                "legend": legend, "tooltip": tooltip}
    return {}


class Row:
    def __init__(self, title):
        self.title = title


HIDE_TIME = {"id": "organize", "options": {"excludeByName": {"Time": True},
                                           "renameByName": {}}}


def merge_tables():
    return [{"id": "merge", "options": {}}, HIDE_TIME]


def dashboard(fl, uid, title, desc, variables, items, links=()):
    panels, pid, x, y, line_h = [], 1, 0, 0, 0
    for it in items:
        if isinstance(it, Row):
            if x:
                x, y = 0, y + line_h
            panels.append({"id": pid, "type": "row", "title": it.title,
                           "collapsed": False, "panels": [],
                           "gridPos": {"x": 0, "y": y, "w": 24, "h": 1}})
            pid, y, line_h = pid + 1, y + 1, 0
            continue
        if x + it.w > 24:
            x, y, line_h = 0, y + line_h, 0
        pos = {"x": x, "y": y, "w": it.w, "h": it.h}
        panels.append(it.json(fl, pid, pos))
        pid, x, line_h = pid + 1, x + it.w, max(line_h, it.h)
    return {
        "uid": uid, "title": title, "description": desc,
        "tags": ["lagwatch", fl.kind],
        "editable": True, "graphTooltip": 1, "fiscalYearStartMonth": 0,
        "liveNow": False, "refresh": "1m", "schemaVersion": SCHEMA_VERSION,
        "version": 1, "timezone": "browser", "weekStart": "",
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {"refresh_intervals": ["30s", "1m", "5m", "15m"]},
        "annotations": {"list": []},
        "links": [dashlinks(fl.kind)] + list(links),
        "templating": {"list": [fl.dsvariable()] + variables},
        "panels": panels,
    }


RING_LINK_JOB = link("Which InfluxDB node holds job $job? (lagwatch ring)",
                     "${lagwatch_url}/api/v1/ring?key=${job}",
                     "Asks a lagwatch agent which ring node owns the job's "
                     "series (shard_by: [job_name]); pick one job first")
RING_LINK_GROUP = link("Which InfluxDB node holds group $group? (lagwatch "
                       "ring)", "${lagwatch_url}/api/v1/ring?key=${group}",
                       "A group mapped to a Flink job (job:) lands with the "
                       "job: ask for the job name instead")


# ------------------------------------------------------------ InfluxDB

def influx_jobs():
    fl = Flavour("influxdb")
    sel = "$timeFilter AND %s AND %s" % (match("flink_cluster", "cluster"),
                                         match("job_name", "job"))
    per_job = ('SELECT {agg} FROM (SELECT last("{f}") AS "x" FROM '
               '"lagwatch_job" WHERE %s GROUP BY "flink_cluster", '
               '"job_name")' % sel)
    increase = ('SELECT sum("d") FROM (SELECT non_negative_difference("{f}")'
                ' AS "d" FROM "lagwatch_job" WHERE %s GROUP BY '
                '"flink_cluster", "job_name")' % sel)
    series = ('SELECT {agg} FROM "lagwatch_job" WHERE %s GROUP BY '
              'time($__interval), "flink_cluster", "job_name" {fill}' % sel)
    vs = [fl.qvar("cluster", "Flink cluster", influx_var_query(
              "lagwatch_job", "running", "flink_cluster")),
          fl.qvar("job", "Job", influx_var_query(
              "lagwatch_job", "running", "job_name",
              [match("flink_cluster", "cluster")])),
          TEXTBOX]
    table = ('SELECT last("running") AS "running", last("uptime_ms") AS '
             '"uptime", last("restarts") AS "restarts", '
             'last("completed_checkpoints") AS "checkpoints", '
             'last("failed_checkpoints") AS "failed", '
             'last("in_progress_checkpoints") AS "in progress", '
             'last("last_checkpoint_completed_ms") AS "last checkpoint", '
             'last("last_checkpoint_duration_ms") AS "duration", '
             'last("last_checkpoint_size_bytes") AS "size" FROM '
             '"lagwatch_job" WHERE %s GROUP BY "flink_cluster", "job_name"'
             % sel)
    items = [
        Row("Jobs"),
        Panel("stat", "Jobs running", [(per_job.format(
            agg='sum("x")', f="running"),)], "none", w=4, h=4,
            desc="Jobs whose latest lagwatch_job point says RUNNING"),
        Panel("stat", "Jobs not running", [(per_job.format(
            agg='count("x") - sum("x")', f="running"),)], "none", w=4, h=4,
            thresholds=BAD_IF_ANY,
            desc="Jobs seen in the time range whose latest point is not "
            "RUNNING (restarting, failing, or stopped: a stopped job is "
            "written once more with running 0)"),
        Panel("stat", "Restarts in range", [(increase.format(
            f="restarts"),)], "none", w=4, h=4,
            thresholds=steps("green", 1, "orange", 3, "red"),
            desc="Sum of the increases of the restart counts (a job "
            "resubmitted with its counts back at 0 is not a negative "
            "restart)"),
        Panel("stat", "Failed checkpoints in range", [(increase.format(
            f="failed_checkpoints"),)], "none", w=4, h=4,
            thresholds=steps("green", 1, "orange", 3, "red")),
        Panel("stat", "Longest last checkpoint", [(per_job.format(
            agg='max("x")', f="last_checkpoint_duration_ms"),)], "ms", w=4,
            h=4, thresholds=steps("green", 60000, "orange", 300000, "red")),
        Panel("stat", "Largest last checkpoint", [(per_job.format(
            agg='max("x")', f="last_checkpoint_size_bytes"),)], "bytes",
            w=4, h=4),
        Panel("table", "Jobs", [(table, "", True)], "none", w=24, h=7,
              transformations=[HIDE_TIME],
              overrides=[
                  color_cell("running", "none", mappings=RUNNING_MAP),
                  plain("uptime", "ms"),
                  plain("last checkpoint", "dateTimeFromNow"),
                  plain("duration", "ms"), plain("size", "bytes"),
                  color_cell("failed", "none",
                             thresholds=steps("transparent", 1, "orange"))],
              desc="Latest state per job (measurement lagwatch_job)"),
        Panel("state-timeline", "Running", [(series.format(
            agg='last("running")', fill="fill(previous)"),
            "$tag_job_name")], "none", w=24, h=6, mappings=RUNNING_MAP,
            desc="RUNNING or not, per job, over time"),
        Row("Restarts and checkpoints"),
        Panel("timeseries", "Restarts per interval", [(series.format(
            agg='non_negative_difference(max("restarts"))',
            fill="fill(none)"), "$tag_job_name")], "none", bars=True,
            desc="Increase of the restart count per interval"),
        Panel("timeseries", "Failed checkpoints per interval",
              [(series.format(agg='non_negative_difference(max('
                              '"failed_checkpoints"))', fill="fill(none)"),
                "$tag_job_name")], "none", bars=True),
        Panel("timeseries", "Last checkpoint duration", [(series.format(
            agg='last("last_checkpoint_duration_ms")', fill="fill(none)"),
            "$tag_job_name")], "ms"),
        Panel("timeseries", "Last checkpoint size", [(series.format(
            agg='last("last_checkpoint_size_bytes")', fill="fill(none)"),
            "$tag_job_name")], "bytes"),
        Panel("timeseries", "Checkpoints in progress", [(series.format(
            agg='last("in_progress_checkpoints")', fill="fill(none)"),
            "$tag_job_name")], "none"),
        Panel("timeseries", "Uptime", [(series.format(
            agg='last("uptime_ms")', fill="fill(none)"), "$tag_job_name")],
            "ms", desc="Time since the job last (re)started"),
    ]
    return dashboard(fl, "lagwatch-influxdb-jobs",
                     "lagwatch / Flink jobs (InfluxDB)",
                     "Flink jobs overview from lagwatch_job (JobManager "
                     "REST), on one InfluxDB ring node", vs, items,
                     [RING_LINK_JOB])


def influx_operators():
    fl = Flavour("influxdb")
    sel = "$timeFilter AND %s AND %s AND %s" % (
        match("flink_cluster", "cluster"), match("job_name", "job"),
        match("task_name", "task"))
    timing = ('SELECT {agg} FROM "lagwatch_task_timing" WHERE %s GROUP BY '
              'time($__interval), "job_name", "task_name" fill(null)' % sel)
    folded = ('SELECT mean("{f}") FROM "{m}" WHERE %s GROUP BY '
              'time($__interval), "job_name", "task_name" fill(null)' % sel)
    vs = [fl.qvar("cluster", "Flink cluster", influx_var_query(
              "lagwatch_task_timing", "busy_ratio_max", "flink_cluster")),
          fl.qvar("job", "Job", influx_var_query(
              "lagwatch_task_timing", "busy_ratio_max", "job_name",
              [match("flink_cluster", "cluster")])),
          fl.qvar("task", "Task", influx_var_query(
              "lagwatch_task_timing", "busy_ratio_max", "task_name",
              [match("flink_cluster", "cluster"), match("job_name", "job")])),
          TEXTBOX]
    table = ('SELECT last("bottleneck") AS "bottleneck", '
             'last("busy_ratio_max") AS "busy", '
             'last("backpressured_ratio_max") AS "backpressured", '
             'last("idle_ratio_min") AS "idle", last("record_time_us_max") '
             'AS "time per record", last("slowest_subtask") AS '
             '"slowest subtask" FROM "lagwatch_task_timing" WHERE %s '
             'GROUP BY "job_name", "task_name"' % sel)
    bottleneck = ('SELECT "task_name", "busy" FROM (SELECT last("bottleneck")'
                  ' AS "b", last("busy_ratio_max") AS "busy" FROM '
                  '"lagwatch_task_timing" WHERE %s GROUP BY "job_name", '
                  '"task_name") WHERE "b" = 1 GROUP BY "job_name"' % sel)
    leg = "$tag_job_name: $tag_task_name"
    items = [
        Row("Tasks now"),
        Panel("table", "Bottleneck task", [(bottleneck, "", True)],
              "percentunit", w=8, h=8, transformations=[HIDE_TIME],
              overrides=[color_cell("busy", "percentunit",
                                    thresholds=BUSY_STEPS,
                                    display="busy (max)")],
              desc="The task that limits each job: busy, not "
              "back-pressured itself, with back-pressure upstream (lagwatch "
              "BOTTLENECK rules); a job may have none"),
        Panel("table", "Tasks", [(table, "", True)], "none", w=16, h=8,
              transformations=[HIDE_TIME],
              overrides=[
                  color_cell("bottleneck", "none", mappings=BOTTLENECK_MAP),
                  color_cell("busy", "percentunit", thresholds=BUSY_STEPS),
                  color_cell("backpressured", "percentunit",
                             thresholds=BP_STEPS),
                  color_cell("idle", "percentunit", thresholds=IDLE_STEPS),
                  plain("time per record", "µs")],
              desc="Latest timing per task: the highest busy and "
              "back-pressured share over its subtasks, the lowest idle "
              "share, the time one record takes in the slowest subtask. "
              "Back-pressure colours follow Flink's web UI: OK up to 10%, "
              "LOW up to 50%, HIGH above"),
        Row("Busy / back-pressured / idle over time"),
        Panel("status-history", "Busy (max over subtasks)", [(timing.format(
            agg='max("busy_ratio_max")'), leg)], "percentunit", w=24, h=7,
            minv=0, maxv=1, color="continuous-GrYlRd"),
        Panel("status-history", "Back-pressured (max over subtasks)",
              [(timing.format(agg='max("backpressured_ratio_max")'), leg)],
              "percentunit", w=24, h=7, minv=0, maxv=1,
              thresholds=BP_STEPS,
              desc="Green: OK (up to 10%), orange: LOW (up to 50%), red: "
              "HIGH, as in Flink's web UI"),
        Panel("status-history", "Idle (min over subtasks)", [(timing.format(
            agg='min("idle_ratio_min")'), leg)], "percentunit", w=24, h=7,
            minv=0, maxv=1, color="continuous-RdYlGr"),
        Row("Per record and throughput"),
        Panel("timeseries", "Time per record (slowest subtask)",
              [(timing.format(agg='max("record_time_us_max")'), leg)], "µs",
              desc="Busy time per second / records in per second of the "
              "busiest subtask: the cost of one record. Gaps: no records "
              "flowed"),
        Panel("timeseries", "Records in per second (sum over subtasks)",
              [(folded.format(f="sum",
                              m="taskmanager_job_task_numRecordsInPerSecond"),
                leg)], "suffix: rec/s",
              desc="From the Flink reporter, folded over subtasks"),
        Panel("timeseries", "Busy ms/s: busiest subtask vs average",
              [(folded.format(f="max",
                              m="taskmanager_job_task_busyTimeMsPerSecond"),
                "max $tag_task_name"),
               (folded.format(f="avg",
                              m="taskmanager_job_task_busyTimeMsPerSecond"),
                "avg $tag_task_name")], "ms",
              desc="A max far above the average means skew: one subtask "
              "gets more data than its peers, more parallelism will not "
              "help"),
        Panel("timeseries", "Back-pressured ms/s: worst subtask",
              [(folded.format(
                  f="max",
                  m="taskmanager_job_task_backPressuredTimeMsPerSecond"),
                leg)], "ms", thresholds=steps("green", 100, "orange", 500,
                                              "red"),
              threshold_lines=True),
    ]
    return dashboard(fl, "lagwatch-influxdb-operators",
                     "lagwatch / Flink operator timing (InfluxDB)",
                     "Per-task busy, back-pressured and idle time, time per "
                     "record and the bottleneck task, on one InfluxDB ring "
                     "node", vs, items, [RING_LINK_JOB])


def influx_kafka():
    fl = Flavour("influxdb")
    sel = "$timeFilter AND %s AND %s AND %s" % (
        match("kafka_cluster", "cluster"), match("group", "group"),
        match("topic", "topic"))
    latest = ('SELECT {agg} FROM (SELECT last("{f}") AS "x" FROM '
              '"kafka_consumergroup_lag" WHERE %s GROUP BY "kafka_cluster", '
              '"group", "topic")' % sel)
    series = ('SELECT {agg} FROM "kafka_consumergroup_lag" WHERE %s GROUP '
              'BY time($__interval), "kafka_cluster", "group", "topic" '
              'fill(none)' % sel)
    leg = "$tag_group $tag_topic"
    vs = [fl.qvar("cluster", "Kafka cluster", influx_var_query(
              "kafka_consumergroup_lag", "max_lag", "kafka_cluster")),
          fl.qvar("group", "Consumer group", influx_var_query(
              "kafka_consumergroup_lag", "max_lag", "group",
              [match("kafka_cluster", "cluster")])),
          fl.qvar("topic", "Topic", influx_var_query(
              "kafka_consumergroup_lag", "max_lag", "topic",
              [match("kafka_cluster", "cluster"), match("group", "group")])),
          TEXTBOX]
    table = ('SELECT last("max_lag_seconds") AS "time lag", '
             'last("slowest_partition") AS "slowest partition", '
             'last("max_lag") AS "record lag", last("sum_lag") AS '
             '"sum lag", last("partitions") AS "partitions", '
             'last("consumed_through_ms") AS "consumed through" FROM '
             '"kafka_consumergroup_lag" WHERE %s GROUP BY "kafka_cluster", '
             '"group", "topic"' % sel)
    items = [
        Row("Now"),
        Panel("stat", "Time lag, slowest partition", [(latest.format(
            agg='max("x")', f="max_lag_seconds"),)], "s", w=6, h=4,
            thresholds=LAG_STEPS,
            desc="Age of the oldest unconsumed message over the selected "
            "groups and topics (orange from 5 min, red from 30 min, as the "
            "alerts)"),
        Panel("stat", "Record lag, slowest partition", [(latest.format(
            agg='max("x")', f="max_lag"),)], "short", w=6, h=4),
        Panel("stat", "Sum lag", [(latest.format(agg='sum("x")',
                                                  f="sum_lag"),)],
              "short", w=6, h=4, desc="Records not yet consumed"),
        Panel("stat", "Consumed through", [(latest.format(
            agg='min("x")', f="consumed_through_ms"),)], "dateTimeFromNow",
            w=6, h=4,
            desc="Every message with an earlier timestamp has been consumed "
            "(for a Flink job: checkpointed)"),
        Panel("table", "Groups", [(table, "", True)], "none", w=24, h=7,
              transformations=[HIDE_TIME],
              overrides=[color_cell("time lag", "s", thresholds=LAG_STEPS),
                         plain("record lag", "short"),
                         plain("sum lag", "short"),
                         plain("consumed through", "dateTimeAsIso")]),
        Row("Over time"),
        Panel("timeseries", "Time lag, slowest partition", [(series.format(
            agg='max("max_lag_seconds")'), leg)], "s", thresholds=LAG_STEPS,
            threshold_lines=True, minv=0),
        Panel("timeseries", "Record lag, slowest partition",
              [(series.format(agg='max("max_lag")'), leg)], "short", minv=0),
        Panel("timeseries", "Sum lag", [(series.format(
            agg='max("sum_lag")'), leg)], "short", minv=0),
        Panel("timeseries", "Consumed through vs wall clock",
              [(series.format(agg='min("consumed_through_ms")'), leg)],
              "dateTimeAsIso",
              desc="Consumed-through time on the y axis against wall "
              "clock on the x axis: a healthy consumer draws a diagonal; "
              "a flat line is a stalled one"),
        Panel("timeseries", "Slowest partition", [(series.format(
            agg='last("slowest_partition")'), leg)], "none",
            desc="Partition whose first unconsumed message is oldest; a "
            "partition that stays the slowest points at skew"),
        Panel("timeseries", "Produce and consume rate", [
            (series.format(agg='last("produce_rate")'),
             "produced $tag_group $tag_topic"),
            (series.format(agg='last("consume_rate")'),
             "consumed $tag_group $tag_topic")], "short", minv=0,
            desc="Records per second over the last kafka[].rate_window; a "
            "group catches up only while its consume rate is above the "
            "produce rate (catch_up_s is written while it is)"),
    ]
    return dashboard(fl, "lagwatch-influxdb-kafka",
                     "lagwatch / Kafka lag (InfluxDB)",
                     "Consumer group lag in time and records "
                     "(kafka_consumergroup_lag), on one InfluxDB ring node",
                     vs, items, [RING_LINK_GROUP])


# ------------------------------------------------------------ Prometheus

def prom_jobs():
    fl = Flavour("prometheus")
    s = '{flink_cluster=~"$cluster", job_name=~"$job"}'
    by = "by (flink_cluster, job_name)"
    vs = [fl.qvar("cluster", "Flink cluster",
                  "label_values(lagwatch_job_running, flink_cluster)"),
          fl.qvar("job", "Job", 'label_values(lagwatch_job_running'
                  '{flink_cluster=~"$cluster"}, job_name)'),
          TEXTBOX]
    cols = [("running", "lagwatch_job_running%s" % s),
            ("uptime", "lagwatch_job_uptime_seconds%s" % s),
            ("restarts", "lagwatch_job_restarts%s" % s),
            ("checkpoints", "lagwatch_job_checkpoints_completed%s" % s),
            ("failed", "lagwatch_job_checkpoints_failed%s" % s),
            ("in progress", "lagwatch_job_checkpoints_in_progress%s" % s),
            ("last checkpoint", "lagwatch_job_last_checkpoint_completed_"
             "timestamp_seconds%s * 1000" % s),
            ("duration", "lagwatch_job_last_checkpoint_duration_seconds%s"
             % s),
            ("size", "lagwatch_job_last_checkpoint_size_bytes%s" % s)]
    units = {"uptime": "s", "last checkpoint": "dateTimeFromNow",
             "duration": "s", "size": "bytes"}
    ovr = []
    for i, (name, _) in enumerate(cols):
        col = "Value #%s" % chr(ord("A") + i)
        if name == "running":
            ovr.append(color_cell(col, "none", mappings=RUNNING_MAP,
                                  display=name))
        else:
            ovr.append(plain(col, units.get(name, "none"), display=name))
    ckpt_age = ("time() - (lagwatch_job_last_checkpoint_completed_"
                "timestamp_seconds%s > 0)" % s)
    items = [
        Row("Jobs"),
        Panel("stat", "Jobs running", [("sum(lagwatch_job_running%s)" % s,)],
              "none", w=4, h=4),
        Panel("stat", "Jobs not running", [(
            "count(last_over_time(lagwatch_job_running%s[1h]) == 0) or "
            "vector(0)" % s,)], "none", w=4, h=4, thresholds=BAD_IF_ANY,
            desc="Including a job that stopped within the hour (its last "
            "point says running 0), as the FlinkJobNotRunning alert"),
        Panel("stat", "Restarts in range", [(
            "sum(increase(lagwatch_job_restarts%s[$__range]))" % s,)],
            "none", w=4, h=4, thresholds=steps("green", 1, "orange", 3,
                                               "red")),
        Panel("stat", "Failed checkpoints in range", [(
            "sum(increase(lagwatch_job_checkpoints_failed%s[$__range]))"
            % s,)], "none", w=4, h=4,
            thresholds=steps("green", 1, "orange", 3, "red")),
        Panel("stat", "Longest last checkpoint", [(
            "max(lagwatch_job_last_checkpoint_duration_seconds%s)" % s,)],
            "s", w=4, h=4, thresholds=steps("green", 60, "orange", 300,
                                            "red")),
        Panel("stat", "Oldest last checkpoint", [("max(%s)" % ckpt_age,)],
              "s", w=4, h=4, thresholds=steps("green", 1800, "orange"),
              desc="Time since the oldest of the jobs' latest completed "
              "checkpoints (FlinkCheckpointTooOld fires at 30 min)"),
        Panel("table", "Jobs", [("max %s (%s)" % (by, q), "", True)
                                for _, q in cols], "none", w=24, h=7,
              transformations=merge_tables(), overrides=ovr),
        Panel("state-timeline", "Running", [(
            "max %s (lagwatch_job_running%s)" % (by, s), "{{job_name}}")],
            "none", w=24, h=6, mappings=RUNNING_MAP),
        Row("Restarts and checkpoints"),
        Panel("timeseries", "Restarts", [(
            "sum %s (increase(lagwatch_job_restarts%s[$__rate_interval]))"
            % (by, s), "{{job_name}}")], "none", bars=True,
            desc="increase() counts every restart between two samples and "
            "treats a job resubmitted with counts at 0 as a reset"),
        Panel("timeseries", "Failed checkpoints", [(
            "sum %s (increase(lagwatch_job_checkpoints_failed%s"
            "[$__rate_interval]))" % (by, s), "{{job_name}}")], "none",
            bars=True),
        Panel("timeseries", "Last checkpoint duration", [(
            "lagwatch_job_last_checkpoint_duration_seconds%s" % s,
            "{{job_name}}")], "s"),
        Panel("timeseries", "Time since last checkpoint", [(
            ckpt_age, "{{job_name}}")], "s",
            thresholds=steps("green", 1800, "orange"), threshold_lines=True),
        Panel("timeseries", "Last checkpoint size", [(
            "lagwatch_job_last_checkpoint_size_bytes%s" % s,
            "{{job_name}}")], "bytes"),
        Panel("timeseries", "Uptime", [(
            "lagwatch_job_uptime_seconds%s" % s, "{{job_name}}")], "s"),
    ]
    return dashboard(fl, "lagwatch-prometheus-jobs",
                     "lagwatch / Flink jobs (Prometheus)",
                     "Flink jobs overview from lagwatch's /metrics "
                     "(JobManager REST)", vs, items)


def prom_operators():
    fl = Flavour("prometheus")
    s = '{flink_cluster=~"$cluster", job_name=~"$job", task_name=~"$task"}'
    by = "by (flink_cluster, job_name, task_name)"
    vs = [fl.qvar("cluster", "Flink cluster",
                  "label_values(lagwatch_task_busy_ratio_max, flink_cluster)"),
          fl.qvar("job", "Job", 'label_values(lagwatch_task_busy_ratio_max'
                  '{flink_cluster=~"$cluster"}, job_name)'),
          fl.qvar("task", "Task", 'label_values(lagwatch_task_busy_ratio_max'
                  '{flink_cluster=~"$cluster", job_name=~"$job"}, '
                  'task_name)')]
    cols = [("bottleneck", "lagwatch_task_bottleneck", "none"),
            ("busy", "lagwatch_task_busy_ratio_max", "percentunit"),
            ("backpressured", "lagwatch_task_backpressured_ratio_max",
             "percentunit"),
            ("idle", "lagwatch_task_idle_ratio_min", "percentunit"),
            ("time per record", "lagwatch_task_record_time_seconds_max", "s"),
            ("slowest subtask", "lagwatch_task_slowest_subtask", "none")]
    look = {"bottleneck": {"mappings": BOTTLENECK_MAP},
            "busy": {"thresholds": BUSY_STEPS},
            "backpressured": {"thresholds": BP_STEPS},
            "idle": {"thresholds": IDLE_STEPS}}
    ovr = []
    for i, (name, _, unit) in enumerate(cols):
        col = "Value #%s" % chr(ord("A") + i)
        if name in look:
            ovr.append(color_cell(col, unit, display=name, **look[name]))
        else:
            ovr.append(plain(col, unit, display=name))
    leg = "{{job_name}}: {{task_name}}"
    bottleneck = ("lagwatch_task_busy_ratio_max%s and on (flink_cluster, "
                  "job_name, task_name) (lagwatch_task_bottleneck%s == 1)"
                  % (s, s))
    fs = s
    items = [
        Row("Tasks now"),
        Panel("table", "Bottleneck task", [(bottleneck, "", True)],
              "percentunit", w=8, h=8, transformations=[HIDE_TIME],
              overrides=[color_cell("Value", "percentunit",
                                    thresholds=BUSY_STEPS,
                                    display="busy (max)")],
              desc="The task that limits each job: busy, not "
              "back-pressured itself, with back-pressure upstream; a job "
              "may have none"),
        Panel("table", "Tasks", [("max %s (%s%s)" % (by, m, s), "", True)
                                 for _, m, _ in cols], "none", w=16, h=8,
              transformations=merge_tables(), overrides=ovr,
              desc="Back-pressure colours follow Flink's web UI: OK up to "
              "10%, LOW up to 50%, HIGH above"),
        Row("Busy / back-pressured / idle over time"),
        Panel("status-history", "Busy (max over subtasks)", [(
            "lagwatch_task_busy_ratio_max%s" % s, leg)], "percentunit",
            w=24, h=7, minv=0, maxv=1, color="continuous-GrYlRd"),
        Panel("status-history", "Back-pressured (max over subtasks)", [(
            "lagwatch_task_backpressured_ratio_max%s" % s, leg)],
            "percentunit", w=24, h=7, minv=0, maxv=1, thresholds=BP_STEPS,
            desc="Green: OK (up to 10%), orange: LOW (up to 50%), red: "
            "HIGH, as in Flink's web UI"),
        Panel("status-history", "Idle (min over subtasks)", [(
            "lagwatch_task_idle_ratio_min%s" % s, leg)], "percentunit",
            w=24, h=7, minv=0, maxv=1, color="continuous-RdYlGr"),
        Row("Per record and throughput"),
        Panel("timeseries", "Time per record (slowest subtask)", [(
            "lagwatch_task_record_time_seconds_max%s" % s, leg)], "s"),
        Panel("timeseries", "Records in per second (sum over subtasks)", [(
            "flink_taskmanager_job_task_numRecordsInPerSecond_sum%s" % fs,
            leg)], "suffix: rec/s"),
        Panel("timeseries", "Busy ms/s: busiest subtask vs average", [
            ("flink_taskmanager_job_task_busyTimeMsPerSecond_max%s" % fs,
             "max {{task_name}}"),
            ("flink_taskmanager_job_task_busyTimeMsPerSecond_avg%s" % fs,
             "avg {{task_name}}")], "ms",
            desc="A max far above the average means skew"),
        Panel("timeseries", "Back-pressured ms/s: worst subtask", [(
            "flink_taskmanager_job_task_backPressuredTimeMsPerSecond_max%s"
            % fs, leg)], "ms",
            thresholds=steps("green", 100, "orange", 500, "red"),
            threshold_lines=True),
    ]
    return dashboard(fl, "lagwatch-prometheus-operators",
                     "lagwatch / Flink operator timing (Prometheus)",
                     "Per-task busy, back-pressured and idle time, time per "
                     "record and the bottleneck task", vs, items)


def prom_kafka():
    fl = Flavour("prometheus")
    s = '{cluster_name=~"$cluster", group=~"$group", topic=~"$topic"}'
    by = "by (cluster_name, group, topic)"
    # NaN and +Inf (a timestamp that could not be read) never compare
    # below +Inf: they drop out instead of breaking max() and the scale.
    lag_s = "lagwatch_kafka_group_topic_max_lag_seconds%s < +Inf" % s
    vs = [fl.qvar("cluster", "Kafka cluster",
                  "label_values(lagwatch_kafka_group_topic_max_lag, "
                  "cluster_name)"),
          fl.qvar("group", "Consumer group",
                  'label_values(lagwatch_kafka_group_topic_max_lag'
                  '{cluster_name=~"$cluster"}, group)'),
          fl.qvar("topic", "Topic",
                  'label_values(lagwatch_kafka_group_topic_max_lag'
                  '{cluster_name=~"$cluster", group=~"$group"}, topic)'),
          TEXTBOX]
    cols = [("time lag", lag_s, "s"),
            ("slowest partition",
             "lagwatch_kafka_group_topic_slowest_partition%s" % s, "none"),
            ("record lag", "lagwatch_kafka_group_topic_max_lag%s" % s,
             "short"),
            ("sum lag", "kafka_consumergroup_group_topic_sum_lag%s" % s, "short"),
            ("partitions", "lagwatch_kafka_group_topic_partitions%s" % s,
             "none"),
            ("consumed through", "lagwatch_kafka_group_topic_consumed_"
             "through_seconds%s * 1000" % s, "dateTimeAsIso")]
    ovr = []
    for i, (name, _, unit) in enumerate(cols):
        col = "Value #%s" % chr(ord("A") + i)
        if name == "time lag":
            ovr.append(color_cell(col, unit, thresholds=LAG_STEPS,
                                  display=name))
        else:
            ovr.append(plain(col, unit, display=name))
    leg = "{{group}} {{topic}}"
    items = [
        Row("Now"),
        Panel("stat", "Time lag, slowest partition", [(
            "max(%s)" % lag_s,)], "s", w=6, h=4, thresholds=LAG_STEPS,
            desc="Age of the oldest unconsumed message (orange from 5 min, "
            "red from 30 min, as the alerts); NaN and +Inf are left out"),
        Panel("stat", "Record lag, slowest partition", [(
            "max(lagwatch_kafka_group_topic_max_lag%s)" % s,)], "short",
            w=6, h=4),
        Panel("stat", "Sum lag", [(
            "sum(kafka_consumergroup_group_topic_sum_lag%s)" % s,)], "short",
            w=6, h=4),
        Panel("stat", "Consumed through", [(
            "min(lagwatch_kafka_group_topic_consumed_through_seconds%s) * "
            "1000" % s,)], "dateTimeFromNow", w=6, h=4,
            desc="Every message with an earlier timestamp has been consumed "
            "(for a Flink job: checkpointed)"),
        Panel("table", "Groups", [("max %s (%s)" % (by, q), "", True)
                                  for _, q, _ in cols], "none", w=24, h=7,
              transformations=merge_tables(), overrides=ovr),
        Row("Over time"),
        Panel("timeseries", "Time lag, slowest partition", [(
            "max %s (%s)" % (by, lag_s), leg)], "s", thresholds=LAG_STEPS,
            threshold_lines=True, minv=0),
        Panel("timeseries", "Record lag, slowest partition", [(
            "max %s (lagwatch_kafka_group_topic_max_lag%s)" % (by, s), leg)],
            "short", minv=0),
        Panel("timeseries", "Sum lag", [(
            "sum %s (kafka_consumergroup_group_topic_sum_lag%s)" % (by, s), leg)],
            "short", minv=0),
        Panel("timeseries", "Consumed through, behind wall clock", [(
            "time() - lagwatch_kafka_group_topic_consumed_through_seconds%s"
            % s, leg)], "s", thresholds=LAG_STEPS, threshold_lines=True,
            minv=0, desc="Wall clock minus consumed-through time: a line "
            "that climbs at 45 degrees is a stalled consumer"),
        Panel("timeseries", "Time lag per partition", [(
            "kafka_consumergroup_group_lag_seconds%s < +Inf" % s,
            "{{group}} {{topic}}/{{partition}}")], "s", minv=0),
        Panel("timeseries", "Record lag per partition", [(
            "kafka_consumergroup_group_lag%s" % s,
            "{{group}} {{topic}}/{{partition}}")], "short", minv=0),
        Panel("timeseries", "Time to catch up", [(
            "kafka_consumergroup_group_catch_up_seconds%s < +Inf" % s, leg)],
            "s", minv=0, desc="At the produce and consume rates of the "
            "last kafka[].rate_window; a group that is not gaining (+Inf) "
            "has no line here and shows in the next panel"),
        Panel("timeseries", "Produce and consume rate", [
            ("lagwatch_kafka_group_topic_produce_rate%s" % s,
             "produced {{group}} {{topic}}"),
            ("lagwatch_kafka_group_topic_consume_rate%s" % s,
             "consumed {{group}} {{topic}}")], "short", minv=0,
            desc="Records per second over the last kafka[].rate_window"),
    ]
    return dashboard(fl, "lagwatch-prometheus-kafka",
                     "lagwatch / Kafka lag (Prometheus)",
                     "Consumer group lag in time and records, with the "
                     "kafka-lag-exporter metric names", vs, items)


def prom_health():
    fl = Flavour("prometheus")
    i = '{instance=~"$instance"}'
    n = '{instance=~"$instance", node=~"$node"}'
    vs = [fl.qvar("instance", "Agent",
                  "label_values(lagwatch_build_info, instance)"),
          fl.qvar("node", "InfluxDB node", 'label_values(lagwatch_node_up'
                  '{instance=~"$instance"}, node)')]
    rate = "rate(%s[$__rate_interval])"
    items = [
        Row("Agents"),
        Panel("stat", "Ring fingerprints per Prometheus job", [(
            "max(count by (job) (count by (job, fingerprint) "
            "(lagwatch_ring_info%s)))" % i,)], "none", w=4, h=4,
            thresholds=steps("green", 2, "red"),
            desc="Distinct ring fingerprints among the agents of one "
            "Prometheus job: 1 when they agree; more means agents write "
            "one job to different nodes"),
        Panel("stat", "Points dropped in range", [(
            "sum(increase(lagwatch_points_dropped_total%s[$__range]))"
            % n,)], "none", w=4, h=4, thresholds=BAD_IF_ANY),
        Panel("stat", "Reporter targets down", [(
            "count(lagwatch_scrape_up%s == 0) or vector(0)" % i,)], "none",
            w=4, h=4, thresholds=BAD_IF_ANY),
        Panel("stat", "InfluxDB nodes down", [(
            "count(lagwatch_node_up%s == 0) or vector(0)" % n,)], "none",
            w=4, h=4, thresholds=BAD_IF_ANY),
        Panel("stat", "Spool", [("sum(lagwatch_spool_bytes%s)" % n,)],
              "bytes", w=4, h=4,
              thresholds=steps("green", 1, "orange")),
        Panel("stat", "Since last cycle", [(
            "max(time() - lagwatch_last_cycle_timestamp_seconds%s)" % i,)],
            "s", w=4, h=4, thresholds=steps("green", 60, "orange", 300,
                                            "red")),
        Panel("table", "Ring fingerprint per agent", [(
            "lagwatch_ring_info%s" % i, "", True)], "none", w=12, h=6,
            transformations=[{"id": "organize", "options": {
                "excludeByName": {"Time": True, "Value": True,
                                  "__name__": True},
                "renameByName": {}}}]),
        Panel("timeseries", "Cycle duration", [(
            "lagwatch_cycle_duration_seconds%s" % i, "{{instance}}")], "s"),
        Row("Sources"),
        Panel("timeseries", "Reporter scrape errors", [(
            "sum by (instance, flink_cluster, target) (%s)"
            % (rate % ("lagwatch_scrape_errors_total%s" % i)),
            "{{target}}")], "cps"),
        Panel("timeseries", "Reporter scrape duration", [(
            "lagwatch_scrape_duration_seconds%s" % i, "{{target}}")], "s"),
        Panel("timeseries", "JobManager REST errors", [(
            "sum by (instance, flink_cluster, kind) (%s)"
            % (rate % ("lagwatch_rest_errors_total%s" % i)),
            "{{flink_cluster}} {{kind}}")], "cps"),
        Panel("timeseries", "Kafka sweeps: errors and stale clusters", [
            ("sum by (instance, kafka_cluster) (%s)"
             % (rate % ("lagwatch_kafka_sweep_errors_total%s" % i)),
             "errors/s {{kafka_cluster}}"),
            ("max by (instance, kafka_cluster) (lagwatch_kafka_stale%s)" % i,
             "stale {{kafka_cluster}}")], "short"),
        Row("InfluxDB nodes"),
        Panel("timeseries", "Write latency per node", [(
            "sum by (node) (%s) / sum by (node) (%s)"
            % (rate % ("lagwatch_write_duration_seconds_total%s" % n),
               rate % ("lagwatch_write_requests_total%s" % n)),
            "{{node}}")], "s", desc="Mean time per write request"),
        Panel("timeseries", "Points written per node", [(
            "sum by (node) (%s)"
            % (rate % ("lagwatch_points_written_total%s" % n)),
            "{{node}}")], "cps"),
        Panel("timeseries", "Spool bytes per node", [(
            "sum by (node) (lagwatch_spool_bytes%s)" % n, "{{node}}")],
            "bytes", desc="Points waiting for a node that is down or slow"),
        Panel("timeseries", "Points dropped per node", [(
            "sum by (node) (increase(lagwatch_points_dropped_total%s"
            "[$__rate_interval]))" % n, "{{node}}")], "none", bars=True,
            thresholds=BAD_IF_ANY),
        Panel("timeseries", "Points retried and spooled per node", [
            ("sum by (node) (%s)"
             % (rate % ("lagwatch_points_retried_total%s" % n)),
             "retried {{node}}"),
            ("sum by (node) (%s)"
             % (rate % ("lagwatch_points_spooled_total%s" % n)),
             "spooled {{node}}")], "cps"),
        Panel("state-timeline", "Node up", [(
            "max by (node) (lagwatch_node_up%s)" % n, "{{node}}")], "none",
            mappings=[{"type": "value", "options": {
                "0": {"text": "DOWN", "color": "red", "index": 0},
                "1": {"text": "UP", "color": "green", "index": 1}}}]),
    ]
    return dashboard(fl, "lagwatch-prometheus-health",
                     "lagwatch / agent health (Prometheus)",
                     "lagwatch's own metrics: scrapes, writes per InfluxDB "
                     "node, spool, drops, ring agreement", vs, items)


DASHBOARDS = [("influxdb/lagwatch-jobs.json", influx_jobs),
              ("influxdb/lagwatch-operators.json", influx_operators),
              ("influxdb/lagwatch-kafka-lag.json", influx_kafka),
              ("prometheus/lagwatch-jobs.json", prom_jobs),
              ("prometheus/lagwatch-operators.json", prom_operators),
              ("prometheus/lagwatch-kafka-lag.json", prom_kafka),
              ("prometheus/lagwatch-health.json", prom_health)]


# ------------------------------------------------------------ alerting

# (uid suffix, title, severity, for, seconds of data, query, reducer,
#  evaluator, params, summary, description, runbook): the InfluxQL
# counterparts of the most important rules in rules/lagwatch.rules.yml.
ALERTS = [
    ("kafka-lag-high", "Kafka consumer lag high", "warning", "10m", 300,
     'SELECT last("max_lag_seconds") FROM "kafka_consumergroup_lag" WHERE '
     '$timeFilter GROUP BY "kafka_cluster", "group", "topic"',
     "gt", LAG_WARN_S,
     "Kafka group {{ $labels.group }} is behind on {{ $labels.topic }}",
     "The oldest unconsumed message of consumer group {{ $labels.group }} "
     "on topic {{ $labels.topic }} (cluster {{ $labels.kafka_cluster }}) "
     "has been older than 5 minutes for 10 minutes.",
     "Check the group's Flink job: not running, restarting, back-pressure "
     "or a bottleneck task (lagwatch operator timing dashboard); a single "
     "slow partition points at skew; otherwise add parallelism."),
    ("kafka-lag-critical", "Kafka consumer lag critical", "critical", "10m",
     300,
     'SELECT last("max_lag_seconds") FROM "kafka_consumergroup_lag" WHERE '
     '$timeFilter GROUP BY "kafka_cluster", "group", "topic"',
     "gt", LAG_CRIT_S,
     "Kafka group {{ $labels.group }} is over 30 min behind on "
     "{{ $labels.topic }}",
     "The oldest unconsumed message of consumer group {{ $labels.group }} "
     "on topic {{ $labels.topic }} (cluster {{ $labels.kafka_cluster }}) "
     "has been older than 30 minutes for 10 minutes.",
     "As for the warning; downstream consumers of the data are now late: "
     "tell them."),
    ("job-not-running", "Flink job not running", "critical", "5m", 3600,
     'SELECT last("running") FROM "lagwatch_job" WHERE $timeFilter GROUP BY '
     '"flink_cluster", "job_name"',
     "lt", 1,
     "Flink job {{ $labels.job_name }} is not running",
     "Flink job {{ $labels.job_name }} on cluster "
     "{{ $labels.flink_cluster }} has not been RUNNING for 5 minutes "
     "(restarting, failed, cancelled or finished; a stopped job keeps "
     "alerting for an hour after its last point).",
     "Open the job in the Flink web UI (Exceptions tab); restart it from "
     "its latest checkpoint once the cause is fixed. Silence the alert "
     "when the job was stopped on purpose."),
    ("checkpoints-failing", "Flink checkpoints failing", "warning", "0s",
     1800,
     'SELECT sum("d") FROM (SELECT non_negative_difference('
     '"failed_checkpoints") AS "d" FROM "lagwatch_job" WHERE $timeFilter '
     'GROUP BY "flink_cluster", "job_name") GROUP BY "flink_cluster", '
     '"job_name"',
     "gt", 2,
     "Checkpoints of Flink job {{ $labels.job_name }} fail",
     "Flink job {{ $labels.job_name }} on cluster "
     "{{ $labels.flink_cluster }} failed 3 or more checkpoints within 30 "
     "minutes; its Kafka offsets are committed only on completed "
     "checkpoints, so lag and recovery time grow.",
     "Check the Checkpoints tab of the job in the Flink web UI: timeouts "
     "under back-pressure call for unaligned checkpoints or more "
     "parallelism; storage errors for the checkpoint store."),
]


def alert_groups(nodes):
    groups = []
    for node in nodes:
        rules = []
        for (uid, title, sev, dur, secs, query, op, param, summary, desc,
             runbook) in ALERTS:
            rules.append({
                "uid": ("lw-%s-%s" % (uid, node))[:40],
                "title": "%s (%s)" % (title, node),
                "condition": "C",
                "data": [
                    {"refId": "A",
                     "relativeTimeRange": {"from": secs, "to": 0},
                     "datasourceUid": "lagwatch-" + node,
                     "model": {"refId": "A", "rawQuery": True,
                               "query": query,
                               "resultFormat": "time_series",
                               "intervalMs": 60000,
                               "maxDataPoints": 43200}},
                    {"refId": "B", "datasourceUid": "__expr__",
                     "model": {"refId": "B", "type": "reduce",
                               "expression": "A", "reducer": "last",
                               "settings": {"mode": "dropNN"}}},
                    {"refId": "C", "datasourceUid": "__expr__",
                     "model": {"refId": "C", "type": "threshold",
                               "expression": "B",
                               "conditions": [{"evaluator": {
                                   "type": op, "params": [param]}}]}}],
                "noDataState": "OK",
                "execErrState": "Error",
                "for": dur,
                "labels": {"severity": sev, "lagwatch_node": node},
                "annotations": {"summary": summary, "description": desc,
                                "runbook": runbook},
                "isPaused": False})
        groups.append({"orgId": 1, "name": "lagwatch-influxdb-" + node,
                       "folder": "lagwatch", "interval": "1m",
                       "rules": rules})
    return {"apiVersion": 1, "groups": groups}


def datasources(nodes):
    out = []
    for name, url in nodes:
        out.append({"name": name, "uid": "lagwatch-" + name,
                    "type": "influxdb", "access": "proxy", "url": url,
                    "user": "$LAGWATCH_INFLUX_USER",
                    "jsonData": {"dbName": "flink", "httpMode": "GET",
                                 "timeInterval": "15s"},
                    "secureJsonData": {"password":
                                       "$LAGWATCH_INFLUX_PASSWORD"},
                    "editable": False})
    out.append({"name": "Prometheus (lagwatch)", "uid": "lagwatch-prometheus",
                "type": "prometheus", "access": "proxy",
                "url": "http://prometheus:9090",
                "jsonData": {"timeInterval": "15s"}, "editable": False})
    return {"apiVersion": 1, "datasources": out}


# A tiny YAML writer (block style; strings as JSON, which YAML reads as
# double-quoted scalars), so the generator needs no PyYAML.
def yaml_dump(obj, indent=0):
    pad = " " * indent
    lines = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, (dict, list)) and v:
                lines.append("%s%s:" % (pad, k))
                lines.extend(yaml_dump(v, indent + 2))
            else:
                lines.append("%s%s: %s" % (pad, k, scalar(v)))
    else:
        for v in obj:
            if isinstance(v, (dict, list)) and v:
                sub = yaml_dump(v, indent + 2)
                lines.append("%s- %s" % (pad, sub[0].lstrip()))
                lines.extend(sub[1:])
            else:
                lines.append("%s- %s" % (pad, scalar(v)))
    return lines


def scalar(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return json.dumps(v)
    if isinstance(v, (dict, list)):
        return "{}" if isinstance(v, dict) else "[]"
    return json.dumps(v, ensure_ascii=False)


def yaml_text(header, obj):
    return header + "\n".join(yaml_dump(obj)) + "\n"


ALERTS_HEADER = """\
# Grafana alert rules (file provisioning, Grafana 9.1+) over lagwatch's
# InfluxDB measurements, for InfluxDB users who do not run Prometheus: the
# counterparts of KafkaConsumerLagHigh/Critical, FlinkJobNotRunning and
# FlinkCheckpointsFailing in rules/lagwatch.rules.yml. One rule group per
# ring node: a job's series live on one node, so every node is queried.
# Generated for the nodes influx-a and influx-b with datasource uids
# lagwatch-<node> (provisioning/datasources/lagwatch.yml); for your nodes:
#   python3 dashboards/gen.py alerts NODE... > lagwatch-alerts.yml
# Copy into /etc/grafana/provisioning/alerting/.
"""

DATASOURCES_HEADER = """\
# Grafana datasources: one InfluxDB (InfluxQL) datasource per lagwatch ring
# node, named after the node (the dashboards' "node" variable lists them),
# uid lagwatch-<node> (the alert rules refer to it), and a Prometheus that
# scrapes the agents. Edit the URLs, or generate for your nodes:
#   python3 dashboards/gen.py datasources NODE=URL... > lagwatch.yml
# Copy into /etc/grafana/provisioning/datasources/. Credentials come from
# the environment of grafana-server ($LAGWATCH_INFLUX_USER,
# $LAGWATCH_INFLUX_PASSWORD).
"""

DASH_PROVIDER = """\
# Grafana dashboard provider: loads lagwatch's dashboards from where
# `make install` puts them ($(datadir)/lagwatch/dashboards; adjust the
# paths for another prefix). Copy into /etc/grafana/provisioning/dashboards/.
apiVersion: 1
providers:
  - name: lagwatch-influxdb
    folder: lagwatch (InfluxDB)
    type: file
    disableDeletion: false
    allowUiUpdates: false
    updateIntervalSeconds: 60
    options:
      path: /usr/local/share/lagwatch/dashboards/influxdb
  - name: lagwatch-prometheus
    folder: lagwatch (Prometheus)
    type: file
    disableDeletion: false
    allowUiUpdates: false
    updateIntervalSeconds: 60
    options:
      path: /usr/local/share/lagwatch/dashboards/prometheus
"""


def generated_files():
    files = {}
    for path, fn in DASHBOARDS:
        files[path] = json.dumps(fn(), indent=2, ensure_ascii=False) + "\n"
    files["alerting/lagwatch-influxdb-alerts.yml"] = yaml_text(
        ALERTS_HEADER, alert_groups([n for n, _ in EXAMPLE_NODES]))
    files["provisioning/datasources/lagwatch.yml"] = yaml_text(
        DATASOURCES_HEADER, datasources(EXAMPLE_NODES))
    files["provisioning/dashboards/lagwatch.yml"] = DASH_PROVIDER
    return files


def main(argv):
    if len(argv) == 3 and argv[1] == "write":
        for path, text in generated_files().items():
            full = os.path.join(argv[2], path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w", encoding="utf-8") as f:
                f.write(text)
        return 0
    if len(argv) >= 3 and argv[1] == "alerts":
        sys.stdout.write(yaml_text(ALERTS_HEADER, alert_groups(argv[2:])))
        return 0
    if len(argv) >= 3 and argv[1] == "datasources":
        nodes = []
        for a in argv[2:]:
            name, sep, url = a.partition("=")
            if not sep or not name or not url:
                sys.stderr.write("gen.py: want NODE=URL, got '%s'\n" % a)
                return 2
            nodes.append((name, url))
        sys.stdout.write(yaml_text(DATASOURCES_HEADER, datasources(nodes)))
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
