/*
 * ringinfo: the text `lagwatch ring` and `lagwatch check` print about the
 * ring of a configuration. The format is part of the CLI contract:
 *
 *   fingerprint: <16 hex>
 *   node <name> weight=<w> share=<percent>%      one line per node
 *   <key>\t<owner>[,<owner>...]                  one line per --key
 */
#ifndef AGENT_RINGINFO_H
#define AGENT_RINGINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "config.h"

/* Writes the ring fingerprint of cfg's sinks.influxdb section into out
 * ("" when there is no ring). */
void ringinfo_fingerprint(const struct config *cfg, char out[17]);

/* Returns 0, or -1 with a message in err (e.g. the ring cannot be built). */
int ringinfo_print(const struct config *cfg, char *const *keys, size_t nkeys,
                   bool stats, FILE *out, char *err, size_t errlen);

#endif
