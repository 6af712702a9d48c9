// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gc.h"
#include "http.h"
#include "http/route.h"
#include "run/http_session.h"
#include "run/options.h"
#include "util/format.h"

#define MAX_SECONDS		(365.0 * 24 * 3600)

enum {
	OPT_RINGBUF_KB = 0x100, OPT_PROBE, OPT_HTTP, OPT_ALL, OPT_COMM, OPT_CONTAINER, OPT_EXCLUDE,
	OPT_LISTEN, OPT_PER_PID, OPT_EXPIRE, OPT_RESCAN, OPT_MAX_PROCESSES, OPT_MAX_SERIES,
	OPT_ROUTE, OPT_HIT_MIN,
	OPT_NO_GC_STATE, OPT_RECORD, OPT_SAMPLE, OPT_CHILDREN,
};

/* Defaults of the fleet options; docs/fleet.md says why. */
#define DEFAULT_EXPIRE_NS	(300 * 1000000000ull)
#define DEFAULT_RESCAN_NS	(10 * 1000000000ull)
#define DEFAULT_MAX_PROCESSES	1024
#define DEFAULT_MAX_SERIES	1000

static const char usage[] =
"Usage: gcpause [trace] [OPTIONS] -p PID [-p PID ...] [--children] | --all |\n"
"                               -- COMMAND [ARG ...]\n"
"       gcpause list [-p PID ...] [--probe MODE] [--json]\n"
"       gcpause top [OPTIONS] -p PID [-p PID ...] [--children] | --all |\n"
"                           -- COMMAND [ARG ...]\n"
"       gcpause serve [OPTIONS] [--all | -p PID ... [--children]] [--listen ADDR:PORT]\n"
"                     [--per-pid]\n"
"       gcpause diff BEFORE AFTER [--json] [--html OUT.html]\n"
"       gcpause report RECORDING [--html OUT.html] [--trace OUT.json] [--before REC]\n"
"                              [--slow SEC]\n"
"       gcpause advise RECORDING [--json]\n"
"Measure CPython garbage-collection pauses from outside the process, through the interpreter's\n"
"python:gc__start/gc__done markers or, in builds without them, its collection function.\n"
"Prints per-process, per-generation pause statistics and histograms when it stops (Ctrl-C,\n"
"-d elapsed, or every traced process gone). \"list\" shows the Python processes and how each\n"
"would be probed; \"top\" shows pauses (and requests) live, refreshed every -i seconds (1);\n"
"\"serve\" exports them to Prometheus until stopped (every Python process without -p;\n"
"metrics: docs/metrics.md, deployment: docs/deploy.md). \"diff\" compares two recordings\n"
"(--record FILE), \"report\" draws one (docs/cause.md).\n"
"\n"
"  -p, --pid PID          trace this process (repeat for more)\n"
"      --children         -p: also the processes they have started and every process they\n"
"                         start later, as -- COMMAND does (a gunicorn or uwsgi master's\n"
"                         workers, respawned ones included)\n"
"  -- COMMAND [ARG ...]   start COMMAND and trace it from its first collection\n"
"      --all              every Python process of the host, in any container, and every new\n"
"                         one from its exec (docs/fleet.md)\n"
"      --comm PATTERN     --all: only processes whose command matches (repeatable)\n"
"      --container PATTERN  --all: only processes whose container ID, pod or NAMESPACE/POD\n"
"                         matches (repeatable; \"-\" matches processes outside containers)\n"
"      --exclude PATTERN  --all: not processes whose command, container or pod matches\n"
"      --max-processes N  --all: trace at most N at once (default 1024)\n"
"      --expire SEC       --all: forget exited processes, and serve their idle series,\n"
"                         after SEC seconds (default 300)\n"
"      --rescan SEC       --all: look through /proc again every SEC seconds (default 10)\n"
"      --listen ADDR:PORT serve: where /metrics and /healthz answer (default\n"
"                         " OPTIONS_DEFAULT_LISTEN ")\n"
"      --per-pid          serve: one series per process (pid label); PIDs churn, mind the\n"
"                         cardinality\n"
"      --max-series N     serve: export at most N label sets (default 1000)\n"
"      --probe MODE       auto (default), usdt, symbol (function found through symbols) or\n"
"                         stripped (function found without symbols)\n"
"      --sample[=HZ]      no probe in the collection path: counts from the interpreter's own\n"
"                         counters, GC time and long pauses from HZ CPU samples a second\n"
"                         (default 1000): a cost independent of the collection rate\n"
"                         (docs/performance.md)\n"
"  -i, --interval SEC     also report every SEC seconds (fractions allowed)\n"
"  -d, --duration SEC     stop after SEC seconds\n"
"  -j, --json             newline-delimited JSON on stdout (schema: docs/json.md)\n"
"      --http             also track the HTTP/1.x requests these processes serve, and how\n"
"                         much of their latency is GC (docs/http.md)\n"
"      --route PATTERN    --http: group paths matching PATTERN (/api/items/{id}, /cal/*.ics,\n"
"                         /static/**) as one route; numeric, UUID and hex ids are grouped\n"
"                         without it (repeatable, the first match wins)\n"
"      --hit-min DURATION --http: GC a request must overlap to be a \"big hit\" (default\n"
"                         1ms; 500us, 2ms, 0.1s)\n"
"      --record FILE      write the JSON stream (--json) to FILE, for gcpause diff and\n"
"                         gcpause report (docs/cause.md)\n"
"      --no-gc-state      do not read the interpreter's GC state (thresholds, counts,\n"
"                         tracked and frozen objects) from its memory\n"
"      --ringbuf-kb KB    event ring buffer size, a power of two >= 4 (default 1024)\n"
"  -v, --verbose          libbpf debug output on stderr\n"
"  -h, --help             this help\n"
"  -V, --version          print the version\n"
"\n"
"Needs root, or CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH and, for uprobes on\n"
"Linux 6.16+ (and stable kernels with the same fix), CAP_SYS_ADMIN. \"list\" without them shows\n"
"only the caller's own processes.\n";

static const struct option long_options[] = {
	{ "pid", required_argument, NULL, 'p' },
	{ "interval", required_argument, NULL, 'i' },
	{ "duration", required_argument, NULL, 'd' },
	{ "json", no_argument, NULL, 'j' },
	{ "ringbuf-kb", required_argument, NULL, OPT_RINGBUF_KB },
	{ "probe", required_argument, NULL, OPT_PROBE },
	{ "http", no_argument, NULL, OPT_HTTP },
	{ "route", required_argument, NULL, OPT_ROUTE },
	{ "hit-min", required_argument, NULL, OPT_HIT_MIN },
	{ "all", no_argument, NULL, OPT_ALL },
	{ "comm", required_argument, NULL, OPT_COMM },
	{ "container", required_argument, NULL, OPT_CONTAINER },
	{ "exclude", required_argument, NULL, OPT_EXCLUDE },
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "per-pid", no_argument, NULL, OPT_PER_PID },
	{ "expire", required_argument, NULL, OPT_EXPIRE },
	{ "rescan", required_argument, NULL, OPT_RESCAN },
	{ "max-processes", required_argument, NULL, OPT_MAX_PROCESSES },
	{ "max-series", required_argument, NULL, OPT_MAX_SERIES },
	{ "no-gc-state", no_argument, NULL, OPT_NO_GC_STATE },
	{ "record", required_argument, NULL, OPT_RECORD },
	{ "sample", optional_argument, NULL, OPT_SAMPLE },
	{ "children", no_argument, NULL, OPT_CHILDREN },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{},
};

static int parse_pid(const char *s, pid_t *pid)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v <= 0 || v > INT_MAX)
		return -EINVAL;
	*pid = (pid_t)v;
	return 0;
}

static int add_pid(struct options *o, pid_t pid)
{
	pid_t *pids;
	int i;

	for (i = 0; i < o->npids; i++)
		if (o->pids[i] == pid)
			return 0;
	if (o->npids >= GC_MAX_PIDS)
		return -E2BIG;
	pids = realloc(o->pids, (o->npids + 1) * sizeof(*pids));
	if (!pids)
		return -ENOMEM;
	o->pids = pids;
	o->pids[o->npids++] = pid;
	return 0;
}

static int add_pattern(char ***patterns, int *n, char *pattern)
{
	char **more = realloc(*patterns, (*n + 1) * sizeof(*more));

	if (!more)
		return -ENOMEM;
	*patterns = more;
	more[(*n)++] = pattern;
	return 0;
}

/* "500us", "2ms", "0.1s", "1" (seconds) -> ns; 0 allowed (every hit is big). */
static int parse_duration(const char *s, uint64_t *ns)
{
	static const struct { const char *unit; double ns; } units[] = {
		{ "ns", 1 }, { "us", 1e3 }, { "ms", 1e6 }, { "s", 1e9 }, { "", 1e9 },
	};
	unsigned int i;
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !(v >= 0) || v > MAX_SECONDS * 1e9)
		return -EINVAL;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (!strcmp(end, units[i].unit)) {
			if (v * units[i].ns > MAX_SECONDS * 1e9)
				return -EINVAL;
			*ns = (uint64_t)(v * units[i].ns + 0.5);
			return 0;
		}
	}
	return -EINVAL;
}

static int parse_count(const char *s, unsigned int max, unsigned int *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || !v || v > max || s[0] == '-')
		return -EINVAL;
	*out = v;
	return 0;
}

/* Names the offending option whether getopt saw it as short or long. */
static void describe_bad_option(char **argv, int c, char *err, size_t err_len)
{
	const char *arg = argv[optind - 1];

	if (c == ':')
		snprintf(err, err_len, "option '%s' needs a value (see gcpause --help)", arg);
	else if (optopt && !(arg[0] == '-' && arg[1] == '-'))
		snprintf(err, err_len, "unknown option '-%c' (see gcpause --help)", optopt);
	else
		snprintf(err, err_len, "unknown option '%s' (see gcpause --help)", arg);
}

static enum options_result check_combinations(struct options *o, char *err, size_t err_len)
{
	bool filters = o->ncomm_patterns || o->ncontainer_patterns || o->nexclude_patterns;

	if (o->mode == MODE_SERVE && o->json) {
		snprintf(err, err_len, "serve exports to Prometheus: for JSON use gcpause --json");
		return OPTIONS_USAGE_ERROR;
	}
	/* Before serve's default of --all, which follows every process already. */
	if (o->children && !o->npids) {
		snprintf(err, err_len, "--children follows the processes given with -p PID (--all "
			 "and -- COMMAND follow children already)");
		return OPTIONS_USAGE_ERROR;
	}
	if (o->mode == MODE_SERVE && o->command) {
		snprintf(err, err_len, "serve traces running processes: give --all or -p PID");
		return OPTIONS_USAGE_ERROR;
	}
	/* An agent is started to watch the whole node: that is what serve does by default. */
	if (o->mode == MODE_SERVE && !o->npids)
		o->all = true;
	if (!o->npids && !o->command && !o->all) {
		snprintf(err, err_len, "nothing to trace: give -p PID, --all or -- COMMAND (see "
			 "gcpause --help)");
		return OPTIONS_USAGE_ERROR;
	}
	if (!!o->npids + !!o->command + o->all > 1) {
		snprintf(err, err_len, "give one of -p PID, --all or -- COMMAND");
		return OPTIONS_USAGE_ERROR;
	}
	if ((o->nroute_patterns || o->hit_min_set) && !o->http) {
		snprintf(err, err_len, "--route and --hit-min are about requests: add --http");
		return OPTIONS_USAGE_ERROR;
	}
	if (o->sample_hz && (o->mode == MODE_SERVE || o->mode == MODE_LIST || o->http ||
			     o->probe_mode != PROBE_AUTO)) {
		snprintf(err, err_len, "--sample reports GC time and counts (text, JSON, top): not "
			 "yet with serve or --http, and no probe to choose");
		return OPTIONS_USAGE_ERROR;
	}
	if (filters && !o->all) {
		snprintf(err, err_len, "--comm, --container and --exclude select among --all's "
			 "processes");
		return OPTIONS_USAGE_ERROR;
	}
	return OPTIONS_RUN;
}

enum options_result options_parse(int argc, char **argv, enum run_mode mode, struct options *o,
				  char *err, size_t err_len)
{
	unsigned long kb;
	char *end;
	pid_t pid;
	int c;

	memset(o, 0, sizeof(*o));
	o->ringbuf_bytes = GC_RINGBUF_BYTES;
	o->listen = OPTIONS_DEFAULT_LISTEN;
	o->expire_ns = DEFAULT_EXPIRE_NS;
	o->rescan_ns = DEFAULT_RESCAN_NS;
	o->max_processes = DEFAULT_MAX_PROCESSES;
	o->max_series = DEFAULT_MAX_SERIES;
	o->hit_min_ns = HTTP_DEFAULT_HIT_MIN_NS;
	optind = 1;
	opterr = 0;
	o->mode = mode;
	/* '+': stop at the first non-option, so the command's own options stay its own. */
	while ((c = getopt_long(argc, argv, "+:p:i:d:jvhV", long_options, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (parse_pid(optarg, &pid)) {
				snprintf(err, err_len, "invalid PID '%s'", optarg);
				return OPTIONS_USAGE_ERROR;
			}
			if (add_pid(o, pid)) {
				snprintf(err, err_len, "too many PIDs (at most %d)", GC_MAX_PIDS);
				return OPTIONS_USAGE_ERROR;
			}
			break;
		case 'i':
		case 'd':
			if (fmt_parse_seconds(optarg, c == 'i' ? &o->interval_ns :
								     &o->duration_ns)) {
				snprintf(err, err_len, "invalid %s '%s': expected seconds > 0",
					 c == 'i' ? "interval" : "duration", optarg);
				return OPTIONS_USAGE_ERROR;
			}
			break;
		case 'j':
			o->json = true;
			break;
		case 'v':
			o->verbose = true;
			break;
		case OPT_HTTP:
			o->http = true;
			break;
		case OPT_NO_GC_STATE:
			o->no_gc_state = true;
			break;
		case OPT_SAMPLE:
			o->sample_hz = OPTIONS_DEFAULT_SAMPLE_HZ;
			if (optarg && parse_count(optarg, OPTIONS_MAX_SAMPLE_HZ, &o->sample_hz)) {
				snprintf(err, err_len, "invalid --sample '%s': samples a second, 1 to "
					 "%d", optarg, OPTIONS_MAX_SAMPLE_HZ);
				return OPTIONS_USAGE_ERROR;
			}
			break;
		case OPT_RECORD:
			o->record = optarg;
			o->json = true;
			break;
		case OPT_ALL:
			o->all = true;
			break;
		case OPT_CHILDREN:
			o->children = true;
			break;
		case OPT_ROUTE:
			if (!http_route_pattern_valid(optarg, err, err_len))
				return OPTIONS_USAGE_ERROR;
			if (add_pattern(&o->route_patterns, &o->nroute_patterns, optarg)) {
				snprintf(err, err_len, "out of memory");
				return OPTIONS_USAGE_ERROR;
			}
			break;
		case OPT_HIT_MIN:
			if (parse_duration(optarg, &o->hit_min_ns)) {
				snprintf(err, err_len, "invalid --hit-min '%s': a duration such as "
					 "500us, 2ms or 0.1s", optarg);
				return OPTIONS_USAGE_ERROR;
			}
			o->hit_min_set = true;
			break;
		case OPT_COMM:
		case OPT_CONTAINER:
		case OPT_EXCLUDE:
			if (add_pattern(c == OPT_COMM ? &o->comm_patterns :
					c == OPT_CONTAINER ? &o->container_patterns :
					&o->exclude_patterns,
					c == OPT_COMM ? &o->ncomm_patterns :
					c == OPT_CONTAINER ? &o->ncontainer_patterns :
					&o->nexclude_patterns, optarg)) {
				snprintf(err, err_len, "out of memory");
				return OPTIONS_USAGE_ERROR;
			}
			break;
		case OPT_LISTEN:
			o->listen = optarg;
			break;
		case OPT_PER_PID:
			o->per_pid = true;
			break;
		case OPT_EXPIRE:
		case OPT_RESCAN:
			if (fmt_parse_seconds(optarg, c == OPT_EXPIRE ? &o->expire_ns :
								   &o->rescan_ns)) {
				snprintf(err, err_len, "invalid %s '%s': expected seconds > 0",
					 c == OPT_EXPIRE ? "--expire" : "--rescan", optarg);
				return OPTIONS_USAGE_ERROR;
			}
			break;
		case OPT_MAX_PROCESSES:
			if (parse_count(optarg, GC_MAX_PIDS, &o->max_processes)) {
				snprintf(err, err_len, "invalid --max-processes '%s': from 1 to %d",
					 optarg, GC_MAX_PIDS);
				return OPTIONS_USAGE_ERROR;
			}
			break;
		case OPT_MAX_SERIES:
			if (parse_count(optarg, 1000000, &o->max_series)) {
				snprintf(err, err_len, "invalid --max-series '%s': from 1 to 1000000",
					 optarg);
				return OPTIONS_USAGE_ERROR;
			}
			break;
		case OPT_PROBE:
			if (probe_mode_parse(optarg, &o->probe_mode)) {
				snprintf(err, err_len, "invalid --probe '%s': auto, usdt, symbol "
					 "or stripped", optarg);
				return OPTIONS_USAGE_ERROR;
			}
			break;
		case OPT_RINGBUF_KB:
			errno = 0;
			kb = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || kb < 4 || kb > (1UL << 21) ||
			    (kb & (kb - 1))) {
				snprintf(err, err_len, "invalid --ringbuf-kb '%s': a power of two "
					 "from 4 to 2097152", optarg);
				return OPTIONS_USAGE_ERROR;
			}
			o->ringbuf_bytes = kb * 1024;
			break;
		case 'h':
			fputs(usage, stdout);
			return OPTIONS_EXIT_OK;
		case 'V':
			printf("gcpause %s\n", GCPAUSE_VERSION);
			return OPTIONS_EXIT_OK;
		default:
			describe_bad_option(argv, c, err, err_len);
			return OPTIONS_USAGE_ERROR;
		}
	}
	if (o->mode == MODE_LIST) {
		if (optind < argc) {
			snprintf(err, err_len, "unexpected argument '%s' to list", argv[optind]);
			return OPTIONS_USAGE_ERROR;
		}
		if (o->interval_ns || o->duration_ns) {
			snprintf(err, err_len, "list takes no -i or -d");
			return OPTIONS_USAGE_ERROR;
		}
		return OPTIONS_RUN;
	}
	if (optind < argc) {
		if (strcmp(argv[optind - 1], "--")) {
			snprintf(err, err_len, "unexpected argument '%s' (a command goes after --)",
				 argv[optind]);
			return OPTIONS_USAGE_ERROR;
		}
		o->command = &argv[optind];
	}
	if (o->mode == MODE_TOP && o->json) {
		snprintf(err, err_len, "top is a terminal view: for JSON use gcpause --json");
		return OPTIONS_USAGE_ERROR;
	}
	if (o->mode == MODE_TOP && !o->interval_ns)
		o->interval_ns = 1000000000ull;
	return check_combinations(o, err, err_len);
}

void options_free(struct options *o)
{
	free(o->comm_patterns);
	free(o->container_patterns);
	free(o->exclude_patterns);
	free(o->route_patterns);
	o->comm_patterns = o->container_patterns = o->exclude_patterns = NULL;
	o->route_patterns = NULL;
	free(o->pids);
	o->pids = NULL;
	o->npids = 0;
}
