"""https_app.py - an unmodified-style Python program that asks an
OpenAI-compatible chat API one question, the way most programs do: the URL,
the model and the key (OPENAI_API_KEY) are its own, and it trusts whatever
the system trusts (no CA file, no SSL_CERT_FILE or REQUESTS_CA_BUNDLE).

usage: https_app.py LIB URL MODEL
  LIB: httpclient (http.client and ssl.create_default_context), requests,
       httpx (HTTP/1.1 only), httpxasync (httpx.AsyncClient on asyncio,
       whose TLS runs on memory BIOs)
Prints "<status> <model of the answer>" (or "<status> error <message>") and
exits 0 only for a 200 whose JSON body has choices; 1 otherwise, 2 if the
request failed before any answer.
"""
import http.client
import json
import os
import ssl
import sys
import urllib.parse


def main():
    lib, url, model = sys.argv[1:4]
    body = json.dumps({"model": model, "temperature": 0,
                       "messages": [{"role": "user", "content": "hello from " + lib}]}).encode()
    headers = {"Content-Type": "application/json",
               "Authorization": "Bearer " + os.environ.get("OPENAI_API_KEY", "")}
    try:
        if lib == "httpclient":
            u = urllib.parse.urlsplit(url)
            if u.scheme == "https":
                c = http.client.HTTPSConnection(u.hostname, u.port or 443, timeout=20,
                                                context=ssl.create_default_context())
            else:
                c = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=20)
            c.request("POST", u.path, body=body, headers=headers)
            r = c.getresponse()
            status, data = r.status, r.read()
        elif lib == "requests":
            import requests
            r = requests.post(url, data=body, headers=headers, timeout=20)
            status, data = r.status_code, r.content
        elif lib == "httpx":
            import httpx
            with httpx.Client(http1=True, http2=False, timeout=20) as c:
                r = c.post(url, content=body, headers=headers)
                status, data = r.status_code, r.content
        elif lib == "httpxasync":  # asyncio: TLS on memory BIOs, not on the socket
            import asyncio
            import httpx

            async def post():
                async with httpx.AsyncClient(http1=True, http2=False, timeout=20) as c:
                    r = await c.post(url, content=body, headers=headers)
                    return r.status_code, r.content
            status, data = asyncio.run(post())
        else:
            sys.exit("unknown LIB " + lib)
    except Exception as exc:  # what the app would show its user
        print("0 error %s: %s" % (type(exc).__name__, exc))
        sys.exit(2)
    try:
        d = json.loads(data)
    except ValueError:
        print(status, "error non-json", data[:80])
        sys.exit(1)
    if "error" in d:
        print(status, "error", d["error"].get("message"))
        sys.exit(1)
    print(status, d.get("model"))
    sys.exit(0 if status == 200 and d.get("choices") else 1)


main()
