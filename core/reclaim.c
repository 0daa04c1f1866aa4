/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <stdlib.h>

#include <urcu/urcu-qsbr.h>

#include "core/reclaim.h"
#include "core/base/tsan.h"

void reclaim_init(struct reclaim *r)
{
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	r->retired = NULL;
	r->stop = false;
	r->started = false;
}

/* After a grace period nobody reads these any more. */
static void free_after_grace(struct runtime *list)
{
	if (!list)
		return;
	urcu_qsbr_synchronize_rcu();
	while (list) {
		struct runtime *next = list->retired_next;

		TSAN_ACQUIRE(list->readers);   /* every reader released it */
		free(list);
		list = next;
	}
}

static void *reclaim_main(void *arg)
{
	struct reclaim *r = arg;
	bool stop = false;

	pthread_setname_np(pthread_self(), "metricd-rcu");
	while (!stop) {
		pthread_mutex_lock(&r->lock);
		while (!r->retired && !r->stop)
			pthread_cond_wait(&r->cond, &r->lock);
		struct runtime *list = r->retired;

		r->retired = NULL;
		stop = r->stop;
		pthread_mutex_unlock(&r->lock);
		free_after_grace(list);
	}
	return NULL;
}

int reclaim_retire(struct reclaim *r, struct runtime *old)
{
	if (!r->started) {
		int rc = pthread_create(&r->thread, NULL, reclaim_main, r);

		if (rc) {
			old->retired_next = NULL;
			free_after_grace(old);
			return -rc;
		}
		r->started = true;
	}
	pthread_mutex_lock(&r->lock);
	old->retired_next = r->retired;
	r->retired = old;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
	return 0;
}

void reclaim_destroy(struct reclaim *r)
{
	if (r->started) {
		pthread_mutex_lock(&r->lock);
		r->stop = true;
		pthread_cond_signal(&r->cond);
		pthread_mutex_unlock(&r->lock);
		pthread_join(r->thread, NULL);
		r->started = false;
	}
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
}
