/*
 * edge_default_stdout.c - an app that never sets WRITEDATA (libcurl writes
 * to stdout): after an audited LLM transfer, the next transfer on the same
 * handle must still write to stdout, not crash on a NULL FILE*.
 * Run by tests/t_edge.sh; adapted from a reviewer's reproducer.
 */
#include <curl/curl.h>
#include <stdio.h>
int main(int argc, char **argv) {
  char u1[200], u2[200];
  snprintf(u1, sizeof u1, "http://127.0.0.1:%s/v1/chat/completions", argv[1]);
  snprintf(u2, sizeof u2, "http://127.0.0.1:%s/echo", argv[1]);
  CURL *h = curl_easy_init();
  curl_easy_setopt(h, CURLOPT_URL, u1);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, "{\"model\":\"gpt-4o\",\"messages\":[]}");
  fprintf(stderr, "rc1=%d\n", curl_easy_perform(h));
  curl_easy_setopt(h, CURLOPT_URL, u2);   /* same handle, not an LLM URL */
  fprintf(stderr, "rc2=%d\n", curl_easy_perform(h));
  curl_easy_cleanup(h);
  return 0;
}
