#include "core/event_loop.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define EV_MAX 128

struct ev_handler {
	int fd;
	ev_fn fn;
	void *opaque;
};

struct ev_loop {
	int epfd;
	int stopfd;
	atomic_bool stop;
	pthread_mutex_t lock;
	struct ev_handler h[EV_MAX];
};

struct ev_loop *ev_new(void)
{
	struct ev_loop *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	pthread_mutex_init(&l->lock, NULL);
	for (int i = 0; i < EV_MAX; i++)
		l->h[i].fd = -1;
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = NULL };
	if (l->epfd < 0 || l->stopfd < 0 || epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->stopfd, &e)) {
		ev_free(l);
		return NULL;
	}
	return l;
}

void ev_free(struct ev_loop *l)
{
	if (!l)
		return;
	if (l->epfd >= 0)
		close(l->epfd);
	if (l->stopfd >= 0)
		close(l->stopfd);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

int ev_add(struct ev_loop *l, int fd, uint32_t events, ev_fn fn, void *opaque)
{
	int rc = -ENOSPC;
	pthread_mutex_lock(&l->lock);
	for (int i = 0; i < EV_MAX; i++) {
		if (l->h[i].fd != -1)
			continue;
		l->h[i] = (struct ev_handler){ fd, fn, opaque };
		struct epoll_event e = { .events = events, .data.ptr = &l->h[i] };
		rc = epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &e) ? -errno : 0;
		if (rc)
			l->h[i].fd = -1;
		break;
	}
	pthread_mutex_unlock(&l->lock);
	return rc;
}

static struct ev_handler *find(struct ev_loop *l, int fd)
{
	for (int i = 0; i < EV_MAX; i++)
		if (l->h[i].fd == fd)
			return &l->h[i];
	return NULL;
}

int ev_mod(struct ev_loop *l, int fd, uint32_t events)
{
	pthread_mutex_lock(&l->lock);
	struct ev_handler *h = find(l, fd);
	int rc = -ENOENT;
	if (h) {
		struct epoll_event e = { .events = events, .data.ptr = h };
		rc = epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &e) ? -errno : 0;
	}
	pthread_mutex_unlock(&l->lock);
	return rc;
}

int ev_del(struct ev_loop *l, int fd)
{
	pthread_mutex_lock(&l->lock);
	struct ev_handler *h = find(l, fd);
	int rc = -ENOENT;
	if (h) {
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
		h->fd = -1;
		rc = 0;
	}
	pthread_mutex_unlock(&l->lock);
	return rc;
}

void ev_run(struct ev_loop *l)
{
	struct epoll_event evs[16];
	while (!atomic_load(&l->stop)) {
		int n = epoll_wait(l->epfd, evs, 16, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < n && !atomic_load(&l->stop); i++) {
			struct ev_handler *h = evs[i].data.ptr;
			if (!h)
				continue; /* stop eventfd */
			/* Copy under the lock: a callback may ev_del() itself. */
			pthread_mutex_lock(&l->lock);
			struct ev_handler c = *h;
			pthread_mutex_unlock(&l->lock);
			if (c.fd >= 0)
				c.fn(c.opaque, c.fd, evs[i].events);
		}
	}
}

void ev_stop(struct ev_loop *l)
{
	atomic_store(&l->stop, true);
	uint64_t one = 1;
	ssize_t r = write(l->stopfd, &one, sizeof(one));
	(void)r;
}
