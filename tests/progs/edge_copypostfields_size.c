/*
 * edge_copypostfields_size.c - COPYPOSTFIELDS followed by a larger
 * POSTFIELDSIZE: libcurl drops its copy; we must not read past ours.
 * Run by tests/t_edge.sh; adapted from a reviewer's reproducer.
 */
#include <curl/curl.h>
#include <stdio.h>
static size_t w(char *p,size_t s,size_t n,void *u){ (void)p;(void)u; return s*n; }
int main(int argc,char**argv){
  char a[256]; snprintf(a,sizeof a,"http://127.0.0.1:%s/v1/chat/completions",argv[1]);
  CURL *h=curl_easy_init();
  curl_easy_setopt(h,CURLOPT_URL,a);
  curl_easy_setopt(h,CURLOPT_WRITEFUNCTION,w);
  curl_easy_setopt(h,CURLOPT_COPYPOSTFIELDS,"{\"model\":\"gpt-4o\"}");
  curl_easy_setopt(h,CURLOPT_POSTFIELDSIZE,4096L);   /* libcurl drops the copy (postfields=NULL) */
  curl_easy_setopt(h,CURLOPT_TIMEOUT,2L);
  printf("rc=%d\n",curl_easy_perform(h)); return 0;
}
