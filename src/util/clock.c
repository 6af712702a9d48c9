// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include "util/clock.h"

uint64_t clock_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

int clock_timerfd(uint64_t ns, bool periodic)
{
	struct itimerspec its = {
		.it_value = { .tv_sec = ns / 1000000000ull, .tv_nsec = ns % 1000000000ull },
	};
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);

	if (fd < 0)
		return -errno;
	if (periodic)
		its.it_interval = its.it_value;
	if (timerfd_settime(fd, 0, &its, NULL)) {
		close(fd);
		return -errno;
	}
	return fd;
}

int clock_timerfd_oneshot(void)
{
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);

	return fd < 0 ? -errno : fd;
}

int clock_timerfd_arm(int fd, uint64_t ns)
{
	struct itimerspec its = {
		.it_value = { .tv_sec = ns / 1000000000ull, .tv_nsec = ns % 1000000000ull },
	};

	return timerfd_settime(fd, 0, &its, NULL) ? -errno : 0;
}

int clock_timerfd_arm_at(int fd, uint64_t due_ns)
{
	uint64_t now = clock_now_ns();

	/* A relative 0 would disarm: a time already past fires at once. */
	return clock_timerfd_arm(fd, !due_ns ? 0 : due_ns > now ? due_ns - now : 1);
}
