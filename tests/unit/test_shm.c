/*
 * test_shm.c - the shared-memory table: atomic publishing, trust, damage.
 *
 * Concurrency: one writer publishes 1,000 tables while 4 reader processes
 * snapshot in a loop.  Every table is built so that a torn or mixed copy
 * shows: route count and every route name carry the same generation tag.
 * Trust: a segment with mode 0666, or owned by another uid, is refused.
 * Damage: a foreign header and a flipped byte are reported, not used.
 * Writers: a file with a second name (a hard link someone planted), an
 * empty or foreign one, or a FIFO is refused before its mode or size is
 * touched; creation leaves no temporary behind and sweeps dead ones.
 */
#include "lr_test.h"
#include "lr_error.h"
#include "lr_rules.h"
#include "lr_shm.h"
#include "lr_table.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PUBLISHES 1000
#define READERS 4

static char name[64];

#define PAD 8000

/* A table whose k routes are all named "gG-i" and described by PAD copies
 * of one upper-case letter: self-describing, and large enough (up to 56 KB)
 * that a copy overlapping a publish would be caught. */
static void *make_table(int g, size_t *len)
{
	static char text[7 * (PAD + 200) + 64], pad[PAD + 1];
	size_t n = 0;
	int i, k = g % 7 + 1;
	lr_rules_error e;
	void *blob = NULL;

	memset(pad, 'A' + g % 26, PAD);
	pad[PAD] = '\0';
	n += (size_t)snprintf(text + n, sizeof(text) - n, "{\"routes\": [");
	for (i = 0; i < k; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
				      "%s{\"name\": \"g%d-%d\", \"description\": \"%s\", \"match\": {\"model\": \"m%d\"}, \"set\": {\"model\": \"x%d\"}}",
				      i ? "," : "", g, i, pad, g, g);
	snprintf(text + n, sizeof(text) - n, "]}");
	if (lr_rules_compile(text, strlen(text), &blob, len, &e) < 0) {
		fprintf(stderr, "compile: %s\n", e.msg);
		exit(2);
	}
	return blob;
}

/* The stored rules hold exactly k * PAD upper-case letters, all `want`. */
static int source_consistent(const char *src, int want, uint32_t k)
{
	size_t n = 0;

	for (; *src; src++) {
		if (*src >= 'A' && *src <= 'Z') {
			if (*src != want)
				return 0;
			n++;
		}
	}
	return n == (size_t)k * PAD;
}

/* 0 if the table is whole and consistent, else 1. */
static int consistent(const lr_table *t)
{
	int g = -1, g2, i2;
	uint32_t i;

	if (t->nroutes == 0)
		return 1;
	for (i = 0; i < t->nroutes; i++) {
		if (sscanf(lr_table_str(t, lr_table_routes(t)[i].name), "g%d-%d", &g2, &i2) != 2 ||
		    (uint32_t)i2 != i || (g >= 0 && g2 != g))
			return 1;
		g = g2;
	}
	if (t->nroutes != (uint32_t)(g % 7 + 1))
		return 1;
	return !source_consistent(lr_table_str(t, t->source), 'A' + g % 26, t->nroutes);
}

static int reader(void)
{
	lr_shm s;
	long snaps = 0, torn = 0, busy = 0;
	uint64_t last = 0, gen;

	if (lr_shm_attach(name, &s, NULL) < 0)
		return 3;
	while (last < PUBLISHES) {
		void *blob;
		size_t len;
		int rc = lr_shm_snapshot(&s, &blob, &len, &gen);
		if (rc == LR_EBUSY) {
			busy++;
			continue;
		}
		if (rc < 0 || !blob || lr_table_validate(blob, len) < 0 || consistent(blob)) {
			torn++;
		} else {
			snaps++;
			if (gen < last)
				torn++; /* generations never go back */
			last = gen;
		}
		free(blob);
	}
	fprintf(stderr, "reader %d: %ld snapshots, %ld retries, %ld torn\n", (int)getpid(), snaps, busy, torn);
	lr_shm_close(&s);
	return torn ? 1 : 0;
}

static void test_concurrency(void)
{
	lr_shm w;
	pid_t kids[READERS];
	size_t len;
	uint64_t gen = 0;
	void *blob;
	int i, status;

	CHECK(lr_shm_open_writer(name, &w, 0, NULL) == 0);
	blob = make_table(0, &len);
	CHECK(lr_shm_publish(&w, blob, len, &gen) == 0);
	free(blob);
	for (i = 0; i < READERS; i++) {
		kids[i] = fork();
		if (kids[i] == 0)
			_exit(reader());
	}
	for (i = 1; i < PUBLISHES; i++) {
		blob = make_table(i, &len);
		CHECK(lr_shm_publish(&w, blob, len, &gen) == 0);
		free(blob);
	}
	CHECK_INT(gen, PUBLISHES);
	for (i = 0; i < READERS; i++) {
		CHECK(waitpid(kids[i], &status, 0) == kids[i]);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	lr_shm_close(&w);
}

static int shm_fd(int flags)
{
	return shm_open(name, flags, 0);
}

static void test_trust(void)
{
	lr_shm s;
	const char *why = NULL;
	int fd = shm_fd(O_RDWR);

	CHECK(fd >= 0);
	CHECK(lr_shm_attach(name, &s, &why) == 0);
	lr_shm_close(&s);
	CHECK(fchmod(fd, 0666) == 0);
	CHECK_INT(lr_shm_attach(name, &s, &why), LR_EUNTRUSTED);
	CHECK_STR(why, "writable by group or others");
	CHECK(fchmod(fd, 0664) == 0);
	CHECK_INT(lr_shm_attach(name, &s, &why), LR_EUNTRUSTED);
	CHECK(fchmod(fd, 0644) == 0);
	if (geteuid() == 0) {
		CHECK(fchown(fd, 12345, 12345) == 0);
		CHECK_INT(lr_shm_attach(name, &s, &why), LR_EUNTRUSTED);
		CHECK_STR(why, "owned by another user");
		/* and no writer of ours takes it over either */
		CHECK_INT(lr_shm_open_writer(name, &s, 0, &why), LR_EUNTRUSTED);
		CHECK(fchown(fd, 0, 0) == 0);
	} else {
		fprintf(stderr, "test_shm: not root: the other-owner case needs root and is not run\n");
	}
	CHECK(lr_shm_attach(name, &s, &why) == 0);
	lr_shm_close(&s);
	close(fd);
}

static void test_damage(void)
{
	int fd = shm_fd(O_RDWR);
	lr_shm_hdr *h = mmap(NULL, sizeof(*h), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	char *data;
	lr_shm s, w;
	void *blob;
	size_t len;
	uint64_t gen;

	CHECK(h != MAP_FAILED);
	/* a flipped byte in the active slot */
	data = mmap(NULL, sizeof(*h) + 2 * (size_t)LR_SHM_SLOT_CAP, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(data != MAP_FAILED);
	data[h->hdr_size + (size_t)(h->active & 1) * h->slot_cap + 16] ^= 0x55;
	CHECK(lr_shm_attach(name, &s, NULL) == 0);
	CHECK_INT(lr_shm_snapshot(&s, &blob, &len, &gen), LR_ECORRUPT);
	lr_shm_close(&s);
	/* a foreign magic: readers and writers refuse it; --force rebuilds */
	memcpy(h->magic, "NOTOURS!", 8);
	CHECK_INT(lr_shm_attach(name, &s, NULL), LR_EVERSION);
	CHECK_INT(lr_shm_open_writer(name, &w, 0, NULL), LR_EVERSION);
	h->magic[0] = 'L';
	memcpy(h->magic, LR_SHM_MAGIC, 8);
	h->layout = 99;
	CHECK_INT(lr_shm_attach(name, &s, NULL), LR_EVERSION);
	CHECK(lr_shm_open_writer(name, &w, 1, NULL) == 0);
	lr_shm_close(&w);
	CHECK(lr_shm_attach(name, &s, NULL) == 0);
	CHECK(lr_shm_snapshot(&s, &blob, &len, &gen) == 0 && blob == NULL && gen == 0);
	lr_shm_close(&s);
	munmap(data, sizeof(*h) + 2 * (size_t)LR_SHM_SLOT_CAP);
	munmap(h, sizeof(*h));
	close(fd);
}

/* A file of someone else's, "victim", size n and mode 0666. */
static int make_victim(const char *vname, size_t n)
{
	int fd = shm_open(vname, O_RDWR | O_CREAT | O_EXCL, 0666);

	if (fd < 0)
		return -1;
	if (fchmod(fd, 0666) < 0 || ftruncate(fd, (off_t)n) < 0 || (n && pwrite(fd, "victim", 6, 0) != 6)) {
		close(fd);
		return -1;
	}
	return fd;
}

static int victim_intact(int fd, size_t n)
{
	struct stat st;
	char buf[6] = "";

	return fstat(fd, &st) == 0 && (st.st_mode & 0777) == 0666 && (size_t)st.st_size == n &&
	       (!n || (pread(fd, buf, 6, 0) == 6 && memcmp(buf, "victim", 6) == 0));
}

static void test_writer_refuses(void)
{
	char vname[80], tname[80], a[120], b[120];
	const char *why = NULL;
	lr_shm w, s;
	int fd, sizes[2] = {0, 64}, i;

	snprintf(vname, sizeof(vname), "%s.victim", name);
	snprintf(tname, sizeof(tname), "%s.t2", name);
	snprintf(a, sizeof(a), "/dev/shm%s", vname);
	snprintf(b, sizeof(b), "/dev/shm%s", tname);
	for (i = 0; i < 2; i++) {
		size_t n = (size_t)sizes[i];
		fd = make_victim(vname, n);
		CHECK(fd >= 0);
		/* linked under a table name: refused, untouched */
		CHECK_INT(link(a, b), 0);
		CHECK_INT(lr_shm_open_writer(tname, &w, 0, &why), LR_EUNTRUSTED);
		CHECK(why && strstr(why, "hard link"));
		CHECK(victim_intact(fd, n));
		unlink(b);
		/* under the name alone (one link): not a table, still untouched */
		CHECK_INT(rename(a, b), 0);
		CHECK_INT(lr_shm_open_writer(tname, &w, 0, &why), LR_EVERSION);
		CHECK(victim_intact(fd, n));
		unlink(b);
		close(fd);
	}
	/* a FIFO: refused at once, nobody hangs */
	CHECK_INT(mkfifo(b, 0644), 0);
	CHECK_INT(lr_shm_attach(tname, &s, &why), LR_EUNTRUSTED);
	CHECK_INT(lr_shm_open_writer(tname, &w, 0, &why), LR_EUNTRUSTED);
	unlink(b);
}

static int temps_of(const char *n)
{
	char prefix[80];
	DIR *d = opendir("/dev/shm");
	struct dirent *e;
	int count = 0;

	snprintf(prefix, sizeof(prefix), "%s.new.", n + 1);
	while (d && (e = readdir(d)) != NULL)
		count += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
	if (d)
		closedir(d);
	return count;
}

static void test_create_atomic(void)
{
	char tname[80], stale[120];
	lr_shm w;
	pid_t dead = fork();
	int fd;

	if (dead == 0)
		_exit(0);
	waitpid(dead, NULL, 0);
	snprintf(tname, sizeof(tname), "%s.fresh", name);
	/* what a creator killed before its rename leaves: swept, never used */
	snprintf(stale, sizeof(stale), "%s.new.%d.0", tname, (int)dead);
	fd = shm_open(stale, O_RDWR | O_CREAT | O_EXCL, 0644);
	CHECK(fd >= 0);
	close(fd);
	CHECK_INT(temps_of(tname), 1);
	CHECK(lr_shm_open_writer(tname, &w, 0, NULL) == 0);
	lr_shm_close(&w);
	CHECK_INT(temps_of(tname), 0);
	fd = shm_open(tname, O_RDONLY, 0);
	{
		struct stat st;
		CHECK(fd >= 0 && fstat(fd, &st) == 0 && st.st_nlink == 1 && (st.st_mode & 0777) == 0644);
	}
	close(fd);
	shm_unlink(tname);
}

int main(void)
{
	snprintf(name, sizeof(name), "/lrtest-shm-%d", (int)getpid());
	shm_unlink(name);
	test_concurrency();
	test_trust();
	test_damage();
	test_writer_refuses();
	test_create_atomic();
	shm_unlink(name);
	return lr_test_done("test_shm");
}
