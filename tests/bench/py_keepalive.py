"""py_keepalive.py - make bench, item 9: N sequential keep-alive chat
requests from Python's http.client on one connection; prints the wall
time of the N requests in nanoseconds (interpreter start not included).
usage: py_keepalive.py URL MODEL N"""
import http.client
import json
import sys
import time
import urllib.parse

url, model, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
u = urllib.parse.urlsplit(url)
c = http.client.HTTPConnection(u.hostname, u.port)
hdrs = {"Content-Type": "application/json", "Authorization": "Bearer sk-bench"}
t0 = time.monotonic_ns()
for i in range(n):
    body = json.dumps({"model": model, "messages": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Say hello, request %d." % i}], "temperature": 0.2})
    c.request("POST", u.path, body=body, headers=hdrs)
    r = c.getresponse()
    data = r.read()
    if r.status != 200 or json.loads(data)["model"] != "gpt-4o-mini":
        sys.exit("request %d: %d %s" % (i, r.status, data[:200]))
print(time.monotonic_ns() - t0)
