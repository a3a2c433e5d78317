/*
 * edge_doh_reuse.c - a handle libcurl created and freed itself (a DoH probe)
 * must not leave its options to the app's next handle at the same address.
 * Run by tests/t_edge.sh; adapted from a reviewer's reproducer.
 */
/* A handle libcurl creates and frees itself (DoH probe, multi interface)
 * leaves a shim record behind; the app's next handle at that address
 * inherits its write callback, WRITEDATA, HTTPHEADER and POSTFIELDS.
 * curl_global_init_mem with a LIFO allocator just makes address reuse
 * deterministic; glibc malloc does the same thing by chance. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define BIG 4096
static void *stack[16]; static size_t ssz[16]; static int ns;
static void *my_malloc(size_t n){ size_t *p=malloc(n+16); if(!p) return 0; p[0]=n; return p+2; }
static void my_free(void *q){ if(!q) return; size_t *p=(size_t*)q-2;
  if(p[0]>=BIG && ns<16){ ssz[ns]=p[0]; stack[ns++]=q; return; } free(p); }
static void *my_calloc(size_t a, size_t b){ size_t n=a*b;
  for(int i=ns-1;i>=0;i--) if(ssz[i]==n){ void *q=stack[i]; memmove(stack+i,stack+i+1,(ns-i-1)*sizeof*stack); memmove(ssz+i,ssz+i+1,(ns-i-1)*sizeof*ssz); ns--; memset(q,0,n); return q; }
  void *q=my_malloc(n); if(q) memset(q,0,n); return q; }
static void *my_realloc(void *q, size_t n){ if(!q) return my_malloc(n); size_t *p=(size_t*)q-2; size_t o=p[0];
  void *r=my_malloc(n); if(r){ memcpy(r,q,o<n?o:n); my_free(q);} return r; }
static char *my_strdup(const char *s){ size_t n=strlen(s)+1; char *d=my_malloc(n); if(d) memcpy(d,s,n); return d; }

static void run(CURLM *m, CURL *h){
  int still=1, left; CURLMsg *msg;
  curl_multi_add_handle(m,h);
  while(still){ curl_multi_perform(m,&still); if(still) curl_multi_poll(m,NULL,0,100,NULL);}
  while((msg=curl_multi_info_read(m,&left))) if(msg->msg==CURLMSG_DONE) fprintf(stderr,"  %p done rc=%d\n",(void*)msg->easy_handle,msg->data.result);
  curl_multi_remove_handle(m,h);
}
int main(int argc,char**argv){
  char llm[256];
  curl_global_init_mem(CURL_GLOBAL_DEFAULT,my_malloc,my_free,my_realloc,my_strdup,my_calloc);
  CURLM *m=curl_multi_init();
  CURL *a=curl_easy_init();
  fprintf(stderr,"app handle a %p (DoH resolve)\n",(void*)a);
  curl_easy_setopt(a,CURLOPT_URL,"http://doh-test.example/x");
  curl_easy_setopt(a,CURLOPT_DOH_URL,"https://127.0.0.1:1/dns-query");
  run(m,a);
  curl_easy_cleanup(a);
  snprintf(llm,sizeof llm,"http://127.0.0.1:%s/v1/chat/completions",argv[1]);
  FILE *out=fopen("/dev/null","w");
  CURL *h1=curl_easy_init(), *h2=curl_easy_init();   /* h1 = a's slot, h2 = a DoH probe's */
  fprintf(stderr,"new handles %p %p\n",(void*)h1,(void*)h2);
  curl_easy_setopt(h2,CURLOPT_URL,llm);
  curl_easy_setopt(h2,CURLOPT_POSTFIELDS,"{\"model\":\"gpt-4o\",\"messages\":[]}");
  curl_easy_setopt(h2,CURLOPT_WRITEDATA,out);   /* libcurl default write: fwrite(out) */
  run(m,h2);
  fprintf(stderr,"survived\n");
  return 0;
}
