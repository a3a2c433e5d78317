#!/usr/bin/python3
"""xlate_client.py - an app written against one LLM API (OpenAI chat or
Anthropic messages), with Python's http.client and nothing else, run
unchanged under llmroute by tests/t_xlate_e2e.sh.

usage: xlate_client.py URL API MODEL [stream] [tool] [key=K]
       xlate_client.py --parse API STATUS FILE [stream]  (an answer curl got)
  API: openai (POST URL with Authorization: Bearer) or anthropic (x-api-key
  and anthropic-version).  Parses the answer as that API's client would
  (JSON, or its own SSE events) and prints one JSON line:
  {"status", "text", "tools": [[name, args-object]...], "finish",
   "usage": [input, output], "events": n, "error": message-or-null,
   "error_type", "content_type"}.
It fails (exit 2) on an answer its API's SDK could not read: SSE that is
not its own event shapes, an OpenAI stream without [DONE] (or an error
chunk), an Anthropic stream without message_stop (or an error event).
"""
import http.client
import json
import sys
import urllib.parse

PARSE = sys.argv[1] == "--parse"  # --parse API STATUS FILE [stream]: read an answer another client got
if PARSE:
    api, status, path, flags, url, model = sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5:], "", ""
else:
    url, api, model = sys.argv[1], sys.argv[2], sys.argv[3]
    flags = sys.argv[4:]
stream, tool = "stream" in flags, "tool" in flags
key = next((f[4:] for f in flags if f.startswith("key=")), "sk-app")
TOOLS = [{"name": "get_weather", "description": "weather", "schema": {
    "type": "object", "properties": {"q": {"type": "string"}}}}]


def request_body():
    msgs = [{"role": "user", "content": "Say hello"}]
    if api == "openai":
        b = {"model": model, "messages": [{"role": "system", "content": "be brief"}] + msgs}
        if stream:
            b.update(stream=True, stream_options={"include_usage": True})
        if tool:
            b["tools"] = [{"type": "function", "function": {"name": t["name"], "description": t["description"],
                                                             "parameters": t["schema"]}} for t in TOOLS]
        return b, {"Authorization": "Bearer " + key}
    b = {"model": model, "max_tokens": 100, "system": "be brief", "messages": msgs}
    if stream:
        b["stream"] = True
    if tool:
        b["tools"] = [{"name": t["name"], "description": t["description"], "input_schema": t["schema"]}
                      for t in TOOLS]
    return b, {"x-api-key": key, "anthropic-version": "2023-06-01"}


def sse(data):
    """(event, data) pairs of an SSE body."""
    for block in data.replace("\r\n", "\n").split("\n\n"):
        ev, lines = None, []
        for line in block.split("\n"):
            if line.startswith("event:"):
                ev = line[6:].strip()
            elif line.startswith("data:"):
                lines.append(line[5:].lstrip())
        if lines:
            yield ev, "\n".join(lines)


def die(msg):
    print(msg, file=sys.stderr)
    sys.exit(2)


def openai_answer(out, body):
    d = json.loads(body)
    m = d["choices"][0]["message"]
    out["text"] = m.get("content") or ""
    for c in m.get("tool_calls") or []:
        out["tools"].append([c["function"]["name"], json.loads(c["function"]["arguments"])])
    out["finish"] = d["choices"][0]["finish_reason"]
    if "usage" in d:
        out["usage"] = [d["usage"]["prompt_tokens"], d["usage"]["completion_tokens"]]


def openai_stream(out, body):
    calls, done = {}, False
    for _, data in sse(body):
        if done:
            die("data after [DONE]")
        if data == "[DONE]":
            done = True
            continue
        d = json.loads(data)
        if "error" in d:
            out["error"] = d["error"].get("message")
            continue
        if d.get("object") != "chat.completion.chunk":
            die("not a chunk: " + data)
        out["events"] += 1
        if d.get("usage"):
            out["usage"] = [d["usage"]["prompt_tokens"], d["usage"]["completion_tokens"]]
        for ch in d["choices"]:
            dl = ch.get("delta", {})
            out["text"] += dl.get("content") or ""
            for tc in dl.get("tool_calls") or []:
                c = calls.setdefault(tc["index"], ["", ""])
                c[0] += tc.get("function", {}).get("name") or ""
                c[1] += tc.get("function", {}).get("arguments") or ""
            if ch.get("finish_reason"):
                out["finish"] = ch["finish_reason"]
    if not done and not out["error"]:  # a stream cut by an error ends without [DONE], as OpenAI's
        die("no [DONE]")
    out["tools"] = [[n, json.loads(a)] for n, a in (calls[i] for i in sorted(calls))]


def anthropic_answer(out, body):
    d = json.loads(body)
    if d.get("type") != "message":
        die("not a message: " + body)
    for b in d["content"]:
        if b["type"] == "text":
            out["text"] += b["text"]
        elif b["type"] == "tool_use":
            out["tools"].append([b["name"], b["input"]])
    out["finish"] = d["stop_reason"]
    out["usage"] = [d["usage"]["input_tokens"], d["usage"]["output_tokens"]]


def anthropic_stream(out, body):
    blocks, seen = {}, []
    usage = [0, 0]
    for ev, data in sse(body):
        d = json.loads(data)
        if ev != d.get("type"):
            die("event name %s, type %s" % (ev, d.get("type")))
        seen.append(ev)
        out["events"] += 1
        if ev == "message_start":
            usage[0] = d["message"]["usage"]["input_tokens"]
        elif ev == "content_block_start":
            cb = d["content_block"]
            blocks[d["index"]] = [cb["type"], cb.get("name"), ""]
        elif ev == "content_block_delta":
            dl = d["delta"]
            if dl["type"] == "text_delta":
                out["text"] += dl["text"]
            elif dl["type"] == "input_json_delta":
                blocks[d["index"]][2] += dl["partial_json"]
        elif ev == "message_delta":
            out["finish"] = d["delta"].get("stop_reason")
            usage[1] = d.get("usage", {}).get("output_tokens", 0)
        elif ev == "error":
            out["error"] = d["error"]["message"]
    if not out["error"] and (not seen or seen[0] != "message_start" or seen[-1] != "message_stop"):
        die("events: %s" % seen)
    out["usage"] = usage
    out["tools"] = [[b[1], json.loads(b[2] or "{}")] for i, b in sorted(blocks.items()) if b[0] == "tool_use"]


def main():
    if PARSE:
        status, ctype, data = globals()["status"], None, open(path).read()
    else:
        u = urllib.parse.urlsplit(url)
        body, headers = request_body()
        headers["Content-Type"] = "application/json"
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        c.request("POST", u.path, body=json.dumps(body), headers=headers)
        r = c.getresponse()
        status, ctype, data = r.status, r.getheader("content-type"), r.read().decode()
    out = {"status": status, "text": "", "tools": [], "finish": None, "usage": None, "events": 0,
           "error": None, "error_type": None, "content_type": ctype}
    if status >= 400:
        e = json.loads(data)
        if api == "anthropic" and e.get("type") != "error":
            die("not an Anthropic error: " + data)
        out["error"] = e["error"]["message"]
        out["error_type"] = e["error"]["type"]
    elif api == "openai":
        (openai_stream if stream else openai_answer)(out, data)
    else:
        (anthropic_stream if stream else anthropic_answer)(out, data)
    print(json.dumps(out))


main()
