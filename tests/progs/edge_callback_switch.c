/*
 * edge_callback_switch.c - an app that changes WRITEFUNCTION (mode 1) or
 * WRITEDATA (mode 2) from inside its write callback: the change takes
 * effect with the app's own userdata, whatever the shim put in front.
 * Run by tests/t_edge.sh; adapted from a reviewer's reproducer.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
struct st { int magic; int n; CURL *h; int mode; };
static size_t cb2(char *p, size_t s, size_t n, void *ud) {
  struct st *x = ud;
  if (x->magic != 0x5eed) { fprintf(stderr, "cb2: WRONG userdata %p\n", ud); return s*n; }
  x->n += s*n; return s*n;
}
static size_t cb1(char *p, size_t s, size_t n, void *ud) {
  struct st *x = ud;
  if (x->magic != 0x5eed) { fprintf(stderr, "cb1: WRONG userdata %p\n", ud); return s*n; }
  x->n += s*n;
  /* switch callback/data mid transfer: allowed by libcurl */
  if (x->mode == 1) curl_easy_setopt(x->h, CURLOPT_WRITEFUNCTION, cb2);
  if (x->mode == 2) { static struct st other = {0x5eed, 0, NULL, 0}; curl_easy_setopt(x->h, CURLOPT_WRITEDATA, &other); }
  return s*n;
}
int main(int argc, char **argv) {
  char url[200]; int mode = atoi(argv[2]);
  snprintf(url, sizeof url, "http://127.0.0.1:%s/v1/chat/completions", argv[1]);
  CURL *h = curl_easy_init();
  struct st x = {0x5eed, 0, h, mode};
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, "{\"model\":\"gpt-4o\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, cb1);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
  curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 1024L);
  CURLcode rc = curl_easy_perform(h);
  printf("rc=%d n=%d\n", rc, x.n);
  curl_easy_cleanup(h);
}
