/*
 * lr_upstream_fd.h - the client's descriptor table, between lr_upstream.c
 * (the client) and lr_upstream_fd.c (the table and the hook side, whose
 * public half is in lr_upstream.h).  Everything here runs on the client's
 * thread unless it says otherwise.
 */
#ifndef LR_UPSTREAM_FD_H
#define LR_UPSTREAM_FD_H

/* 1 while the client's thread is inside a libcurl call (and not inside one
 * of the sink's callbacks): socketpairs made then are libcurl's, ours. */
extern __thread int lr_upfd_adopting __attribute__((tls_model("initial-exec")));

/* The table, the floor and the wake-up eventfd; lr_up_watching() is 1 from
 * here on.  curl_base: libcurl's load address (its code may close the
 * socketpairs it made).  0, or -1 (no memory; nothing changed). */
int lr_upfd_init(const void *curl_base);

/* A socket for libcurl (CURLOPT_OPENSOCKETFUNCTION): close-on-exec,
 * recorded, above the floor.  The descriptor, or -1 with errno. */
int lr_upfd_socket(int family, int type, int protocol);

/* libcurl closes a socket of ours (CURLOPT_CLOSESOCKETFUNCTION): closed and
 * forgotten, or only forgotten if the app took the number. */
void lr_upfd_close_socket(int fd);

/* Any thread: wake the client's thread up from its wait. */
void lr_upfd_wake(void);

/* The wake-up descriptor to wait on (it may move: read it before each
 * wait), or -1; and emptying it after the wait said it was readable. */
int lr_upfd_wake_fd(void);
void lr_upfd_drained(void);

/* 1 once the wake-up descriptor had to move (an app dup2'ed onto it): a
 * wait already in progress may then miss one wake-up, so waits are capped. */
int lr_upfd_moved(void);

/* The connections whose sockets the app took since `seen` (at most 16,
 * each local port << 16 | peer port) into keys, their number into *n;
 * returns the new `seen`. */
#define LR_UPFD_NSTOLEN 16
unsigned lr_upfd_stolen(unsigned seen, unsigned long *keys, int *n);

/* In a forked child (one thread): closes what the parent's client owned,
 * forgets it, and stops watching.  Async-signal-safe. */
void lr_upfd_child(void);

#endif
