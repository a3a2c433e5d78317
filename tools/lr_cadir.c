/*
 * lr_cadir.c - the local CA's directory: its path, and whether it is fit
 * to hold a private key (see lr_cadir.h).
 *
 * The path rule is part of the contract with the shim (docs/ca.md): any
 * change here must be made there too.  The launcher is not setuid, and
 * llmroutectl is run by the user it acts for, so plain getenv is right.
 */
#include "lr_cadir.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fits(int n, size_t cap)
{
	return n > 0 && (size_t)n < cap ? 0 : -1;
}

int lr_cadir_path(char *out, size_t cap)
{
	const char *env = getenv("LLMROUTE_CA_DIR");
	const char *xdg = getenv("XDG_DATA_HOME");
	const char *home = getenv("HOME");

	if (env && *env)
		return fits(snprintf(out, cap, "%s", env), cap);
	if (geteuid() == 0)
		return fits(snprintf(out, cap, "/etc/llmroute/ca"), cap);
	/* ${XDG_DATA_HOME:-$HOME/.local/share}, exactly as the shim reads it
	 * (shim/lr_claim.c), so the two never name different directories */
	if (xdg && *xdg)
		return fits(snprintf(out, cap, "%s/llmroute/ca", xdg), cap);
	if (!home || !*home)
		return -1;
	return fits(snprintf(out, cap, "%s/.local/share/llmroute/ca", home), cap);
}

/* A parent others can write to, without the sticky bit, lets them swap our
 * directory for one of theirs between two of our calls. */
static int parent_unsafe(const char *dir)
{
	char parent[PATH_MAX], *slash;
	struct stat st;

	if (fits(snprintf(parent, sizeof(parent), "%s", dir), sizeof(parent)) < 0)
		return 1;
	while ((slash = strrchr(parent, '/')) && slash[1] == '\0' && slash != parent)
		*slash = '\0'; /* trailing slashes */
	slash = strrchr(parent, '/');
	if (!slash)
		snprintf(parent, sizeof(parent), ".");
	else if (slash == parent)
		parent[1] = '\0';
	else
		*slash = '\0';
	if (stat(parent, &st) < 0)
		return errno != ENOENT; /* a missing parent is made by `ca init` */
	return (st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX);
}

int lr_cadir_check(const char *dir, int any_owner, const char **why)
{
	struct stat st;

	/* first: a directory that is not there yet is refused before it is made */
	if (parent_unsafe(dir)) {
		*why = "its parent directory is writable by others (and not sticky)";
		return -2;
	}
	if (stat(dir, &st) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		*why = "not a directory";
		return -2;
	}
	if (!any_owner && st.st_uid != geteuid()) {
		*why = "owned by another user";
		return -2;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		*why = "writable by group or others";
		return -2;
	}
	return 0;
}

int lr_cadir_file(const char *dir, const char *name, unsigned *mode)
{
	char path[PATH_MAX];
	struct stat st;

	if (fits(snprintf(path, sizeof(path), "%s/%s", dir, name), sizeof(path)) < 0)
		return 0;
	if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	if (mode)
		*mode = st.st_mode & 07777;
	return 1;
}

int lr_cadir_key_check(const char *dir, const char **why)
{
	char path[PATH_MAX];
	struct stat st;

	if (fits(snprintf(path, sizeof(path), "%s/" LR_CA_KEY, dir), sizeof(path)) < 0 ||
	    lstat(path, &st) < 0)
		return -1;
	if (!S_ISREG(st.st_mode)) {
		*why = LR_CA_KEY " is not a regular file";
		return -2;
	}
	if (st.st_uid != geteuid()) {
		*why = LR_CA_KEY " is owned by another user";
		return -2;
	}
	if (st.st_mode & 077) {
		*why = LR_CA_KEY " may be read or written by others than its owner (chmod 600 it)";
		return -2;
	}
	return 0;
}
