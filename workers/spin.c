/* SPDX-License-Identifier: BSD-2-Clause */
/* The spin policy: workers/spin.h says what and why. */
#include "config.h"

#include "workers/spin.h"

void spin_init(struct spin_policy *p)
{
	p->spun = p->caught = p->off_left = 0;
	p->backoff = SPIN_BACKOFF_MIN;
}

bool spin_begin(struct spin_policy *p)
{
	if (p->off_left == 0)
		return true;
	/* Sitting out; the period that ends the wait spins again. */
	return --p->off_left == 0;
}

void spin_end(struct spin_policy *p, bool caught)
{
	p->spun++;
	p->caught += caught;
	if (p->spun < SPIN_WINDOW)
		return;
	if (p->caught * 100 >= SPIN_PAY_PERCENT * p->spun) {
		p->backoff = SPIN_BACKOFF_MIN;
	} else {
		p->off_left = p->backoff;
		if (p->backoff < SPIN_BACKOFF_MAX)
			p->backoff *= 2;
	}
	p->spun = p->caught = 0;
}
