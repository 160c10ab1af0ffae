#include "util/clock.h"

int64_t (*clock_wall_source)(void);

int64_t clock_step_back(struct clock_steps *c, int64_t wall_ms)
{
    int64_t back = c->valid && wall_ms < c->last_ms ? c->last_ms - wall_ms : 0;
    c->last_ms = wall_ms;
    c->valid = true;
    return back;
}
