/*
 * edge_curlu.c - with CURLOPT_CURLU the URL libcurl uses is not the
 * CURLOPT_URL: the request must pass through untouched, key included.
 * Run by tests/t_edge.sh; adapted from a reviewer's reproducer.
 */
#include <curl/curl.h>
#include <stdio.h>
static size_t w(char *p,size_t s,size_t n,void *u){ (void)p;(void)u; return s*n; }
int main(int argc,char**argv){
  char a[256], b[256];
  snprintf(a,sizeof a,"http://localhost:%s/v1/chat/completions",argv[1]);          /* set first (e.g. previous transfer) */
  snprintf(b,sizeof b,"http://localhost:%s/partner/v1/chat/completions",argv[1]);  /* what libcurl really uses */
  CURL *h=curl_easy_init(); CURLU *u=curl_url(); curl_url_set(u,CURLUPART_URL,b,0);
  struct curl_slist *hd=curl_slist_append(NULL,"Authorization: Bearer APP-KEY");
  curl_easy_setopt(h,CURLOPT_URL,a);
  curl_easy_setopt(h,CURLOPT_CURLU,u);
  curl_easy_setopt(h,CURLOPT_HTTPHEADER,hd);
  curl_easy_setopt(h,CURLOPT_POSTFIELDS,"{\"model\":\"gpt-4o\",\"messages\":[]}");
  curl_easy_setopt(h,CURLOPT_WRITEFUNCTION,w);
  printf("rc=%d\n",curl_easy_perform(h)); return 0;
}
