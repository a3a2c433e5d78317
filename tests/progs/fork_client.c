/*
 * fork_client.c - fork() without exec in a threaded libcurl program, and a
 * daemon-style descriptor sweep, run under the shim by tests/t_fork.sh.
 *
 *   fork_client fork URL THREADS CHILDREN
 *     THREADS threads loop on POSTs to URL (each on its own handle) while
 *     the main thread forks CHILDREN children, one at a time; each child
 *     makes one POST on a new handle and _exits 0 if it got HTTP 200.  A
 *     child not done within 10 s is counted as hung and killed.  Prints
 *     "children N hung H failed F"; exit status 0 if H and F are 0.
 *
 *   fork_client sweep URL FILE GO
 *     closefrom(3) as daemons do, then opens FILE twice (which gets the
 *     lowest free descriptors, so those the shim had; mode 0664), writes
 *     "app\n" to it, makes
 *     two POSTs to URL, then waits for the file GO to appear (the test
 *     publishes a new table meanwhile) and makes one more.  Prints each
 *     answer's HTTP status ("status 200"), or minus libcurl's error
 *     ("status -9": denied by the shim).
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char body[] = "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
static const char *url;
static atomic_int stop;

static size_t sink(char *p, size_t size, size_t n, void *ud)
{
	(void)p;
	(void)ud;
	return size * n;
}

/* One POST on h; returns the HTTP status, or minus libcurl's error code
 * (-9, CURLE_REMOTE_ACCESS_DENIED: the shim denied it). */
static long post(CURL *h)
{
	long status = 0;
	CURLcode rc;

	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 5L);
	rc = curl_easy_perform(h);
	if (rc != CURLE_OK)
		return -(long)rc;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	return status;
}

static void *loop(void *arg)
{
	CURL *h = arg;

	while (h && !atomic_load(&stop))
		post(h);
	curl_easy_cleanup(h);
	return NULL;
}

/* 1 if the child ended in time, 0 if it had to be killed; *ok its verdict. */
static int reap(pid_t pid, int *ok)
{
	struct timespec d = {0, 2000000};
	int st, i;

	for (i = 0; i < 5000; i++) { /* 10 s */
		if (waitpid(pid, &st, WNOHANG) == pid) {
			*ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
			return 1;
		}
		nanosleep(&d, NULL);
	}
	if (getenv("FORK_CLIENT_GDB")) { /* where it hangs, for a human */
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "gdb -q -batch -p %d -ex 'thread apply all bt' >&2 2>/dev/null", (int)pid);
		if (system(cmd) < 0)
			perror("system");
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	*ok = 0;
	return 0;
}

static int forks(int nthreads, int nchildren)
{
	pthread_t th[64];
	int i, hung = 0, failed = 0, ok;
	pid_t pid;

	/* Handles made before the threads start: libcurl's curl_easy_init
	 * takes its own global spinlock, which a child forked meanwhile would
	 * find held, shim or not. */
	curl_global_init(CURL_GLOBAL_DEFAULT);
	for (i = 0; i < nthreads && i < 64; i++)
		pthread_create(&th[i], NULL, loop, curl_easy_init());
	for (i = 0; i < nchildren; i++) {
		pid = fork();
		if (pid == 0) {
			CURL *h = curl_easy_init();
			_exit(h && post(h) == 200 ? 0 : 1);
		}
		if (pid < 0) {
			failed++;
			continue;
		}
		if (!reap(pid, &ok))
			hung++;
		else if (!ok)
			failed++;
	}
	atomic_store(&stop, 1);
	for (i = 0; i < nthreads && i < 64; i++)
		pthread_join(th[i], NULL);
	printf("children %d hung %d failed %d\n", nchildren, hung, failed);
	return hung || failed;
}

static int sweep(const char *file, const char *go)
{
	CURL *h = curl_easy_init();
	struct timespec d = {0, 20000000};
	int fd, i;

	if (!h)
		return 2;
	printf("status %ld\n", post(h)); /* the shim opens what it needs */
	fflush(stdout);
	closefrom(3);
	curl_easy_cleanup(h);
	/* twice: the two lowest numbers, where the shim kept its descriptors;
	 * group-writable, as a shared log may be */
	fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0 || fchmod(fd, 0664) < 0 || write(fd, "app\n", 4) != 4)
		return 2;
	if ((fd = open(file, O_WRONLY | O_APPEND | O_CLOEXEC)) < 0)
		return 2;
	h = curl_easy_init();
	printf("fd %d\n", fd);
	printf("status %ld\n", post(h));
	printf("status %ld\n", post(h));
	fflush(stdout);
	for (i = 0; i < 500 && access(go, F_OK) != 0; i++)
		nanosleep(&d, NULL);
	printf("status %ld\n", post(h));
	curl_easy_cleanup(h);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "fork") == 0) {
		url = argv[2];
		return forks(atoi(argv[3]), atoi(argv[4]));
	}
	if (argc == 5 && strcmp(argv[1], "sweep") == 0) {
		url = argv[2];
		return sweep(argv[3], argv[4]);
	}
	fprintf(stderr, "usage: fork_client fork URL THREADS CHILDREN | sweep URL FILE GO\n");
	return 2;
}
