// SPDX-License-Identifier: GPL-2.0
// Harrier's kernel sensor: process execs and exits, file writes, truncations, deletions and
// renames, and outbound connections, with the context user space needs (cgroup, namespaces,
// tty, login uid). Events go to one ring buffer; user space is woken only when enough data is
// pending (or by its own poll timeout), and every event that does not fit is counted.
//
// The layout of each event is mirrored in src/raw.rs; keep the two in step.
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define PATH_LEN 256
#define ARGS_LEN 1024
#define ENV_LEN 2048

#define EV_EXEC 1
#define EV_EXIT 2
#define EV_OPEN 3
#define EV_UNLINK 4
#define EV_RENAME 5
#define EV_TRUNCATE 6
#define EV_CONNECT 7
#define EV_SYMLINK 8
#define EV_PTRACE 9
#define EV_SOCKET 10

#define DROP_EXEC 0
#define DROP_FILE 1
#define DROP_NET 2
#define DROP_EXIT 3

#define O_ACCMODE 00000003
#define O_WRONLY 00000001
#define O_RDWR 00000002
#define O_CREAT 00000100
#define O_TRUNC 00001000

#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define AF_PACKET 17

#define PTRACE_TRACEME 0
#define PTRACE_POKETEXT 4
#define PTRACE_POKEDATA 5
#define PTRACE_POKEUSER 6
#define PTRACE_SETREGS 13
#define PTRACE_ATTACH 16
#define PTRACE_SEIZE 0x4206

#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define S_IFREG 0100000
#define S_IFCHR 0020000
#define S_IFIFO 0010000

// What a standard stream is (proc.stdin.type).
#define FD_NONE 0
#define FD_FILE 1
#define FD_PIPE 2
#define FD_CHAR 3
#define FD_IPV4 4
#define FD_IPV6 5
#define FD_UNIX 6
#define FD_SOCK 7
#define FD_OTHER 8

char LICENSE[] SEC("license") = "GPL";

// Set by user space before loading: the sensor's own process, whose events are not reported
// (its writes would otherwise feed back into itself).
const volatile __u32 self_tgid = 0;
// Bytes pending in the ring buffer before user space is woken.
const volatile __u64 wakeup_bytes = 256 * 1024;

// The kernel filter, derived from the loaded rules by user space (src/filter.rs): records no
// rule could match are not built. Bit (1 << EV_*) of send_kinds: that kind is sent.
const volatile __u32 send_kinds = 0xffffffff;
// Non-zero: opens for write are sent only when open_wanted() says so.
const volatile __u32 filter_opens = 0;
// Zero: failed file calls are not sent.
const volatile __u32 send_failed_files = 1;
// The host's mount namespace: opens from any other (containers) are always sent.
const volatile __u32 host_mntns = 0;

struct hdr {
	__u64 ts;
	__u64 cgroup_id;
	__u32 type;
	__u32 pid;
	__u32 tid;
	__u32 ppid;
	__u32 vpid;
	__u32 uid;
	__u32 gid;
	__u32 loginuid;
	__u32 tty;
	__u32 pidns;
	__u32 mntns;
	__s32 ret;
	char comm[16];
};

struct exec_ev {
	struct hdr h;
	__u32 filename_len;
	__u32 args_len;
	__u32 env_len;
	__u32 stdin_kind;
	__u32 stdout_kind;
	__u32 pad;
	char filename[PATH_LEN];
	char args[ARGS_LEN];
	char env[ENV_LEN];
};

// exec_ev reaches user space only through the ring buffer, so clang's BTF (which the test of
// the other layouts reads) does not describe it: its size is checked here instead.
_Static_assert(sizeof(struct exec_ev) == 104 + PATH_LEN + ARGS_LEN + ENV_LEN,
	       "exec_ev's layout is mirrored in src/raw.rs (EXEC_LEN)");

#define CWD_SLOTS 8
#define CWD_SLOT 64

struct file_ev {
	struct hdr h;
	__s32 dfd;
	__u32 flags;
	__u32 mode;
	__u32 pad;
	char path[PATH_LEN];
	char path2[PATH_LEN];
	// For a relative path: the working directory's components, innermost first, one per
	// 64-byte slot; cwd_depth of them (CWD_SLOTS + 1: deeper than the slots, unknown).
	__u32 cwd_depth;
	__u32 pad2;
	char cwd[CWD_SLOTS * CWD_SLOT];
};

struct net_ev {
	struct hdr h;
	__u16 family;
	__u16 port;
	__u32 fd;
	__u8 addr[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 * 1024 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

// A file call between its entry and its return, by thread id.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct file_ev);
} pending_file SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct net_ev);
} pending_net SEC(".maps");

// FNV-1a hashes of the path prefixes some rule names, for opens for write (a prefix of length
// L is looked up only when bit L of prefix_lens is set; user space cuts longer prefixes to
// PREFIX_MAX bytes, which keeps more, never less).
#define PREFIX_MAX 63
const volatile __u64 prefix_lens = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u8);
} open_prefixes SEC(".maps");

// FNV-1a hashes of the file names (last path components) some rule names.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u8);
} open_names SEC(".maps");

// Scratch space: file events are too large for the BPF stack.
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct file_ev);
} scratch_file SEC(".maps");

static __always_inline void count_drop(__u32 kind)
{
	__u64 *n = bpf_map_lookup_elem(&drops, &kind);
	if (n)
		*n += 1;
}

static __always_inline __u64 wake_flag(void)
{
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP
									      : BPF_RB_NO_WAKEUP;
}

static __always_inline int sends(__u32 kind)
{
	return (send_kinds >> kind) & 1;
}

static __always_inline int is_self(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == self_tgid;
}

static __always_inline void fill_hdr(struct hdr *h, __u32 type)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 id = bpf_get_current_pid_tgid();
	h->ts = bpf_ktime_get_boot_ns();
	h->cgroup_id = bpf_get_current_cgroup_id();
	h->type = type;
	h->pid = id >> 32;
	h->tid = (__u32)id;
	h->ppid = BPF_CORE_READ(task, real_parent, tgid);
	h->uid = BPF_CORE_READ(task, cred, euid.val);
	h->gid = BPF_CORE_READ(task, cred, egid.val);
	if (bpf_core_field_exists(task->loginuid))
		h->loginuid = BPF_CORE_READ(task, loginuid.val);
	else
		h->loginuid = (__u32)-1;
	h->tty = 0;
	struct tty_struct *tty = BPF_CORE_READ(task, signal, tty);
	if (tty) {
		__u32 major = BPF_CORE_READ(tty, driver, major);
		__u32 minor = BPF_CORE_READ(tty, driver, minor_start) + BPF_CORE_READ(tty, index);
		// The kernel's new_encode_dev, as Falco reports proc.tty (pts/0 = 34816).
		h->tty = (minor & 0xff) | (major << 8) | ((minor & ~0xffu) << 12);
	}
	// The process id inside its own pid namespace, and that namespace.
	struct pid *p = BPF_CORE_READ(task, group_leader, thread_pid);
	unsigned int level = BPF_CORE_READ(p, level);
	struct upid up = {};
	bpf_probe_read_kernel(&up, sizeof(up), &p->numbers[level & 31]);
	h->vpid = up.nr;
	h->pidns = BPF_CORE_READ(up.ns, ns.inum);
	h->mntns = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
	h->ret = 0;
	bpf_get_current_comm(&h->comm, sizeof(h->comm));
}

static __always_inline __u32 fd_kind(struct task_struct *task, int fd)
{
	struct file **fds = BPF_CORE_READ(task, files, fdt, fd);
	struct file *f = NULL;
	if (!fds)
		return FD_NONE;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	if (!f)
		return FD_NONE;
	umode_t mode = BPF_CORE_READ(f, f_inode, i_mode);
	switch (mode & S_IFMT) {
	case S_IFREG:
		return FD_FILE;
	case S_IFIFO:
		return FD_PIPE;
	case S_IFCHR:
		return FD_CHAR;
	case S_IFSOCK: {
		struct socket *sock = BPF_CORE_READ(f, private_data);
		__u16 family = BPF_CORE_READ(sock, sk, __sk_common.skc_family);
		if (family == AF_INET)
			return FD_IPV4;
		if (family == AF_INET6)
			return FD_IPV6;
		if (family == AF_UNIX)
			return FD_UNIX;
		return FD_SOCK;
	}
	}
	return FD_OTHER;
}

SEC("tp/sched/sched_process_exec")
int handle_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	if (is_self())
		return 0;
	struct exec_ev *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_drop(DROP_EXEC);
		return 0;
	}
	fill_hdr(&e->h, EV_EXEC);
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	unsigned int off = ctx->__data_loc_filename & 0xFFFF;
	long n = bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), (void *)ctx + off);
	e->filename_len = n > 0 ? n : 0;

	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	unsigned long start = BPF_CORE_READ(mm, arg_start);
	unsigned long end = BPF_CORE_READ(mm, arg_end);
	unsigned long len = end - start;
	if (len > ARGS_LEN - 1)
		len = ARGS_LEN - 1;
	e->args_len = 0;
	if (len > 0 && bpf_probe_read_user(e->args, len & (ARGS_LEN - 1), (void *)start) == 0)
		e->args_len = len & (ARGS_LEN - 1);

	start = BPF_CORE_READ(mm, env_start);
	end = BPF_CORE_READ(mm, env_end);
	len = end - start;
	if (len > ENV_LEN - 1)
		len = ENV_LEN - 1;
	e->env_len = 0;
	if (len > 0 && bpf_probe_read_user(e->env, len & (ENV_LEN - 1), (void *)start) == 0)
		e->env_len = len & (ENV_LEN - 1);

	e->stdin_kind = fd_kind(task, 0);
	e->stdout_kind = fd_kind(task, 1);
	bpf_ringbuf_submit(e, wake_flag());
	return 0;
}

SEC("tp/sched/sched_process_exit")
int handle_exit(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	if ((id >> 32) != (__u32)id || is_self())
		return 0; // a thread, not the process
	struct hdr *h = bpf_ringbuf_reserve(&events, sizeof(*h), 0);
	if (!h) {
		count_drop(DROP_EXIT);
		return 0;
	}
	fill_hdr(h, EV_EXIT);
	bpf_ringbuf_submit(h, wake_flag());
	return 0;
}

static __always_inline struct file_ev *file_start(__u32 type)
{
	__u32 zero = 0;
	struct file_ev *e = bpf_map_lookup_elem(&scratch_file, &zero);
	if (!e)
		return NULL;
	fill_hdr(&e->h, type);
	e->dfd = -100; // AT_FDCWD
	e->flags = 0;
	e->mode = 0;
	e->path[0] = 0;
	e->path2[0] = 0;
	e->cwd_depth = 0;
	return e;
}

// Reads the task's working directory into e->cwd (mount points crossed, stopping at the
// task's root), so that relative paths resolve even when the process is gone by the time user
// space sees the record.
static __always_inline void read_cwd(struct file_ev *e)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fs_struct *fs = BPF_CORE_READ(task, fs);
	struct dentry *d = BPF_CORE_READ(fs, pwd.dentry);
	struct vfsmount *vm = BPF_CORE_READ(fs, pwd.mnt);
	struct dentry *root = BPF_CORE_READ(fs, root.dentry);
	struct vfsmount *root_mnt = BPF_CORE_READ(fs, root.mnt);
	struct mount *mnt = container_of(vm, struct mount, mnt);
	__u32 n = 0;
	e->cwd_depth = CWD_SLOTS + 1;
#pragma unroll
	for (int i = 0; i < 2 * CWD_SLOTS; i++) {
		if (d == root && vm == root_mnt) {
			e->cwd_depth = n;
			return;
		}
		struct dentry *parent = BPF_CORE_READ(d, d_parent);
		if (d == BPF_CORE_READ(vm, mnt_root) || d == parent) {
			struct mount *up = BPF_CORE_READ(mnt, mnt_parent);
			if (up == mnt) {
				e->cwd_depth = n; // the namespace's root
				return;
			}
			d = BPF_CORE_READ(mnt, mnt_mountpoint);
			mnt = up;
			vm = (struct vfsmount *)((char *)up + bpf_core_field_offset(struct mount, mnt));
			continue;
		}
		if (n >= CWD_SLOTS)
			return;
		const unsigned char *name = BPF_CORE_READ(d, d_name.name);
		bpf_probe_read_kernel_str(&e->cwd[(n & (CWD_SLOTS - 1)) * CWD_SLOT], CWD_SLOT, name);
		n++;
		d = parent;
	}
}

static __always_inline void file_park(struct file_ev *e)
{
	__u32 tid = e->h.tid;
	if (bpf_map_update_elem(&pending_file, &tid, e, BPF_ANY))
		count_drop(DROP_FILE);
}

static __always_inline int file_finish(long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct file_ev *e = bpf_map_lookup_elem(&pending_file, &tid);
	if (!e)
		return 0;
	if (ret < 0 && !send_failed_files && e->h.type != EV_PTRACE && e->h.type != EV_SOCKET) {
		bpf_map_delete_elem(&pending_file, &tid);
		return 0;
	}
	e->h.ret = ret;
	// The working directory is sent only when it was read (relative paths): half the size.
	__u64 len = e->cwd_depth ? sizeof(*e) : offsetof(struct file_ev, cwd);
	if (bpf_ringbuf_output(&events, e, len, wake_flag()))
		count_drop(DROP_FILE);
	bpf_map_delete_elem(&pending_file, &tid);
	return 0;
}

// Reads of these files are reported too (Falco's sensitive-file rules); other reads are not.
static __always_inline int sensitive_read(const char *p)
{
	// "/etc/shadow", "/etc/sudoers", "/etc/gshadow" (absolute paths only)
	if (p[0] != '/' || p[1] != 'e' || p[2] != 't' || p[3] != 'c' || p[4] != '/')
		return 0;
	if (p[5] == 's' && p[6] == 'h' && p[7] == 'a' && p[8] == 'd')
		return 1;
	if (p[5] == 's' && p[6] == 'u' && p[7] == 'd' && p[8] == 'o')
		return 1;
	if (p[5] == 'g' && p[6] == 's' && p[7] == 'h' && p[8] == 'a')
		return 1;
	return 0;
}

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

// Whether an open for write of e->path (n: what reading it returned) may matter to a rule: the
// hash of one of its prefixes is in open_prefixes, or that of its last component in
// open_names (one pass over the path). What the kernel cannot judge is always sent: relative
// paths, paths user space normalises (//, /./, /../), paths cut at PATH_LEN, and opens outside
// the host's mount namespace.
static __always_inline int open_wanted(struct file_ev *e, int dfd, long n)
{
	if (!filter_opens)
		return 1;
	if (dfd != -100 || e->path[0] != '/' || n <= 0 || n >= PATH_LEN)
		return 1;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	if (BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum) != host_mntns)
		return 1;
	__u64 whole = FNV_OFFSET, last = FNV_OFFSET;
	char p1 = 0, p2 = 0, p3 = 0; // the three bytes before
	for (int i = 0; i < PATH_LEN; i++) {
		char c = e->path[i];
		if (c == 0)
			break;
		whole = (whole ^ (__u8)c) * FNV_PRIME;
		if (c == '/') {
			// "//", "/./" or "/../" before this slash
			if (p1 == '/' || (p1 == '.' && (p2 == '/' || (p2 == '.' && p3 == '/'))))
				return 1;
			last = FNV_OFFSET;
		} else {
			last = (last ^ (__u8)c) * FNV_PRIME;
		}
		if (i < PREFIX_MAX && ((prefix_lens >> (i + 1)) & 1) &&
		    bpf_map_lookup_elem(&open_prefixes, &whole))
			return 1;
		p3 = p2;
		p2 = p1;
		p1 = c;
	}
	// a trailing "/." or "/.."
	if (p1 == '.' && (p2 == '/' || (p2 == '.' && p3 == '/')))
		return 1;
	return bpf_map_lookup_elem(&open_names, &last) != NULL;
}

static __always_inline int open_enter(int dfd, const char *name, __u32 flags, __u32 mode)
{
	if (is_self() || !sends(EV_OPEN))
		return 0;
	__u32 zero = 0;
	struct file_ev *e = bpf_map_lookup_elem(&scratch_file, &zero);
	if (!e)
		return 0;
	// The path first: most opens are dropped on it, before the header is read.
	long n = bpf_probe_read_user_str(e->path, sizeof(e->path), name);
	int writes = (flags & O_ACCMODE) != 0 || (flags & (O_CREAT | O_TRUNC)) != 0;
	if (writes ? !open_wanted(e, dfd, n) : !sensitive_read(e->path)) {
		// Filtered in the kernel: plain reads are the bulk of all opens, and writes no rule
		// names. A call of this thread left pending (interrupted before its return) must
		// not be reported now.
		__u32 tid = (__u32)bpf_get_current_pid_tgid();
		// A lookup first: it takes no lock, and there rarely is one.
		if (bpf_map_lookup_elem(&pending_file, &tid))
			bpf_map_delete_elem(&pending_file, &tid);
		return 0;
	}
	fill_hdr(&e->h, EV_OPEN);
	e->dfd = dfd;
	e->flags = flags;
	e->mode = mode;
	e->path2[0] = 0;
	e->cwd_depth = 0;
	if (dfd == -100 && e->path[0] != '/')
		read_cwd(e);
	file_park(e);
	return 0;
}

SEC("tp/syscalls/sys_enter_openat")
int enter_openat(struct trace_event_raw_sys_enter *ctx)
{
	return open_enter(ctx->args[0], (const char *)ctx->args[1], ctx->args[2], ctx->args[3]);
}

SEC("tp/syscalls/sys_enter_open")
int enter_open(struct trace_event_raw_sys_enter *ctx)
{
	return open_enter(-100, (const char *)ctx->args[0], ctx->args[1], ctx->args[2]);
}

SEC("tp/syscalls/sys_enter_openat2")
int enter_openat2(struct trace_event_raw_sys_enter *ctx)
{
	struct open_how how = {};
	bpf_probe_read_user(&how, sizeof(how), (void *)ctx->args[2]);
	return open_enter(ctx->args[0], (const char *)ctx->args[1], how.flags, how.mode);
}

static __always_inline int path_enter(__u32 type, int dfd, const char *a, const char *b,
				      __u32 flags)
{
	if (is_self() || !sends(type))
		return 0;
	struct file_ev *e = file_start(type);
	if (!e)
		return 0;
	e->dfd = dfd;
	e->flags = flags;
	bpf_probe_read_user_str(e->path, sizeof(e->path), a);
	if (b)
		bpf_probe_read_user_str(e->path2, sizeof(e->path2), b);
	if (dfd == -100 && (e->path[0] != '/' || (b && e->path2[0] != '/')))
		read_cwd(e);
	file_park(e);
	return 0;
}

SEC("tp/syscalls/sys_enter_unlinkat")
int enter_unlinkat(struct trace_event_raw_sys_enter *ctx)
{
	return path_enter(EV_UNLINK, ctx->args[0], (const char *)ctx->args[1], NULL, ctx->args[2]);
}

SEC("tp/syscalls/sys_enter_unlink")
int enter_unlink(struct trace_event_raw_sys_enter *ctx)
{
	return path_enter(EV_UNLINK, -100, (const char *)ctx->args[0], NULL, 0);
}

SEC("tp/syscalls/sys_enter_renameat2")
int enter_renameat2(struct trace_event_raw_sys_enter *ctx)
{
	// renameat2(olddfd, oldname, newdfd, newname, flags): paths relative to different
	// directories are resolved by user space against the working directory only.
	return path_enter(EV_RENAME, ctx->args[0], (const char *)ctx->args[1],
			  (const char *)ctx->args[3], ctx->args[4]);
}

SEC("tp/syscalls/sys_enter_renameat")
int enter_renameat(struct trace_event_raw_sys_enter *ctx)
{
	return path_enter(EV_RENAME, ctx->args[0], (const char *)ctx->args[1],
			  (const char *)ctx->args[3], 0);
}

SEC("tp/syscalls/sys_enter_rename")
int enter_rename(struct trace_event_raw_sys_enter *ctx)
{
	return path_enter(EV_RENAME, -100, (const char *)ctx->args[0], (const char *)ctx->args[1],
			  0);
}

SEC("tp/syscalls/sys_enter_truncate")
int enter_truncate(struct trace_event_raw_sys_enter *ctx)
{
	return path_enter(EV_TRUNCATE, -100, (const char *)ctx->args[0], NULL, 0);
}

SEC("tp/syscalls/sys_enter_symlinkat")
int enter_symlinkat(struct trace_event_raw_sys_enter *ctx)
{
	// symlinkat(target, newdfd, linkpath): path = target, path2 = the link.
	return path_enter(EV_SYMLINK, ctx->args[1], (const char *)ctx->args[0],
			  (const char *)ctx->args[2], 0);
}

SEC("tp/syscalls/sys_enter_symlink")
int enter_symlink(struct trace_event_raw_sys_enter *ctx)
{
	return path_enter(EV_SYMLINK, -100, (const char *)ctx->args[0], (const char *)ctx->args[1],
			  0);
}

// ptrace: only the requests that inject into or take over another process, and TRACEME (the
// anti-debugging trick); debuggers' reads are filtered in the kernel. flags = request,
// mode = target pid.
SEC("tp/syscalls/sys_enter_ptrace")
int enter_ptrace(struct trace_event_raw_sys_enter *ctx)
{
	long req = ctx->args[0];
	if (is_self() || !sends(EV_PTRACE))
		return 0;
	if (req != PTRACE_TRACEME && req != PTRACE_POKETEXT && req != PTRACE_POKEDATA &&
	    req != PTRACE_POKEUSER && req != PTRACE_SETREGS && req != PTRACE_ATTACH &&
	    req != PTRACE_SEIZE)
		return 0;
	struct file_ev *e = file_start(EV_PTRACE);
	if (!e)
		return 0;
	e->flags = req;
	e->mode = ctx->args[1];
	file_park(e);
	return 0;
}

// socket: only packet sockets (layer 2: sniffing, ARP spoofing); flags = family, mode = type.
SEC("tp/syscalls/sys_enter_socket")
int enter_socket(struct trace_event_raw_sys_enter *ctx)
{
	if (is_self() || !sends(EV_SOCKET) || ctx->args[0] != AF_PACKET)
		return 0;
	struct file_ev *e = file_start(EV_SOCKET);
	if (!e)
		return 0;
	e->flags = ctx->args[0];
	e->mode = ctx->args[1];
	file_park(e);
	return 0;
}

SEC("tp/syscalls/sys_exit_symlinkat")
int exit_symlinkat(struct trace_event_raw_sys_exit *ctx) { return file_finish(ctx->ret); }
SEC("tp/syscalls/sys_exit_symlink")
int exit_symlink(struct trace_event_raw_sys_exit *ctx) { return file_finish(ctx->ret); }
SEC("tp/syscalls/sys_exit_ptrace")
int exit_ptrace(struct trace_event_raw_sys_exit *ctx) { return file_finish(ctx->ret); }
SEC("tp/syscalls/sys_exit_socket")
int exit_socket(struct trace_event_raw_sys_exit *ctx) { return file_finish(ctx->ret); }

// ftruncate to zero only (emptying a file; databases resize files all the time): the file is
// named by its descriptor, which user space resolves. dfd = the descriptor, path empty.
SEC("tp/syscalls/sys_enter_ftruncate")
int enter_ftruncate(struct trace_event_raw_sys_enter *ctx)
{
	if (is_self() || !sends(EV_TRUNCATE) || ctx->args[1] != 0)
		return 0;
	struct file_ev *e = file_start(EV_TRUNCATE);
	if (!e)
		return 0;
	e->dfd = ctx->args[0];
	e->flags = 1; // from ftruncate
	file_park(e);
	return 0;
}

SEC("tp/syscalls/sys_exit_ftruncate")
int exit_ftruncate(struct trace_event_raw_sys_exit *ctx) { return file_finish(ctx->ret); }

SEC("tp/syscalls/sys_exit_openat")
int exit_openat(struct trace_event_raw_sys_exit *ctx) { return file_finish(ctx->ret); }
SEC("tp/syscalls/sys_exit_open")
int exit_open(struct trace_event_raw_sys_exit *ctx) { return file_finish(ctx->ret); }
SEC("tp/syscalls/sys_exit_openat2")
int exit_openat2(struct trace_event_raw_sys_exit *ctx) { return file_finish(ctx->ret); }
SEC("tp/syscalls/sys_exit_unlinkat")
int exit_unlinkat(struct trace_event_raw_sys_exit *ctx) { return file_finish(ctx->ret); }
SEC("tp/syscalls/sys_exit_unlink")
int exit_unlink(struct trace_event_raw_sys_exit *ctx) { return file_finish(ctx->ret); }
SEC("tp/syscalls/sys_exit_renameat2")
int exit_renameat2(struct trace_event_raw_sys_exit *ctx) { return file_finish(ctx->ret); }
SEC("tp/syscalls/sys_exit_renameat")
int exit_renameat(struct trace_event_raw_sys_exit *ctx) { return file_finish(ctx->ret); }
SEC("tp/syscalls/sys_exit_rename")
int exit_rename(struct trace_event_raw_sys_exit *ctx) { return file_finish(ctx->ret); }
SEC("tp/syscalls/sys_exit_truncate")
int exit_truncate(struct trace_event_raw_sys_exit *ctx) { return file_finish(ctx->ret); }

SEC("tp/syscalls/sys_enter_connect")
int enter_connect(struct trace_event_raw_sys_enter *ctx)
{
	if (is_self() || !sends(EV_CONNECT))
		return 0;
	__u16 family = 0;
	void *addr = (void *)ctx->args[1];
	bpf_probe_read_user(&family, sizeof(family), addr);
	if (family != AF_INET && family != AF_INET6)
		return 0; // unix sockets (nscd, dbus...) are not network connections
	struct net_ev e = {};
	fill_hdr(&e.h, EV_CONNECT);
	e.family = family;
	e.fd = ctx->args[0];
	if (family == AF_INET) {
		struct sockaddr_in sa = {};
		bpf_probe_read_user(&sa, sizeof(sa), addr);
		e.port = bpf_ntohs(sa.sin_port);
		__builtin_memcpy(e.addr, &sa.sin_addr, 4);
	} else {
		struct sockaddr_in6 sa = {};
		bpf_probe_read_user(&sa, sizeof(sa), addr);
		e.port = bpf_ntohs(sa.sin6_port);
		__builtin_memcpy(e.addr, &sa.sin6_addr, 16);
	}
	__u32 tid = e.h.tid;
	if (bpf_map_update_elem(&pending_net, &tid, &e, BPF_ANY))
		count_drop(DROP_NET);
	return 0;
}

SEC("tp/syscalls/sys_exit_connect")
int exit_connect(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct net_ev *e = bpf_map_lookup_elem(&pending_net, &tid);
	if (!e)
		return 0;
	e->h.ret = ctx->ret;
	if (bpf_ringbuf_output(&events, e, sizeof(*e), wake_flag()))
		count_drop(DROP_NET);
	bpf_map_delete_elem(&pending_net, &tid);
	return 0;
}
