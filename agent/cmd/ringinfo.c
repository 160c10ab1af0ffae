#include "cmd/ringinfo.h"

#include <stdlib.h>
#include <string.h>

#include "hashring/hashring.h"
#include "route/ring_config.h"
#include "route/router.h"
#include "util/xalloc.h"

int ringinfo_print(const struct config *cfg, char *const *keys, size_t nkeys,
                   bool stats, FILE *out, char *err, size_t errlen)
{
    const struct cfg_influx *ci = &cfg->influx;
    int rc = -1;
    struct hashring *ring = NULL;
    struct router *rt = NULL;
    double *share = NULL;

    ring = ring_config_new(ci, err, errlen);
    if (!ring)
        goto out;
    char fp[HASHRING_FINGERPRINT_LEN + 1];
    hashring_fingerprint(ring, fp);
    fprintf(out, "fingerprint: %s\n", fp);

    share = xcalloc(ci->n_nodes, sizeof(*share));
    hashring_shares(ring, share);
    unsigned total_weight = 0;
    for (size_t i = 0; i < ci->n_nodes; i++)
        total_weight += ci->nodes[i].weight;
    double max_ratio = 0;
    for (size_t i = 0; i < ci->n_nodes; i++) {
        fprintf(out, "node %s weight=%u share=%.2f%%\n", ci->nodes[i].name,
                ci->nodes[i].weight, share[i] * 100.0);
        double ideal = (double)ci->nodes[i].weight / (double)total_weight;
        if (share[i] / ideal > max_ratio)
            max_ratio = share[i] / ideal;
    }
    if (stats) {
        fprintf(out, "vnodes: %u\n", ci->vnodes);
        fprintf(out, "points: %u\n", ci->vnodes * total_weight);
        fprintf(out, "replicas: %u\n", ci->replicas);
        fprintf(out, "max share / weighted ideal: %.3f\n", max_ratio);
        fprintf(out,
                "keys moved when one node of weight 1 is added: "
                "~%.2f%%\n",
                100.0 / (double)(total_weight + 1));
    }

    rt = router_new(ring, ci->shard_by, ci->n_shard_by, ci->replicas,
                    cfg->agent.name);
    for (size_t k = 0; k < nkeys; k++) {
        size_t owners[ROUTER_MAX_REPLICAS];
        size_t n = router_route_key(rt, keys[k], owners);
        fprintf(out, "%s\t", keys[k]);
        for (size_t i = 0; i < n; i++)
            fprintf(out, "%s%s", i ? "," : "",
                    hashring_node_name(ring, owners[i]));
        fputc('\n', out);
    }
    rc = 0;
out:
    router_free(&rt);
    hashring_free(&ring);
    free(share);
    return rc;
}

void ringinfo_fingerprint(const struct config *cfg, char out[17])
{
    const struct cfg_influx *ci = &cfg->influx;
    out[0] = '\0';
    if (!ci->enabled || ci->n_nodes == 0)
        return;
    char err[256];
    struct hashring *ring = ring_config_new(ci, err, sizeof(err));
    if (ring)
        hashring_fingerprint(ring, out);
    hashring_free(&ring);
}
