/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* CLOCK_MONOTONIC: the clock of bpf_ktime_get_ns() and of Python's time.monotonic_ns(). */
#ifndef GCPAUSE_UTIL_CLOCK_H
#define GCPAUSE_UTIL_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

uint64_t clock_now_ns(void);
/* A non-blocking timerfd firing after ns, and every ns if periodic; or a negative errno. */
int clock_timerfd(uint64_t ns, bool periodic);
/* A non-blocking timerfd, disarmed; or a negative errno. */
int clock_timerfd_oneshot(void);
/* Fires once after ns; 0 disarms. */
int clock_timerfd_arm(int fd, uint64_t ns);
/* Fires once at due_ns (CLOCK_MONOTONIC), at once if that has passed; 0 disarms. */
int clock_timerfd_arm_at(int fd, uint64_t due_ns);

#endif /* GCPAUSE_UTIL_CLOCK_H */
