"""pycurl_client.py - an ordinary pycurl program, run unmodified under the shim.

Usage: pycurl_client.py MODE URL [ARGS]
  easy URL MODEL              one POST with POSTFIELDS; prints the answer's model
  upload URL MODEL            the body through READFUNCTION with a known size
  multi URL MODEL...          one CurlMulti transfer per model; prints result lines
  live URL MODEL SYNC_DIR     one request, then waits for SYNC_DIR/go, then
                              another on the same handle (live table change)
Python's pycurl loads libcurl-gnutls with RTLD_LOCAL: this is the case where
dlsym(RTLD_NEXT) finds nothing.
"""
import io
import json
import os
import sys
import time

import pycurl


def body(model):
    return json.dumps({"model": model, "messages": [{"role": "user", "content": "Define X"}]})


def setup(c, url, model, out):
    c.setopt(pycurl.URL, url)
    c.setopt(pycurl.HTTPHEADER, ["Authorization: Bearer sk-pycurl-app", "Content-Type: application/json"])
    c.setopt(pycurl.POSTFIELDS, body(model))
    c.setopt(pycurl.WRITEDATA, out)
    c.setopt(pycurl.TIMEOUT, 10)


def answer_model(buf):
    try:
        return json.loads(buf.getvalue())["model"]
    except ValueError:
        return "unparsable:" + buf.getvalue()[:80].decode("latin-1")


def easy(url, model):
    out = io.BytesIO()
    c = pycurl.Curl()
    setup(c, url, model, out)
    c.perform()
    print("easy", c.getinfo(pycurl.RESPONSE_CODE), answer_model(out))


def upload(url, model):
    data = body(model).encode()
    src = io.BytesIO(data)
    out = io.BytesIO()
    c = pycurl.Curl()
    c.setopt(pycurl.URL, url)
    c.setopt(pycurl.UPLOAD, 1)
    c.setopt(pycurl.CUSTOMREQUEST, "POST")
    c.setopt(pycurl.READFUNCTION, src.read)
    c.setopt(pycurl.INFILESIZE, len(data))
    c.setopt(pycurl.WRITEDATA, out)
    c.perform()
    print("upload", c.getinfo(pycurl.RESPONSE_CODE), answer_model(out))


def multi(url, models):
    m = pycurl.CurlMulti()
    handles = []
    for model in models:
        c = pycurl.Curl()
        out = io.BytesIO()
        setup(c, url, model, out)
        m.add_handle(c)
        handles.append((c, out, model))
    running = len(handles)
    while running:
        ret, running = m.perform()
        if running:
            m.select(1.0)
    done = {}
    while True:
        queued, ok, failed = m.info_read()
        for c in ok:
            done[id(c)] = "ok"
        for c, code, msg in failed:
            done[id(c)] = "error %d %s" % (code, msg)
        if not queued:
            break
    for c, out, model in handles:
        state = done.get(id(c), "?")
        print("multi", model, state, answer_model(out) if state == "ok" else "-")
        m.remove_handle(c)


def live(url, model, sync):
    c = pycurl.Curl()
    for step in (1, 2):
        out = io.BytesIO()
        setup(c, url, model, out)
        c.perform()
        print("live", step, answer_model(out), flush=True)
        if step == 1:
            open(os.path.join(sync, "ready"), "w").close()
            deadline = time.time() + 20
            while not os.path.exists(os.path.join(sync, "go")) and time.time() < deadline:
                time.sleep(0.02)


def main():
    mode, url = sys.argv[1], sys.argv[2]
    if mode == "easy":
        easy(url, sys.argv[3])
    elif mode == "upload":
        upload(url, sys.argv[3])
    elif mode == "multi":
        multi(url, sys.argv[3:])
    elif mode == "live":
        live(url, sys.argv[3], sys.argv[4])


main()
