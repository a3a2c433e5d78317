/*
 * llmroutectl_tail.h - follows an append-only log file across rotation by
 * logrotate, both kinds, for `audit --follow`, and remembers how far it
 * got in a state file so a restart resumes there.
 *
 * The position is "consumed up to here": the caller reads whole lines from
 * it (ctl_tail_read) and moves it on (ctl_tail_commit) only once they are
 * delivered, so a crash repeats lines rather than losing them
 * (at-least-once).
 *
 *   rename (the default, `create`): the path names a new file.  The old
 *   one is read to its end and then for ROTATE_GRACE_MS more (a writer
 *   that still holds it, such as a shim that has not reopened yet, may
 *   append); then the new file is read from its start.
 *   copytruncate: the file shrinks below the position, or the bytes just
 *   before the position are no longer the ones read there (it was
 *   truncated and grew back): read again from its start.
 */
#ifndef LLMROUTECTL_TAIL_H
#define LLMROUTECTL_TAIL_H
#include <stddef.h>
#include <sys/types.h>

#define CTL_TAIL_MARK 64 /* bytes before the position kept to see a regrown file */

typedef struct {
	const char *path, *state;
	int fd;                      /* the file being read, -1 none yet */
	dev_t dev;
	ino_t ino;
	off_t off;                   /* consumed (delivered) up to here */
	char mark[CTL_TAIL_MARK];    /* the bytes before off, as read */
	size_t nmark;
	long long renamed_at;        /* ms: when the path was seen naming another file, 0 if not */
	char *buf;                   /* lines read ahead of off */
	size_t cap;
} ctl_tail;

/* Opens `path`, resuming from `state` (created at the first commit) when
 * it names the same file, or the rotated `path`.1 that still has lines
 * past its position.  Returns 0, or -1 with errno (the path may not exist
 * yet: that is not an error, the file is opened when it appears). */
int ctl_tail_open(ctl_tail *t, const char *path, const char *state);

/* Whole lines from the position, at most `max` bytes: sets *data and *len
 * (0 when none yet).  Handles rotation first; `events` gets a short
 * description of a rotation seen ("" if none, at most 128 bytes). */
int ctl_tail_read(ctl_tail *t, const char **data, size_t *len, size_t max, char *events);

/* Marks `len` bytes from the position (returned by the last read) as
 * delivered and saves the state (write to a temporary file, fsync,
 * rename).  Returns 0, or -1 with errno (the position moves anyway). */
int ctl_tail_commit(ctl_tail *t, size_t len);

void ctl_tail_close(ctl_tail *t);

#endif
