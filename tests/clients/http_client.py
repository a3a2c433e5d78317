"""http_client.py - an unmodified-style Python program that talks to an LLM
API with the standard library's http.client or with requests, for the
socket and TLS transport tests.

usage: http_client.py MODE URL MODEL [N] [CAFILE]
  MODE: httpclient (keep-alive, N requests), requests (N requests on one
        Session), split (one request written a few bytes at a time),
        pipeline (two requests in one write, answers read back in order),
        stream (SSE, prints the text it got),
        streamto (SSE; N is a file the stream is written to: "<status> streamed"
        or "<status> cut <error>" when reading it failed)
Prints one line per request: "<status> <model in the answer or error message>".
"""
import http.client
import json
import socket
import ssl
import sys
import urllib.parse


def body(model, stream=False):
    b = {"model": model, "messages": [{"role": "user", "content": "Define X"}]}
    if stream:
        b["stream"] = True
        b["stream_options"] = {"include_usage": True}
    return json.dumps(b).encode()


def show(status, data):
    try:
        d = json.loads(data)
    except ValueError:
        print(status, "non-json", data[:80])
        return
    if "error" in d:
        print(status, "error", d["error"].get("message"))
    else:
        print(status, d.get("model"))


def conn_for(u, cafile):
    if u.scheme == "https":
        ctx = ssl.create_default_context(cafile=cafile)
        return http.client.HTTPSConnection(u.hostname, u.port or 443, context=ctx, timeout=20)
    return http.client.HTTPConnection(u.hostname, u.port or 80, timeout=20)


def main():
    mode, url, model = sys.argv[1:4]
    n = int(sys.argv[4]) if len(sys.argv) > 4 and mode != "streamto" else 1
    cafile = sys.argv[5] if len(sys.argv) > 5 else None
    u = urllib.parse.urlsplit(url)
    hdrs = {"Content-Type": "application/json", "Authorization": "Bearer sk-app-key"}
    if mode == "httpclient":
        c = conn_for(u, cafile)
        for _ in range(n):
            c.request("POST", u.path, body=body(model), headers=hdrs)
            r = c.getresponse()
            show(r.status, r.read())
    elif mode == "then-get":  # an LLM request, then a non-LLM one on the same connection
        c = conn_for(u, cafile)
        c.request("POST", u.path, body=body(model), headers=hdrs)
        r = c.getresponse()
        show(r.status, r.read())
        c.request("GET", "/_mock/requests", headers={"Authorization": "Bearer sk-app-key"})
        r = c.getresponse()
        data = r.read()
        print("get", r.status, "saw-moved" if b"moved-model" in data else "app-host")
    elif mode == "http10":  # HTTP/1.0 over TLS, read to the end of the connection
        ctx = ssl.create_default_context(cafile=cafile)
        raw = socket.create_connection((u.hostname, u.port or 443), timeout=20)
        s = ctx.wrap_socket(raw, server_hostname=u.hostname)
        one = body(model)
        s.sendall(("POST %s HTTP/1.0\r\nHost: %s\r\nAuthorization: Bearer sk-app-key\r\n"
                   "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                   % (u.path, u.netloc, len(one))).encode() + one)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, payload = data.partition(b"\r\n\r\n")
        status = int(head.split()[1])
        show(status, payload)
        print("chunked" if b"transfer-encoding" in head.lower() else "not-chunked")
    elif mode == "stream":
        c = conn_for(u, cafile)
        c.request("POST", u.path, body=body(model, True), headers=hdrs)
        r = c.getresponse()
        print(r.status, "stream", len(r.read()) > 0)
    elif mode == "streamto":
        c = conn_for(u, cafile)
        c.request("POST", u.path, body=body(model, True), headers=hdrs)
        r = c.getresponse()
        got = []
        try:
            while True:
                chunk = r.read1(65536)
                if not chunk:
                    break
                got.append(chunk)
            print(r.status, "streamed")
        except (http.client.HTTPException, OSError) as exc:
            print(r.status, "cut", type(exc).__name__)
        with open(sys.argv[4], "wb") as f:
            f.write(b"".join(got))
    elif mode == "requests":
        import requests
        s = requests.Session()
        for _ in range(n):
            r = s.post(url, data=body(model), headers=hdrs, timeout=20, verify=cafile or True)
            show(r.status_code, r.content)
    elif mode in ("split", "pipeline"):
        s = socket.create_connection((u.hostname, u.port or 80), timeout=20)
        one = body(model)
        req = ("POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer sk-app-key\r\n"
               "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
               % (u.path, u.netloc, len(one))).encode() + one
        if mode == "split":
            for i in range(0, len(req), 7):
                s.send(req[i:i + 7])
            reqs = 1
        else:
            s.sendall(req + req)
            reqs = 2
        f = s.makefile("rb")
        for _ in range(reqs):  # answers in order, each framed by its length
            status = int(f.readline().split()[1])
            h = http.client.parse_headers(f)
            show(status, f.read(int(h["Content-Length"])))
    else:
        sys.exit("unknown mode " + mode)


main()
