// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What one probe hit costs: calls hit() N times and prints the seconds it took. A tracer puts an
 * entry uprobe, a return uprobe or a plain uprobe in the middle of it (as gcpause's window marks
 * are) on "hit"; the loop's time less the untraced loop's, over N, is one hit's cost.
 *
 * Usage: probe_loop N   (prints "ready", waits for a line on stdin, runs, prints the seconds)
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

volatile long sink;

__attribute__((noinline)) void hit(long i)
{
	sink += i;
	__asm__ volatile("" ::: "memory");
	sink ^= i;
}

int main(int argc, char **argv)
{
	long i, n = argc > 1 ? atol(argv[1]) : 100000;
	struct timespec a, b;
	char line[16];

	printf("ready\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < n; i++)
		hit(i);
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.6f\n", (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9);
	return 0;
}
