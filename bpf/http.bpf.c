// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Socket I/O of traced processes, for HTTP request tracking (--http). The syscall tracepoints
 * give the fd and the user buffer; the socket tracepoints, firing inside the same syscall, say
 * whether the fd is a socket and which one; TCP tracepoints in softirq context stamp when data
 * and connections reached the kernel, before any worker read them. Requests are parsed in
 * userspace from the first bytes of each read: no body is copied past HTTP_CAPTURE_BYTES.
 *
 * x86-64 syscall numbers: the syscall tracepoints see raw numbers, which CO-RE cannot relocate.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "filter.h"
#include "http.h"
#include "common.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define NR_read		0
#define NR_write	1
#define NR_close	3
#define NR_readv	19
#define NR_writev	20
#define NR_sendfile	40
#define NR_accept	43
#define NR_sendto	44
#define NR_recvfrom	45
#define NR_sendmsg	46
#define NR_recvmsg	47
#define NR_accept4	288

#define S_IFMT_BITS		00170000
#define S_IFSOCK_BITS		0140000

#define TCP_ESTABLISHED_STATE	1
#define TCP_SYN_RECV_STATE	3

/* A syscall of interest under way on a thread. */
struct pending_io {
	__u64 sk;		/* set by the socket tracepoints: 0 means not a socket */
	__u64 cookie;		/* the socket's cookie: unlike its address, never reused */
	__u64 buf;		/* user buffer, iovec array or msghdr, by syscall */
	__u32 nr;
	__s32 fd;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, HTTP_MAX_THREADS);
	__type(key, __u32);	/* tid */
	__type(value, struct pending_io);
} pending SEC(".maps");

struct sock_times {
	__u64 conn_ns;		/* established (server side), 0 if not seen */
	__u64 unread_ns;	/* first byte not yet read arrived, 0 if none pending */
	__u8 read_before;	/* a traced process has read from it */
};

/*
 * Server-side connections from establishment on, and sockets traced processes read: an LRU, as
 * connections that no traced process ever reads must age out.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, HTTP_MAX_SOCKS);
	__type(key, __u64);	/* struct sock * */
	__type(value, struct sock_times);
} socks SEC(".maps");

/* A record is built here, then sent as long as what it holds: too big for the BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct http_io);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, HTTP_RINGBUF_BYTES);
} http_events SEC(".maps");

DEFINE_COUNTERS(http_counters, HTTP_CNT_MAX)

static __always_inline bool is_traced(__u64 pid_tgid)
{
	__u32 tgid = pid_tgid >> 32;
	__u8 *state = bpf_map_lookup_elem(&traced_pids, &tgid);

	/* A --all candidate may not be Python at all: its I/O waits until it is confirmed. */
	return state && *state == TRACED_CONFIRMED;
}

static __always_inline bool interesting(long nr)
{
	switch (nr) {
	case NR_read: case NR_write: case NR_close: case NR_readv: case NR_writev:
	case NR_sendfile: case NR_accept: case NR_sendto: case NR_recvfrom: case NR_sendmsg:
	case NR_recvmsg: case NR_accept4:
		return true;
	}
	return false;
}

/*
 * The socket an fd of the current process names, 0 when it names something else. Read before
 * close() releases the fd: the close event then says which connection ended, whatever another
 * thread has since opened on the same fd number.
 */
static __always_inline __u64 fd_socket(__s32 fd, __u64 *cookie)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct file **fds, *file = NULL;
	struct socket *sock;
	struct sock *sk;
	unsigned int max;
	umode_t mode;

	fds = BPF_CORE_READ(task, files, fdt, fd);
	max = BPF_CORE_READ(task, files, fdt, max_fds);
	if (fd < 0 || (unsigned int)fd >= max)
		return 0;
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return 0;
	mode = BPF_CORE_READ(file, f_inode, i_mode);
	if ((mode & S_IFMT_BITS) != S_IFSOCK_BITS)
		return 0;
	sock = BPF_CORE_READ(file, private_data);
	sk = BPF_CORE_READ(sock, sk);
	/* Set by the read that opened the connection (bpf_get_socket_cookie), if one did. */
	*cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	return (__u64)sk;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(http_sys_enter, struct pt_regs *regs, long nr)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct pending_io p = {};
	__u32 tid = (__u32)id;

	if (!interesting(nr) || !is_traced(id))
		return 0;
	p.nr = nr;
	p.fd = (__s32)BPF_CORE_READ(regs, di);
	p.buf = BPF_CORE_READ(regs, si);
	if (nr == NR_close)
		p.sk = fd_socket(p.fd, &p.cookie);
	if (bpf_map_update_elem(&pending, &tid, &p, BPF_ANY))
		count(HTTP_CNT_NO_SLOT);
	return 0;
}

/* Both socket tracepoints fire inside sock_recvmsg/sock_sendmsg, so inside our syscall. */
static __always_inline void note_socket(struct sock *sk)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pending_io *p = bpf_map_lookup_elem(&pending, &tid);

	if (p && BPF_CORE_READ(sk, __sk_common.skc_family) != 1 /* AF_UNIX */) {
		p->sk = (__u64)sk;
		/*
		 * A closed socket's memory is soon another connection's: the address alone
		 * cannot tell a late close from the next connection's.
		 */
		p->cookie = bpf_get_socket_cookie(sk);
	}
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(http_sock_recv, struct sock *sk, int ret, int flags)
{
	note_socket(sk);
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(http_sock_send, struct sock *sk, int ret, int flags)
{
	note_socket(sk);
	return 0;
}

/* The first iovec's base: readv/writev pass the array, recvmsg/sendmsg a msghdr holding it. */
static __always_inline __u64 first_iov_base(__u64 ptr, bool msghdr)
{
	struct user_msghdr msg;
	struct iovec iov;

	if (msghdr) {
		if (bpf_probe_read_user(&msg, sizeof(msg), (void *)ptr))
			return 0;
		ptr = (__u64)msg.msg_iov;
	}
	if (bpf_probe_read_user(&iov, sizeof(iov), (void *)ptr))
		return 0;
	return (__u64)iov.iov_base;
}

static __always_inline void emit(__u64 id, const struct pending_io *p, __u16 kind, long ret,
				 __u64 now, struct sock_times *st)
{
	struct http_io *e;
	__u64 buf = p->buf;
	__u32 len = 0, zero = 0;

	e = bpf_map_lookup_elem(&scratch, &zero);
	if (!e)
		return;
	e->ts_ns = now;
	e->arrival_ns = 0;
	e->conn_ns = 0;
	e->sk = p->sk;
	e->cookie = p->cookie;
	e->bytes = ret;
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->fd = kind == HTTP_IO_ACCEPT ? (__s32)ret : p->fd;
	e->kind = kind;
	if (st && kind == HTTP_IO_READ) {
		e->arrival_ns = st->unread_ns;
		if (!st->read_before)
			e->conn_ns = st->conn_ns;
	}
	if (p->nr == NR_readv || p->nr == NR_writev)
		buf = first_iov_base(buf, false);
	else if (p->nr == NR_recvmsg || p->nr == NR_sendmsg)
		buf = first_iov_base(buf, true);
	else if (p->nr == NR_sendfile)
		buf = 0;	/* from a file: nothing to parse */
	if (buf && (kind == HTTP_IO_READ || kind == HTTP_IO_WRITE)) {
		/* Writes need only the status line; reads the request line and headers. */
		len = kind == HTTP_IO_WRITE ? 16 : HTTP_CAPTURE_BYTES;
		if ((__u64)ret < len)
			len = ret;
		len &= HTTP_CAPTURE_BYTES * 2 - 1;
		if (len > HTTP_CAPTURE_BYTES)
			len = HTTP_CAPTURE_BYTES;
		if (bpf_probe_read_user(e->data, len, (void *)buf))
			len = 0;
	}
	e->len = len;
	/* Userspace drains on a short timer: a wake-up per socket syscall would cost more. */
	if (bpf_ringbuf_output(&http_events, e, offsetof(struct http_io, data) + len,
			       BPF_RB_NO_WAKEUP))
		count(HTTP_CNT_DROPPED);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(http_sys_exit, struct pt_regs *regs, long ret)
{
	__u64 id = bpf_get_current_pid_tgid(), now = bpf_ktime_get_ns();
	struct sock_times *st = NULL, fresh = {};
	struct pending_io *pp, p;
	__u32 tid = (__u32)id;

	/* Every syscall of the host passes here: the number first, maps only for ours. */
	if (!interesting(BPF_CORE_READ(regs, orig_ax)))
		return 0;
	pp = bpf_map_lookup_elem(&pending, &tid);
	if (!pp)
		return 0;
	p = *pp;
	bpf_map_delete_elem(&pending, &tid);

	switch (p.nr) {
	case NR_close:
		if (!ret)
			emit(id, &p, HTTP_IO_CLOSE, ret, now, NULL);
		return 0;
	case NR_accept:
	case NR_accept4:
		if (ret >= 0)
			emit(id, &p, HTTP_IO_ACCEPT, ret, now, NULL);
		return 0;
	}
	if (ret <= 0 || !p.sk)
		return 0;	/* failed, EOF, or not a socket */
	switch (p.nr) {
	case NR_read:
	case NR_readv:
	case NR_recvfrom:
	case NR_recvmsg:
		st = bpf_map_lookup_elem(&socks, &p.sk);
		if (!st) {
			bpf_map_update_elem(&socks, &p.sk, &fresh, BPF_NOEXIST);
			st = bpf_map_lookup_elem(&socks, &p.sk);
		}
		emit(id, &p, HTTP_IO_READ, ret, now, st);
		if (st) {
			struct sock *sk = (struct sock *)p.sk;

			/* Bytes left unread came with those read: only a drained queue resets. */
			if (!BPF_CORE_READ(sk, sk_receive_queue.qlen))
				st->unread_ns = 0;
			st->read_before = 1;
		}
		return 0;
	default:
		emit(id, &p, HTTP_IO_WRITE, ret, now, NULL);
		return 0;
	}
}

/* A server-side connection completed its handshake: requests on it wait from here. */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(http_sock_state, const struct sock *sk, const int oldstate, const int newstate)
{
	struct sock_times st = { .conn_ns = bpf_ktime_get_ns() };
	__u64 key = (__u64)sk;

	if (oldstate == TCP_SYN_RECV_STATE && newstate == TCP_ESTABLISHED_STATE)
		bpf_map_update_elem(&socks, &key, &st, BPF_ANY);
	return 0;
}

/* A segment arrives on an established connection: stamp the first unread payload byte. */
SEC("tp_btf/tcp_probe")
int BPF_PROG(http_tcp_probe, struct sock *sk, const struct sk_buff *skb)
{
	__u64 key = (__u64)sk;
	struct sock_times *st;
	unsigned char *data;
	__u8 doff;
	__u32 len;

	st = bpf_map_lookup_elem(&socks, &key);
	if (!st || st->unread_ns)
		return 0;
	/* Pure ACKs (of our own responses) carry no request bytes. */
	len = BPF_CORE_READ(skb, len);
	data = BPF_CORE_READ(skb, data);
	if (bpf_probe_read_kernel(&doff, 1, data + 12))
		return 0;
	if (len <= (__u32)(doff >> 4) * 4)
		return 0;
	st->unread_ns = bpf_ktime_get_ns();
	return 0;
}
