/*
 * lr_upstream_fd.c - the descriptors of the shim's own upstream client,
 * kept safe from the app it lives in (see lr_upstream.h for the rules the
 * socket hooks follow, lr_upstream_fd.h for the client's side).
 *
 * A table holds the kind of every number below OWN_MAX: ours (the wake-up
 * eventfd, libcurl's sockets, libcurl's socketpair ends, a placeholder),
 * or stolen (libcurl still names it, but the app dup2'ed its own file onto
 * it).  Numbers at or above OWN_MAX are never handed to libcurl.
 *
 * One rwlock orders the table and the descriptor numbers themselves: the
 * app's close, close_range, closefrom and dup2 hold it shared across the
 * real call; the client holds it exclusively while it makes, moves or
 * closes a descriptor.  So a number never changes hands between a check
 * and the call it guards (a close loop cannot close a socket made an
 * instant after it looked).  The client never calls a hooked close or dup
 * while it holds the lock: it uses raw system calls.
 *
 * Stolen numbers: libcurl's number for a connection cannot be changed, so
 * when the app dup2's onto it the number is marked stolen, after any send
 * or recv of the client's thread on it has returned (io_fd, a Dekker-style
 * handshake: both sides store, then load the other's flag).  From then on
 * the client's send and recv on it fail with EBADF.  If the app closes its
 * file and socket() later hands us that number back while libcurl still
 * names the old connection, it is kept as a placeholder (never given to
 * libcurl) until libcurl closes the old connection, so two of libcurl's
 * connections never share a number.  Not covered: the resolver thread's
 * one-byte notification on a socketpair end the app dup2'ed over (it is
 * not the client's thread; a dup2 onto that number within the few
 * milliseconds of a name lookup).
 */
#include "lr_upstream.h"
#include "lr_upstream_fd.h"
#include "lr_log.h"
#include "lr_shim.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <netinet/in.h>
#include <unistd.h>

#define OWN_MAX 65536
#define FLOOR 256

enum { K_NONE, K_WAKE, K_SOCK, K_PAIR, K_HELD, K_STOLEN };

_Atomic int lr_up_watch;
__thread int lr_upfd_adopting __attribute__((tls_model("initial-exec")));

static _Atomic(unsigned char) *own;   /* OWN_MAX kinds, made once */
static _Atomic int top;               /* 1 + the highest number ever recorded */
static pthread_rwlock_t lk = PTHREAD_RWLOCK_INITIALIZER;
static _Atomic int io_fd = -1;        /* the client's send/recv in progress on one of ours */
static _Atomic int wake = -1;
static _Atomic int moved;
static int floor_fd = FLOOR;
static uintptr_t curl_lo, curl_hi;    /* libcurl's mapped code */
static int (*real_socketpair)(int, int, int, int *);

/* The connections of stolen sockets, for the client to fail the requests
 * on them (a transfer only waiting for its answer would otherwise wait on
 * the app's file for ever): a ring of (local port << 16 | peer port). */
#define NSTOLEN 16
static _Atomic unsigned stolen_n;
static _Atomic unsigned long stolen_key[NSTOLEN];

static void resolve(void)
{
	void *p = dlsym(RTLD_NEXT, "socketpair");

	__builtin_memcpy(&real_socketpair, &p, sizeof(p));
}

__attribute__((constructor)) static void upfd_init(void)
{
	resolve();
}

static int kind(int fd)
{
	return (unsigned)fd < OWN_MAX && own ? atomic_load(&own[fd]) : K_NONE;
}

static int is_ours(int k)
{
	return k == K_WAKE || k == K_SOCK || k == K_PAIR || k == K_HELD;
}

static void set_kind(int fd, int k)
{
	atomic_store(&own[fd], (unsigned char)k);
	if (k != K_NONE && fd >= atomic_load(&top))
		atomic_store(&top, fd + 1);
}

static long raw_close(int fd)
{
	return syscall(SYS_close, fd);
}

int lr_up_owns_fd(int fd)
{
	return lr_up_watching() && is_ours(kind(fd));
}

/* --- the client's side -------------------------------------------------------- */

/* Records fd, just made by the client with close-on-exec, as `k`, after
 * moving it to the floor or above (and off a number libcurl still names).
 * Returns the number to use, or -1 (fd closed).  lk held exclusively. */
static int adopt_locked(int fd, int k)
{
	int nfd, tries = 0;

	while (fd >= 0 && (fd < floor_fd || fd >= OWN_MAX || kind(fd) == K_STOLEN)) {
		nfd = ++tries > 64 ? -1 : (int)syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, floor_fd);
		if (kind(fd) == K_STOLEN) {
			set_kind(fd, K_HELD); /* keep the number from libcurl's next socket */
		} else if (nfd < 0 && fd < OWN_MAX) {
			break; /* no number above the floor: stay low */
		} else {
			raw_close(fd);
			if (fd >= OWN_MAX && nfd >= OWN_MAX) { /* nothing free below OWN_MAX */
				raw_close(nfd);
				nfd = -1;
			}
		}
		fd = nfd;
	}
	if (fd >= 0)
		set_kind(fd, k);
	return fd;
}

struct range_arg {
	uintptr_t base;
};

static int find_curl(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct range_arg *a = arg;
	uintptr_t lo = UINTPTR_MAX, hi = 0, p;
	int i;

	(void)size;
	for (i = 0; i < info->dlpi_phnum; i++) {
		if (info->dlpi_phdr[i].p_type != PT_LOAD)
			continue;
		p = info->dlpi_addr + info->dlpi_phdr[i].p_vaddr;
		lo = p < lo ? p : lo;
		hi = p + info->dlpi_phdr[i].p_memsz > hi ? p + info->dlpi_phdr[i].p_memsz : hi;
	}
	if (a->base < lo || a->base >= hi)
		return 0;
	curl_lo = lo;
	curl_hi = hi;
	return 1;
}

/* The table and the floor, once (any thread). */
static int table_init(void)
{
	static pthread_mutex_t once = PTHREAD_MUTEX_INITIALIZER;
	struct rlimit rl;

	int ok;

	pthread_mutex_lock(&once);
	if (!own) {
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < 4 * FLOOR)
			floor_fd = (int)(rl.rlim_cur / 4);
		own = calloc(OWN_MAX, sizeof(*own));
	}
	ok = own != NULL;
	pthread_mutex_unlock(&once);
	return ok ? 0 : -1;
}

int lr_upfd_adopt(int fd)
{
	if (fd < 0 || table_init() < 0)
		return fd; /* no table: the descriptor stays where it is, unguarded */
	atomic_store(&lr_up_watch, 1);
	pthread_rwlock_wrlock(&lk);
	fd = adopt_locked(fd, K_PAIR);
	pthread_rwlock_unlock(&lk);
	return fd;
}

void lr_upfd_release(int fd)
{
	int k;

	if (fd < 0)
		return;
	pthread_rwlock_wrlock(&lk);
	k = kind(fd);
	if (k != K_STOLEN) /* a stolen number is the app's file now: only forgotten */
		raw_close(fd);
	if (k != K_NONE)
		set_kind(fd, K_NONE);
	pthread_rwlock_unlock(&lk);
}

int lr_upfd_init(const void *curl_base)
{
	struct range_arg a = {(uintptr_t)curl_base};
	int fd;

	if (table_init() < 0)
		return -1;
	if (curl_base)
		dl_iterate_phdr(find_curl, &a);
	atomic_store(&lr_up_watch, 1);
	pthread_rwlock_wrlock(&lk);
	fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	atomic_store(&wake, fd >= 0 ? adopt_locked(fd, K_WAKE) : -1);
	pthread_rwlock_unlock(&lk);
	if (atomic_load(&wake) < 0)
		lr_log(LR_LOG_DEBUG, "upstream client: no wake-up descriptor, polling every 10 ms");
	return 0;
}

int lr_upfd_socket(int family, int type, int protocol)
{
	int fd, e;

	pthread_rwlock_wrlock(&lk);
	fd = socket(family, type | SOCK_CLOEXEC, protocol);
	e = errno;
	if (fd >= 0 && (fd = adopt_locked(fd, K_SOCK)) < 0)
		e = EMFILE;
	pthread_rwlock_unlock(&lk);
	errno = e;
	return fd;
}

void lr_upfd_close_socket(int fd)
{
	int k;

	pthread_rwlock_wrlock(&lk);
	k = kind(fd);
	if (is_ours(k))
		raw_close(fd);
	if (k != K_NONE)
		set_kind(fd, K_NONE); /* a stolen number is the app's file: only forgotten */
	pthread_rwlock_unlock(&lk);
}

/* libcurl's socketpairs (the threaded resolver's, the multi handle's own
 * wake-up pair), made on the client's thread inside a libcurl call. */
static int adopt_pair(int domain, int type, int protocol, int sv[2])
{
	int r, e;

	pthread_rwlock_wrlock(&lk);
	r = real_socketpair(domain, type | SOCK_CLOEXEC, protocol, sv);
	e = errno;
	if (r == 0) {
		sv[0] = adopt_locked(sv[0], K_PAIR);
		sv[1] = adopt_locked(sv[1], K_PAIR);
		if (sv[0] < 0 || sv[1] < 0) {
			for (int i = 0; i < 2; i++)
				if (sv[i] >= 0) {
					raw_close(sv[i]);
					set_kind(sv[i], K_NONE);
				}
			r = -1;
			e = EMFILE;
		}
	}
	pthread_rwlock_unlock(&lk);
	errno = e;
	return r;
}

LR_EXPORT int socketpair(int domain, int type, int protocol, int sv[2])
{
	if (!real_socketpair)
		resolve();
	if (!real_socketpair) {
		errno = ENOSYS;
		return -1;
	}
	if (__builtin_expect(lr_upfd_adopting, 0))
		return adopt_pair(domain, type, protocol, sv);
	return real_socketpair(domain, type, protocol, sv);
}

void lr_upfd_wake(void)
{
	uint64_t one = 1;
	int fd, e = errno;

	pthread_rwlock_rdlock(&lk);
	if ((fd = atomic_load(&wake)) >= 0)
		(void)syscall(SYS_write, fd, &one, sizeof(one));
	pthread_rwlock_unlock(&lk);
	errno = e;
}

int lr_upfd_wake_fd(void)
{
	return atomic_load(&wake);
}

void lr_upfd_drained(void)
{
	uint64_t v;
	int fd;

	pthread_rwlock_rdlock(&lk);
	if ((fd = atomic_load(&wake)) >= 0)
		(void)syscall(SYS_read, fd, &v, sizeof(v));
	pthread_rwlock_unlock(&lk);
}

int lr_upfd_moved(void)
{
	return atomic_load_explicit(&moved, memory_order_relaxed);
}

void lr_upfd_child(void)
{
	int fd, n = atomic_load(&top);

	for (fd = 0; own && fd < n; fd++) {
		if (is_ours(atomic_load(&own[fd])))
			raw_close(fd);
		atomic_store(&own[fd], K_NONE);
	}
	atomic_store(&top, 0);
	atomic_store(&wake, -1);
	atomic_store(&io_fd, -1);
	atomic_store(&moved, 0);
	atomic_store(&stolen_n, 0);
	atomic_store(&lr_up_watch, 0);
	pthread_rwlock_init(&lk, NULL); /* an app thread of the parent may have held it */
}

/* --- the hooks' side ------------------------------------------------------------ */

static int from_curl(const void *caller)
{
	return (uintptr_t)caller >= curl_lo && (uintptr_t)caller < curl_hi;
}

int lr_up_close(int fd, const void *caller, int (*real)(int))
{
	int r, e, k;

	if ((unsigned)fd >= OWN_MAX)
		return real(fd);
	pthread_rwlock_rdlock(&lk);
	if (!is_ours(kind(fd))) {
		r = real(fd);
		e = errno;
		pthread_rwlock_unlock(&lk);
		errno = e;
		return r;
	}
	pthread_rwlock_unlock(&lk);
	if (!lr_up_self && !from_curl(caller))
		return 0; /* the app's close of one of ours: it stays open */
	/* libcurl closing a socketpair it made (its resolver's) */
	pthread_rwlock_wrlock(&lk);
	k = kind(fd);
	if (is_ours(k)) {
		r = (int)raw_close(fd);
		set_kind(fd, K_NONE);
	} else {
		r = real(fd);
	}
	e = errno;
	pthread_rwlock_unlock(&lk);
	errno = e;
	return r;
}

/* Closes [a, b]; returns 0 or -1 with errno. */
static int close_piece(unsigned a, unsigned b, int flags, int (*range)(unsigned, unsigned, int),
		       void (*from)(int))
{
	long max;
	unsigned fd;

	if (a > b)
		return 0;
	if (range && range(a, b, flags) == 0)
		return 0;
	if (range && errno != ENOSYS)
		return -1;
	if (b == ~0u && from && a <= INT32_MAX) {
		from((int)a);
		return 0;
	}
	max = sysconf(_SC_OPEN_MAX);
	if (max > 0 && b >= (unsigned long)max)
		b = (unsigned)max - 1;
	for (fd = a; fd <= b && fd < ~0u; fd++)
		raw_close((int)fd);
	return 0;
}

int lr_up_close_range(unsigned first, unsigned last, int flags, int (*range)(unsigned, unsigned, int),
		      void (*from)(int))
{
	unsigned fd, a = first, end;
	int rc = 0, err = 0;

	if (first > last) { /* the real call's error */
		if (range)
			return range(first, last, flags);
		errno = EINVAL;
		return -1;
	}
	pthread_rwlock_rdlock(&lk);
	end = (unsigned)atomic_load(&top);
	for (fd = first; fd < end && fd <= last; fd++) {
		if (!is_ours(kind((int)fd)))
			continue;
		if (fd > a && close_piece(a, fd - 1, flags, range, NULL) < 0 && !rc) {
			rc = -1;
			err = errno;
		}
		a = fd + 1;
	}
	if (a <= last && close_piece(a, last, flags, range, from) < 0 && !rc) {
		rc = -1;
		err = errno;
	}
	pthread_rwlock_unlock(&lk);
	if (rc)
		errno = err;
	return rc;
}

static int port_of(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return 0;
}

/* A TCP socket of libcurl's is taken: remember its connection, wake the
 * client up.  lk held exclusively. */
static void note_stolen_locked(int fd)
{
	struct sockaddr_storage a, b;
	socklen_t la = sizeof(a), lb = sizeof(b);
	uint64_t one = 1;
	unsigned i;
	int w;

	if (getsockname(fd, (struct sockaddr *)&a, &la) < 0 || getpeername(fd, (struct sockaddr *)&b, &lb) < 0 ||
	    !port_of(&a))
		return;
	i = atomic_load(&stolen_n);
	atomic_store(&stolen_key[i % NSTOLEN], ((unsigned long)port_of(&a) << 16) | (unsigned)port_of(&b));
	atomic_store(&stolen_n, i + 1);
	if ((w = atomic_load(&wake)) >= 0)
		(void)syscall(SYS_write, w, &one, sizeof(one));
}

unsigned lr_upfd_stolen(unsigned seen, unsigned long *keys, int *n)
{
	unsigned now = atomic_load(&stolen_n), i;

	*n = 0;
	if (now - seen > NSTOLEN)
		seen = now - NSTOLEN;
	for (i = seen; i != now; i++)
		keys[(*n)++] = atomic_load(&stolen_key[i % NSTOLEN]);
	return now;
}

/* The app is about to dup2 onto our wake-up descriptor: it moves first.
 * lk held exclusively. */
static void move_wake_locked(int fd)
{
	uint64_t one = 1;
	int nfd = (int)syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, floor_fd);

	set_kind(fd, K_NONE);
	nfd = nfd >= 0 ? adopt_locked(nfd, K_WAKE) : -1;
	atomic_store(&wake, nfd);
	atomic_store(&moved, 1);
	if (nfd >= 0)
		(void)syscall(SYS_write, nfd, &one, sizeof(one)); /* look again */
	lr_log(LR_LOG_DEBUG, "upstream client: the app dup2'ed onto descriptor %d, the wake-up moved to %d",
	       fd, nfd);
}

int lr_up_dup_begin(int fd)
{
	int k;

	if ((unsigned)fd >= OWN_MAX)
		return 0;
	pthread_rwlock_rdlock(&lk);
	if (!is_ours(kind(fd)))
		return 1;
	pthread_rwlock_unlock(&lk);
	pthread_rwlock_wrlock(&lk);
	k = kind(fd);
	if (k == K_WAKE) {
		move_wake_locked(fd);
	} else if (is_ours(k)) {
		if (k == K_SOCK)
			note_stolen_locked(fd);
		set_kind(fd, K_STOLEN);
		while (atomic_load(&io_fd) == fd)
			sched_yield(); /* a non-blocking send or recv: returns at once */
		lr_log(LR_LOG_DEBUG, "upstream client: the app dup2'ed onto libcurl's descriptor %d", fd);
	}
	return 2;
}

void lr_up_dup_end(int token)
{
	if (token)
		pthread_rwlock_unlock(&lk);
}

/* On the client's thread: is fd usable for libcurl's I/O?  Raises io_fd
 * first (see the top of the file); the caller lowers it. */
static int io_begin(int fd)
{
	atomic_store(&io_fd, fd);
	if (atomic_load(&own[fd]) == K_SOCK || atomic_load(&own[fd]) == K_PAIR)
		return 1;
	atomic_store(&io_fd, -1);
	errno = EBADF;
	return 0;
}

ssize_t lr_up_send(int fd, const void *buf, size_t n, int flags,
		   ssize_t (*real)(int, const void *, size_t, int))
{
	ssize_t r;
	int e;

	if (kind(fd) == K_NONE)
		return real(fd, buf, n, flags);
	if (!io_begin(fd))
		return -1;
	r = real(fd, buf, n, flags);
	e = errno;
	atomic_store_explicit(&io_fd, -1, memory_order_release);
	errno = e;
	return r;
}

ssize_t lr_up_recv(int fd, void *buf, size_t n, int flags, ssize_t (*real)(int, void *, size_t, int))
{
	ssize_t r;
	int e;

	if (kind(fd) == K_NONE)
		return real(fd, buf, n, flags);
	if (!io_begin(fd))
		return -1;
	r = real(fd, buf, n, flags);
	e = errno;
	atomic_store_explicit(&io_fd, -1, memory_order_release);
	errno = e;
	return r;
}
