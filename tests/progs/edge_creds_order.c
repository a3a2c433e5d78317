/*
 * edge_creds_order.c - USERNAME then USERPWD: after a routed transfer the
 * handle must hold the credentials libcurl had (alice:secret).
 * Run by tests/t_edge.sh; adapted from a reviewer's reproducer.
 */
#include <curl/curl.h>
#include <stdio.h>
static size_t w(char *p,size_t s,size_t n,void *u){ (void)p;(void)u; return s*n; }
int main(int argc,char**argv){
  char a[256], b[256];
  snprintf(a,sizeof a,"http://localhost:%s/v1/chat/completions",argv[1]);
  snprintf(b,sizeof b,"http://localhost:%s/echo",argv[1]);
  CURL *h=curl_easy_init();
  curl_easy_setopt(h,CURLOPT_USERNAME,"carol");
  curl_easy_setopt(h,CURLOPT_USERPWD,"alice:secret");      /* overrides: user alice */
  curl_easy_setopt(h,CURLOPT_URL,a);
  curl_easy_setopt(h,CURLOPT_POSTFIELDS,"{\"model\":\"gpt-4o\",\"messages\":[]}");
  curl_easy_setopt(h,CURLOPT_WRITEFUNCTION,w);
  curl_easy_perform(h);
  curl_easy_setopt(h,CURLOPT_URL,b); curl_easy_setopt(h,CURLOPT_HTTPGET,1L);
  curl_easy_setopt(h,CURLOPT_VERBOSE,1L);
  curl_easy_perform(h); return 0;
}
