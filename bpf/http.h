/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* http.bpf.c and its loader (src/trace/http_tracer.c): socket I/O of traced processes. */
#ifndef GCPAUSE_BPF_HTTP_H
#define GCPAUSE_BPF_HTTP_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* HTTP request tracking (--http): socket I/O of traced processes, parsed in userspace. */

/*
 * Bytes of a read copied to userspace at most: enough for every request line of a deep
 * pipeline (a hundred requests of ~100 bytes in one read). Records are as long as what was
 * copied: a write sends 16 bytes, a read of one request its size.
 */
#define HTTP_CAPTURE_BYTES	16384
/* Connections between the kernel's establishment and a traced process's first read. */
#define HTTP_MAX_NEW_CONNS	16384
/* Sockets of traced processes whose unread data is being timestamped. */
#define HTTP_MAX_SOCKS		65536
/* Threads of traced processes inside a socket syscall at once. */
#define HTTP_MAX_THREADS	16384
#define HTTP_RINGBUF_BYTES	(16 << 20)

enum http_io_kind {
	HTTP_IO_READ = 1,	/* data read from a TCP socket */
	HTTP_IO_WRITE,		/* data written to a TCP socket (sendfile included) */
	HTTP_IO_ACCEPT,		/* a new connection's fd: what the fd was before is gone */
	HTTP_IO_CLOSE,		/* close(fd); sk names the socket it closed (0: not a socket) */
};

enum http_counter {
	HTTP_CNT_DROPPED = 0,	/* ring buffer full: an I/O event lost */
	HTTP_CNT_NO_SLOT,	/* a map was full */
	HTTP_CNT_MAX,
};

struct http_io {
	__u64 ts_ns;		/* when the syscall returned */
	/*
	 * Reads: when the first unread byte (or, first on a connection, the connection itself)
	 * reached the kernel; 0 when no TCP tracepoint saw it.
	 */
	__u64 arrival_ns;
	__u64 conn_ns;		/* reads: the connection's establishment, when seen */
	__u64 sk;		/* the kernel socket: tells connections apart across fd reuse */
	__u64 cookie;		/* the socket's cookie (never reused, unlike sk); 0 if unknown */
	__s64 bytes;		/* the syscall's return value */
	__u32 pid, tid;
	__s32 fd;
	__u16 kind;		/* enum http_io_kind */
	__u16 len;		/* bytes of data[] filled (and sent: the record ends there) */
	__u8 data[HTTP_CAPTURE_BYTES];
};

#endif /* GCPAUSE_BPF_HTTP_H */
