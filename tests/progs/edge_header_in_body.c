/*
 * edge_header_in_body.c - CURLOPT_HEADER=1: the response headers reach the
 * write callback before the body; the audit must read tokens from the body.
 *   edge_header_in_body PORT BODY OUTFILE
 * Run by tests/t_edge.sh; adapted from a reviewer's reproducer.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
  char url[200]; snprintf(url, sizeof url, "http://127.0.0.1:%s/v1/chat/completions", argv[1]);
  CURL *h = curl_easy_init();
  FILE *f = fopen(argv[3], "w");
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, argv[2]);
  curl_easy_setopt(h, CURLOPT_HEADER, 1L);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, f);
  printf("rc=%d\n", curl_easy_perform(h)); fclose(f);
  curl_easy_cleanup(h);
}
