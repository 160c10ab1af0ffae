#include "pipeline/series_fold.h"

#include <string.h>

#include "pipeline/sample.h"

static const struct {
    unsigned bit;
    const char *suffix;
    const char *field;
    const char *help;
} kinds[SERIES_FOLD_MAX_VALUES - 1] = {
    {SERIES_FOLD_MAX, "_max", "max", ", maximum over the subtasks"},
    {SERIES_FOLD_SUM, "_sum", "sum", ", sum over the subtasks"},
    {SERIES_FOLD_AVG, "_avg", "avg", ", average over the subtasks"},
};

unsigned series_fold_parse(const char *name)
{
    for (size_t i = 0; i < SERIES_FOLD_MAX_VALUES - 1; i++)
        if (strcmp(name, kinds[i].field) == 0)
            return kinds[i].bit;
    return 0;
}

size_t series_fold_values(const struct series *s, unsigned fold,
                          struct series_value out[SERIES_FOLD_MAX_VALUES])
{
    if (!s->folded) {
        out[0] = (struct series_value){"", NULL, "", s->value, false};
        return 1;
    }
    if (s->count == 0)
        return 0;
    if ((fold & SERIES_FOLD_ALL) == 0)
        fold = SERIES_FOLD_ALL;
    size_t n = 0;
    for (size_t i = 0; i < SERIES_FOLD_MAX_VALUES - 1; i++) {
        if (!(fold & kinds[i].bit))
            continue;
        double v = kinds[i].bit == SERIES_FOLD_MAX   ? s->max
                   : kinds[i].bit == SERIES_FOLD_SUM ? s->sum
                                                     : s->sum / s->count;
        out[n++] = (struct series_value){kinds[i].suffix, kinds[i].field,
                                         kinds[i].help, v, false};
    }
    out[n++] = (struct series_value){"_subtasks", "subtasks",
                                     ", number of subtask series folded",
                                     (double)s->count, true};
    return n;
}
