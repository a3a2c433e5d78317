#!/usr/bin/python3
"""pycurl_resil.py - one chat request with pycurl, for the resilience tests.

usage: pycurl_resil.py URL MODEL OUT [temperature=T] [stream] [json] [n=N]
                        [single] [extra=', "KEY": JSON...'] [header='NAME: VALUE|NAME: VALUE...'] [cookie=CURLOPT_COOKIE]

Performs the request N times (default 1) on one easy handle; for each it
writes the body the app's WRITEFUNCTION got to OUT.bodyK and the header
lines its HEADERFUNCTION got to OUT.headK, and prints one line:
"K STATUS CONTENT_TYPE SIZE_DOWNLOAD" from curl_easy_getinfo, or
"K error CODE MESSAGE" when perform raised.  With `single`, it does what
`curl -D OUT.head -o OUT.body -w '%{http_code} %{content_type}
%{size_download}'` does (the sanitized runs use it for curl, which an ASan
runtime in LD_PRELOAD hangs); `extra` adds members to the request body.
"""
import json
import sys

import pycurl


def main():
    url, model, out = sys.argv[1:4]
    opts = dict(a.split("=", 1) if "=" in a else (a, "1") for a in sys.argv[4:])
    body = {"model": model, "messages": [{"role": "user", "content": "hello there"}]}
    if "temperature" in opts:
        body["temperature"] = float(opts["temperature"])
    if "stream" in opts:
        body["stream"] = True
    if "json" in opts:
        body["response_format"] = {"type": "json_object"}
    if opts.get("extra", "").strip(", "):
        body.update(json.loads("{" + opts["extra"].strip().lstrip(",") + "}"))
    c = pycurl.Curl()
    for k in range(1, int(opts.get("n", "1")) + 1):
        got, head = [], []
        c.setopt(pycurl.URL, url)
        c.setopt(pycurl.HTTPHEADER, ["Content-Type: application/json", "Authorization: Bearer sk-app"] +
                 (opts["header"].split("|") if "header" in opts else []))
        c.setopt(pycurl.POSTFIELDS, json.dumps(body))
        if "cookie" in opts:
            c.setopt(pycurl.COOKIE, opts["cookie"])
        c.setopt(pycurl.WRITEFUNCTION, got.append)
        c.setopt(pycurl.HEADERFUNCTION, head.append)
        tag = "" if "single" in opts else f"{k} "
        try:
            c.perform()
            print(f"{tag}{c.getinfo(pycurl.RESPONSE_CODE)} {c.getinfo(pycurl.CONTENT_TYPE)} "
                  f"{int(c.getinfo(pycurl.SIZE_DOWNLOAD))}", flush=True)
        except pycurl.error as exc:
            print(f"{tag}error", exc.args[0], exc.args[1], flush=True)
        suffix = "" if "single" in opts else str(k)
        with open(f"{out}.body{suffix}", "wb") as f:
            f.write(b"".join(got))
        with open(f"{out}.head{suffix}", "wb") as f:
            f.write(b"".join(head))
    c.close()


if __name__ == "__main__":
    main()
