/*
 * multi_events.c - an ordinary event-driven libcurl client, run under the
 * shim by tests/t_multi_c.sh.  It knows nothing about llmroute.
 *
 *   multi_events URL perform MODEL...  one transfer per model, driven by
 *                                      curl_multi_perform + curl_multi_poll
 *   multi_events URL socket MODEL...   the same, driven by
 *                                      curl_multi_socket_action, its socket
 *                                      and timer callbacks and poll(2)
 *
 * As each transfer completes (curl_multi_info_read) it prints
 *   done MODEL result CODE http STATUS body BYTES ms MS
 * with MS since the start.  Body of transfer N: OUT.N (OUT = $MULTI_OUT,
 * default /dev/null).  Exit status 0 when every call into libcurl worked.
 */
#include <curl/curl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAXT 16
#define MAXS 64

static struct { curl_socket_t fd; int what; } socks[MAXS];
static int nsocks;
static long timer_ms = -1;

static int on_socket(CURL *e, curl_socket_t fd, int what, void *up, void *sp)
{
	int i;

	(void)e, (void)up, (void)sp;
	for (i = 0; i < nsocks && socks[i].fd != fd; i++)
		;
	if (what == CURL_POLL_REMOVE) {
		if (i < nsocks)
			socks[i] = socks[--nsocks];
	} else if (i < nsocks) {
		socks[i].what = what;
	} else if (nsocks < MAXS) {
		socks[nsocks].fd = fd;
		socks[nsocks++].what = what;
	}
	return 0;
}

static int on_timer(CURLM *m, long ms, void *up)
{
	(void)m, (void)up;
	timer_ms = ms;
	return 0;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static const char *models[MAXT];
static FILE *outs[MAXT];
static double t0;

static void reap(CURLM *m)
{
	CURLMsg *msg;
	int left;
	long status = 0, n;
	curl_off_t size = 0;
	char *priv = NULL;

	while ((msg = curl_multi_info_read(m, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
		curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_getinfo(msg->easy_handle, CURLINFO_SIZE_DOWNLOAD_T, &size);
		n = priv ? strtol(priv, NULL, 10) : -1;
		printf("done %s result %d http %ld body %ld ms %.0f\n", n >= 0 ? models[n] : "?",
		       (int)msg->data.result, status, (long)size, now_ms() - t0);
		fflush(stdout);
		curl_multi_remove_handle(m, msg->easy_handle);
	}
}

static int run_socket(CURLM *m)
{
	struct pollfd p[MAXS];
	int running = 1, i, n, ev;

	curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_socket_action(m, CURL_SOCKET_TIMEOUT, 0, &running);
	while (running) {
		for (i = 0; i < nsocks; i++) {
			p[i].fd = socks[i].fd;
			p[i].events = (socks[i].what & CURL_POLL_IN ? POLLIN : 0) |
				      (socks[i].what & CURL_POLL_OUT ? POLLOUT : 0);
			p[i].revents = 0;
		}
		n = poll(p, (nfds_t)nsocks, timer_ms < 0 ? 1000 : (int)timer_ms);
		if (n <= 0) {
			timer_ms = -1;
			curl_multi_socket_action(m, CURL_SOCKET_TIMEOUT, 0, &running);
		}
		for (i = 0; n > 0 && i < nsocks; i++) {
			ev = (p[i].revents & POLLIN ? CURL_CSELECT_IN : 0) | (p[i].revents & POLLOUT ? CURL_CSELECT_OUT : 0) |
			     (p[i].revents & (POLLERR | POLLHUP) ? CURL_CSELECT_ERR : 0);
			if (ev)
				curl_multi_socket_action(m, p[i].fd, ev, &running);
		}
		reap(m);
	}
	reap(m);
	return 0;
}

static int run_perform(CURLM *m)
{
	int running = 1;

	while (running) {
		if (curl_multi_perform(m, &running) != CURLM_OK)
			return 1;
		reap(m);
		if (running && curl_multi_poll(m, NULL, 0, 1000, NULL) != CURLM_OK)
			return 1;
	}
	reap(m);
	return 0;
}

int main(int argc, char **argv)
{
	static char bodies[MAXT][256], idx[MAXT][12], path[MAXT][512];
	struct curl_slist *hdrs = NULL;
	const char *out = getenv("MULTI_OUT");
	CURLM *m;
	CURL *h;
	int i, n = argc - 3, rc;

	if (argc < 4 || n > MAXT || (strcmp(argv[2], "perform") && strcmp(argv[2], "socket")))
		return 2;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	m = curl_multi_init();
	for (i = 0; i < n; i++) {
		models[i] = argv[3 + i];
		snprintf(bodies[i], sizeof(bodies[i]),
			 "{\"model\": \"%s\", \"messages\": [{\"role\": \"user\", \"content\": \"hello\"}]}", models[i]);
		snprintf(idx[i], sizeof(idx[i]), "%d", i);
		snprintf(path[i], sizeof(path[i]), "%s.%d", out ? out : "/dev/null", i);
		outs[i] = fopen(out ? path[i] : "/dev/null", "wb");
		h = curl_easy_init();
		curl_easy_setopt(h, CURLOPT_URL, argv[1]);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, bodies[i]);
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, outs[i]);
		curl_easy_setopt(h, CURLOPT_PRIVATE, idx[i]);
		curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
		if (curl_multi_add_handle(m, h) != CURLM_OK)
			return 1;
	}
	t0 = now_ms();
	rc = strcmp(argv[2], "socket") == 0 ? run_socket(m) : run_perform(m);
	curl_multi_cleanup(m);
	for (i = 0; i < n; i++)
		if (outs[i])
			fclose(outs[i]);
	curl_slist_free_all(hdrs);
	curl_global_cleanup();
	return rc;
}
