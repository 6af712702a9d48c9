// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Source of the fuzzers' ELF seeds (make-seeds.sh): a tiny shared library shaped like libpython
 * where gcpause looks: stapsdt gc markers with semaphores, Py_Version, PyGC_Collect, a
 * collection function calling a callback with "start" and "stop", and the interpreter structs
 * in DWARF. Small, so that libFuzzer's mutations reach every part of it.
 */
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>

unsigned short python_gc__start_semaphore __attribute__((section(".probes")));
unsigned short python_gc__done_semaphore __attribute__((section(".probes")));

struct gc_generation_stats {
	long collections, collected, uncollectable;
};

struct _gc_runtime_state {
	int enabled;
	long generations[3];
	struct gc_generation_stats generation_stats[3];
};

struct _is {
	int id;
	struct _gc_runtime_state gc;
};
typedef struct _is PyInterpreterState;

PyInterpreterState interp;
const unsigned long Py_Version = 0x030d02f0;
void (*gc_callback)(const char *phase, long gen);

static __attribute__((noinline)) void invoke_gc_callback(const char *phase, long gen)
{
	if (gc_callback)
		gc_callback(phase, gen);
}

__attribute__((noinline)) long gc_collect_main(long gen)
{
	long n = 0, i;

	invoke_gc_callback("start", gen);
	STAP_PROBE1(python, gc__start, (int)gen);
	for (i = 0; i <= gen; i++)
		n += interp.gc.generations[i];
	interp.gc.generation_stats[gen].collections++;
	STAP_PROBE1(python, gc__done, n);
	invoke_gc_callback("stop", gen);
	return n;
}

long PyGC_Collect(void)
{
	return gc_collect_main(2);
}
