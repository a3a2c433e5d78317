"""https_threads.py - many threads of one Python program, each on its own
HTTPS connection (http.client, the system's trust), each sending several
keep-alive chat requests, while SIGALRM fires every few milliseconds in
the main thread (a blocked read gets EINTR, and the handler runs).

usage: https_threads.py URL MODEL THREADS REQUESTS EXPECTED_MODEL
Prints "ok N signals S" when all N answers are 200 with EXPECTED_MODEL
and S > 0 handled signals; else what went wrong; exits 0 only when ok.
"""
import http.client
import json
import os
import signal
import ssl
import sys
import threading
import urllib.parse

url, model, nthreads, nreq, want = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
u = urllib.parse.urlsplit(url)
signals = 0
results = []
lock = threading.Lock()


def on_alarm(signum, frame):
    global signals
    signals += 1


def worker(i):
    ctx = ssl.create_default_context()
    c = http.client.HTTPSConnection(u.hostname, u.port or 443, timeout=30, context=ctx)
    for k in range(nreq):
        body = json.dumps({"model": model, "messages": [{"role": "user", "content": "thread %d req %d" % (i, k)}]})
        try:
            c.request("POST", u.path, body=body, headers={
                "Content-Type": "application/json",
                "Authorization": "Bearer " + os.environ.get("OPENAI_API_KEY", "")})
            r = c.getresponse()
            d = json.loads(r.read())
            got = (r.status, d.get("model"))
        except Exception as exc:
            got = (0, "%s: %s" % (type(exc).__name__, exc))
        with lock:
            results.append(got)


signal.signal(signal.SIGALRM, on_alarm)
signal.setitimer(signal.ITIMER_REAL, 0.005, 0.005)
ths = [threading.Thread(target=worker, args=(i,)) for i in range(nthreads)]
for t in ths:
    t.start()
for t in ths:
    t.join()
signal.setitimer(signal.ITIMER_REAL, 0, 0)
bad = [r for r in results if r != (200, want)]
if bad or len(results) != nthreads * nreq or not signals:
    print("bad", len(results), "signals", signals, bad[:5])
    sys.exit(1)
print("ok", len(results), "signals", signals)
