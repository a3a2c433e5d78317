/*
 * edge_dup_after_route.c - curl_easy_duphandle of a routed multi handle, then
 * the copy used for another request: it must carry the app's options
 * (credentials, write callback), not the route's.
 * Run by tests/t_edge.sh; adapted from a reviewer's reproducer.
 */
/* duphandle of a multi handle after it completed but before remove_handle */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
static size_t w(char *p,size_t s,size_t n,void *u){ (void)p; *(size_t*)u += s*n; return s*n; }
int main(int argc,char**argv){
  char llm[256], other[256]; size_t got_a=0, got_d=0; int still=1,left; CURLMsg *msg;
  snprintf(llm,sizeof llm,"http://localhost:%s/v1/chat/completions",argv[1]);
  snprintf(other,sizeof other,"http://localhost:%s/v1/models",argv[1]);
  CURLM *m=curl_multi_init(); CURL *a=curl_easy_init();
  curl_easy_setopt(a,CURLOPT_URL,llm);
  curl_easy_setopt(a,CURLOPT_USERPWD,"alice:secret");
  curl_easy_setopt(a,CURLOPT_POSTFIELDS,"{\"model\":\"gpt-4o\",\"messages\":[]}");
  curl_easy_setopt(a,CURLOPT_WRITEFUNCTION,w);
  curl_easy_setopt(a,CURLOPT_WRITEDATA,&got_a);
  curl_multi_add_handle(m,a);
  while(still){ curl_multi_perform(m,&still); if(still) curl_multi_poll(m,NULL,0,100,NULL);}
  CURL *d=NULL;
  while((msg=curl_multi_info_read(m,&left))) if(msg->msg==CURLMSG_DONE) d=curl_easy_duphandle(msg->easy_handle); /* e.g. to retry */
  curl_multi_remove_handle(m,a); curl_easy_cleanup(a);
  curl_easy_setopt(d,CURLOPT_URL,other);
  curl_easy_setopt(d,CURLOPT_HTTPGET,1L);
  curl_easy_setopt(d,CURLOPT_WRITEDATA,&got_d);
  CURLcode rc=curl_easy_perform(d);
  printf("dup: rc=%d, bytes to dup's WRITEDATA: %zu\n",rc,got_d);
  return 0;
}
