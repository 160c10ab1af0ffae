#!/usr/bin/env bash
# The folders are layers (README.md, "How a sample flows"); a quoted include
# may reach only into the folders its own folder is allowed to use:
#   agent/util        util only: no domain knowledge
#   agent/pipeline    util, pipeline, the config types, the ring library
#   agent/route       util, pipeline, route, config, hashring
#   agent/flink,kafka the collectors: util, pipeline, route, config,
#                     hashring, their own folder, prom (their self-metrics)
#   sinks/**          util, pipeline, route, config, hashring and sinks:
#                     never a collector, the server or a subcommand
#   agent/serve       anything but cmd and agent.h
#   agent/proxy       util, pipeline, route, hashring, sinks (influx),
#                     serve, config, proxy
#   hashring          nothing of lagwatch: it is a standalone library
# System includes (<...>) and the generated *.pb-c.h are not layers.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/style_lib.sh"

# allowed FILE: the include prefixes FILE may use, as an ERE.
allowed() {
    case $1 in
    agent/util/*) echo '^util/' ;;
    agent/pipeline/*) echo '^(util|pipeline|hashring)/|^config\.h$' ;;
    agent/route/*) echo '^(util|pipeline|route|hashring)/|^config\.h$' ;;
    agent/flink/*) echo '^(util|pipeline|route|hashring|flink|prom)/|^config\.h$' ;;
    agent/kafka/*) echo '^(util|pipeline|route|hashring|kafka|prom)/|^config\.h$' ;;
    sinks/*) echo '^(util|pipeline|route|hashring|influx|remote_write|prom|sinks)/|^(config|spool|http_client|sink|outbox)\.h$' ;;
    agent/serve/*) echo '^(util|pipeline|route|hashring|flink|kafka|prom|influx|remote_write|serve|sinks)/|^(config|spool|http_client|sink|outbox)\.h$' ;;
    agent/proxy/*) echo '^(util|pipeline|route|hashring|serve|proxy|sinks|influx)/|^(config|http_client|sink|outbox|spool)\.h$' ;;
    hashring/*) echo '^hashring/|^hashring\.h$|^\.\./hashring\.c$|^tests/lib/' ;;
    *) echo '.' ;;
    esac
}

bad=""
checked=0
while read -r f; do
    re=$(allowed "$f")
    [ "$re" = . ] && continue
    checked=$((checked + 1))
    while IFS= read -r inc; do
        if ! printf '%s\n' "$inc" | grep -qE "$re" &&
            ! printf '%s\n' "$inc" | grep -qE '\.pb-c\.h$'; then
            bad+="$f includes \"$inc\""$'\n'
        fi
    done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' \
        "$srcdir/$f")
done < <(c_sources)
tap_check "the includes of $checked layered files respect the layers" test -z "$bad"
[ -z "$bad" ] || tap_diag "$bad"
tap_done
