/*
 * edge_stale_postfields.c - a handle that POSTed with POSTFIELDS and then
 * uploads with a read callback: libcurl sends the upload (PUT), so must we.
 * Run by tests/t_edge.sh; adapted from a reviewer's reproducer.
 */
/* Reused handle: transfer 1 POSTs with POSTFIELDS; transfer 2 uploads from a
 * read callback (CURLOPT_UPLOAD).  libcurl ignores the old POSTFIELDS. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static const char *body2="{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"SECOND\"}]}";
static size_t pos;
static size_t rd(char *b,size_t s,size_t n,void *u){ (void)u; size_t l=strlen(body2)-pos; if(l>s*n) l=s*n; memcpy(b,body2+pos,l); pos+=l; return l; }
static size_t w(char *p,size_t s,size_t n,void *u){ (void)p;(void)u; return s*n; }
int main(int argc,char**argv){
  char url[256]; snprintf(url,sizeof url,"http://127.0.0.1:%s/v1/chat/completions",argv[1]);
  int free_it = argc > 2;
  CURL *h=curl_easy_init();
  char *b1=strdup("{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"FIRST\"}]}");
  curl_easy_setopt(h,CURLOPT_URL,url);
  curl_easy_setopt(h,CURLOPT_WRITEFUNCTION,w);
  curl_easy_setopt(h,CURLOPT_POSTFIELDS,b1);
  curl_easy_perform(h);
  if(free_it) free(b1);
  curl_easy_setopt(h,CURLOPT_UPLOAD,1L);
  curl_easy_setopt(h,CURLOPT_READFUNCTION,rd);
  curl_easy_setopt(h,CURLOPT_INFILESIZE,(long)strlen(body2));
  CURLcode rc=curl_easy_perform(h);
  printf("second transfer rc=%d\n",rc);
  return 0;
}
