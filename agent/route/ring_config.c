#include "route/ring_config.h"

#include <stdio.h>
#include <stdlib.h>

#include "util/xalloc.h"

struct hashring *ring_config_new(const struct cfg_influx *ci, char *err,
                                 size_t errlen)
{
    if (ci->n_nodes == 0) {
        snprintf(err, errlen, "sinks.influxdb has no nodes");
        return NULL;
    }
    struct hashring_node_spec *specs = xcalloc(ci->n_nodes, sizeof(*specs));
    for (size_t i = 0; i < ci->n_nodes; i++) {
        specs[i].name = ci->nodes[i].name;
        specs[i].weight = ci->nodes[i].weight;
    }
    struct hashring *r =
        hashring_new(specs, ci->n_nodes, ci->vnodes, err, errlen);
    free(specs);
    return r;
}
