/*
 * write_styles.c - one libcurl POST, its answer delivered in one of the
 * ways an app can ask for it, so that tests/t_audit.sh can check the app
 * gets byte-identical output with and without the shim's write callback in
 * front of its own.
 *
 *   write_styles URL STYLE OUTFILE
 *
 * STYLE: default     no callback, no WRITEDATA: libcurl fwrites to stdout
 *                    (redirected to OUTFILE by this program)
 *        writedata   no callback, WRITEDATA = a FILE* on OUTFILE
 *        function    WRITEFUNCTION appending to a buffer, written at the end
 *        pause       WRITEFUNCTION that pauses on every first delivery of a
 *                    chunk; the progress callback unpauses
 *        headerdata  HEADERDATA set, no HEADERFUNCTION: headers reach the
 *                    write callback with HEADERDATA (both into OUTFILE)
 * Exit status: libcurl's result code.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
	char *buf;
	size_t len;
	int paused;
	CURL *h;
} sink;

static size_t to_buf(char *p, size_t size, size_t n, void *ud)
{
	sink *s = ud;
	char *nb = realloc(s->buf, s->len + size * n + 1);

	if (!nb)
		return 0;
	s->buf = nb;
	memcpy(s->buf + s->len, p, size * n);
	s->len += size * n;
	return size * n;
}

static size_t pausing(char *p, size_t size, size_t n, void *ud)
{
	sink *s = ud;

	if (!s->paused) {
		s->paused = 1;
		return CURL_WRITEFUNC_PAUSE; /* the same bytes come again later */
	}
	s->paused = 0;
	return to_buf(p, size, n, ud);
}

static int unpause(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	sink *s = ud;

	(void)a, (void)b, (void)c, (void)d;
	if (s->paused)
		curl_easy_pause(s->h, CURLPAUSE_CONT);
	return 0;
}

int main(int argc, char **argv)
{
	const char *body = "{\"model\":\"gpt-4o\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
	sink s = {0};
	CURL *h;
	FILE *f = NULL;
	CURLcode rc;

	if (argc != 4)
		return 2;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	h = curl_easy_init();
	s.h = h;
	curl_easy_setopt(h, CURLOPT_URL, argv[1]);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
	if (!strcmp(argv[2], "default")) {
		if (!freopen(argv[3], "wb", stdout))
			return 2;
	} else if (!strcmp(argv[2], "writedata") || !strcmp(argv[2], "headerdata")) {
		f = fopen(argv[3], "wb");
		curl_easy_setopt(h, CURLOPT_WRITEDATA, f);
		if (!strcmp(argv[2], "headerdata"))
			curl_easy_setopt(h, CURLOPT_HEADERDATA, f);
	} else if (!strcmp(argv[2], "function")) {
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, to_buf);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
	} else if (!strcmp(argv[2], "pause")) {
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, pausing);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
		curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, unpause);
		curl_easy_setopt(h, CURLOPT_XFERINFODATA, &s);
		curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	} else {
		return 2;
	}
	rc = curl_easy_perform(h);
	if (s.buf) {
		f = fopen(argv[3], "wb");
		fwrite(s.buf, 1, s.len, f);
	}
	if (f)
		fclose(f);
	fflush(stdout);
	curl_easy_cleanup(h);
	free(s.buf);
	return (int)rc;
}
