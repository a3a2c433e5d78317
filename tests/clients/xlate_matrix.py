#!/usr/bin/python3
"""xlate_matrix.py - many apps in one process: each case is a request an
unmodified program speaking one LLM API (OpenAI chat, Azure OpenAI,
Anthropic messages, Gemini generateContent, OpenAI Responses, Ollama
/api/chat) would make with Python's http.client (http or https), sent to a
route that names another format (tests/t_xlate_e2e.sh, t_xlate_tls.sh).
One process for all cases keeps the tests fast: a Python start under the
shim costs more than a request.

usage: xlate_matrix.py BASE LOG CTL CASE...
  BASE  the app's scheme://host[:port]
  LOG   the mock log of the host the routes send to (its last record is the
        request the target got)
  CTL   the base URL of that mock's control API (faults)
  CASE  APP>TARGET[/stream][/tool][/err=STATUS][/nokey]: the app speaks
        APP, its model is "to-TARGET" (the test's rules route it to TARGET;
        with nokey "nokey-TARGET", a route without a key of its own);
        tool: the app offers a tool and the target calls it; err: the
        target answers STATUS, the app must get its own error shape and
        status

For each case it prints "ok - NAME" or "not ok - NAME: WHY" lines, checked
both at the app (its answer read as its SDK would: JSON, SSE or NDJSON of
its own shapes) and at the target (its path, its key header, and no app
key anywhere in its headers).  Exit 0 unless it could not run at all.
"""
import http.client
import subprocess
import json
import ssl
import sys
import urllib.parse
import urllib.request

APP_KEY = "sk-app-secret"
TARGET_MODEL = {"openai": "gpt-t", "anthropic": "claude-t", "gemini": "gemini-t",
                "ollama": "llama-t", "responses": "gpt-r", "azure": "az-t"}
TARGET_PATH = {"openai": "/v1/chat/completions", "anthropic": "/v1/messages",
               "gemini": "/v1beta/models/gemini-t:", "ollama": "/api/chat",
               "responses": "/v1/responses", "azure": "/openai/deployments/az-t/chat/completions"}
TARGET_KEY = {"openai": ("authorization", "Bearer sk-oai-route"), "anthropic": ("x-api-key", "sk-ant-route"),
              "gemini": ("x-goog-api-key", "gem-route"), "ollama": None,
              "responses": ("authorization", "Bearer sk-oai-route"), "azure": ("api-key", "az-route")}
ERROR_SHAPE = {  # app -> (status for a target's 429, type/status string the app's SDK reads)
    "openai": (429, ("rate_limit_error", "rate_limit_exceeded")),
    "azure": (429, ("rate_limit_error", "rate_limit_exceeded")),
    "responses": (429, ("rate_limit_error", "rate_limit_exceeded")),
    "anthropic": (429, ("rate_limit_error",)),
    "gemini": (429, ("RESOURCE_EXHAUSTED",)),
    "ollama": (429, None)}
SCHEMA = {"type": "object", "properties": {"q": {"type": "string"}}}


class Bad(Exception):
    pass


def request(app, model, stream, tool):
    """(path, headers, body) of APP's request."""
    user = [{"role": "user", "content": "Say hello"}]
    fn = {"name": "get_weather", "description": "weather", "parameters": SCHEMA}
    if app in ("openai", "azure"):
        b = {"messages": [{"role": "system", "content": "be brief"}] + user}
        if stream:
            b.update(stream=True, stream_options={"include_usage": True})
        if tool:
            b["tools"] = [{"type": "function", "function": fn}]
        if app == "openai":
            b["model"] = model
            return "/v1/chat/completions", {"Authorization": "Bearer " + APP_KEY}, b
        return ("/openai/deployments/%s/chat/completions?api-version=2024-10-21" % model,
                {"api-key": APP_KEY}, b)
    if app == "anthropic":
        b = {"model": model, "max_tokens": 100, "system": "be brief", "messages": user, "stream": stream}
        if tool:
            b["tools"] = [{"name": fn["name"], "description": fn["description"], "input_schema": SCHEMA}]
        return "/v1/messages", {"x-api-key": APP_KEY, "anthropic-version": "2023-06-01"}, b
    if app == "gemini":
        b = {"systemInstruction": {"parts": [{"text": "be brief"}]},
             "contents": [{"role": "user", "parts": [{"text": "Say hello"}]}],
             "generationConfig": {"maxOutputTokens": 100}}
        if tool:
            b["tools"] = [{"functionDeclarations": [fn]}]
        op = "streamGenerateContent?alt=sse" if stream else "generateContent"
        return "/v1beta/models/%s:%s" % (model, op), {"x-goog-api-key": APP_KEY}, b
    if app == "responses":
        b = {"model": model, "instructions": "be brief", "max_output_tokens": 100, "stream": stream,
             "input": [{"role": "user", "content": [{"type": "input_text", "text": "Say hello"}]}]}
        if tool:
            b["tools"] = [dict(type="function", **fn)]
        return "/v1/responses", {"Authorization": "Bearer " + APP_KEY}, b
    b = {"model": model, "stream": stream, "messages": [{"role": "system", "content": "be brief"}] + user}
    if tool:
        b["tools"] = [{"type": "function", "function": fn}]
    return "/api/chat", {"Authorization": "Bearer " + APP_KEY}, b


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


def new_out():
    return {"text": "", "tools": [], "finish": None, "usage": None}


def parse_openai(body, stream):
    out = new_out()
    if not stream:
        d = json.loads(body)
        m = d["choices"][0]["message"]
        out["text"] = m.get("content") or ""
        out["tools"] = [[c["function"]["name"], json.loads(c["function"]["arguments"])]
                        for c in m.get("tool_calls") or []]
        out["finish"] = d["choices"][0]["finish_reason"]
        if d.get("usage"):
            out["usage"] = [d["usage"]["prompt_tokens"], d["usage"]["completion_tokens"]]
        return out
    calls, done = {}, False
    for _, data in sse(body):
        if done:
            raise Bad("data after [DONE]")
        if data == "[DONE]":
            done = True
            continue
        d = json.loads(data)
        if d.get("object") != "chat.completion.chunk":
            raise Bad("not a chunk: " + data[:200])
        if d.get("usage"):
            out["usage"] = [d["usage"]["prompt_tokens"], d["usage"]["completion_tokens"]]
        for ch in d["choices"]:
            dl = ch.get("delta", {})
            out["text"] += dl.get("content") or ""
            for tc in dl.get("tool_calls") or []:
                c = calls.setdefault(tc["index"], ["", ""])
                c[0] += tc.get("function", {}).get("name") or ""
                c[1] += tc.get("function", {}).get("arguments") or ""
            out["finish"] = ch.get("finish_reason") or out["finish"]
    if not done:
        raise Bad("no [DONE]")
    out["tools"] = [[n, json.loads(a)] for n, a in (calls[i] for i in sorted(calls))]
    return out


def parse_anthropic(body, stream):
    out = new_out()
    if not stream:
        d = json.loads(body)
        if d.get("type") != "message":
            raise Bad("not a message")
        for b in d["content"]:
            if b["type"] == "text":
                out["text"] += b["text"]
            elif b["type"] == "tool_use":
                out["tools"].append([b["name"], b["input"]])
        out["finish"] = d["stop_reason"]
        out["usage"] = [d["usage"]["input_tokens"], d["usage"]["output_tokens"]]
        return out
    blocks, seen, usage = {}, [], [0, 0]
    for ev, data in sse(body):
        d = json.loads(data)
        if ev != d.get("type"):
            raise Bad("event %s, type %s" % (ev, d.get("type")))
        seen.append(ev)
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
    if not seen or seen[0] != "message_start" or seen[-1] != "message_stop":
        raise Bad("events: %s" % seen)
    out["usage"] = usage
    out["tools"] = [[b[1], json.loads(b[2] or "{}")] for _, b in sorted(blocks.items()) if b[0] == "tool_use"]
    return out


def gemini_chunk(out, d):
    c = d["candidates"][0]
    for p in c.get("content", {}).get("parts", []):
        if "text" in p:
            out["text"] += p["text"]
        if "functionCall" in p:
            out["tools"].append([p["functionCall"]["name"], p["functionCall"].get("args", {})])
    out["finish"] = c.get("finishReason") or out["finish"]
    u = d.get("usageMetadata")
    if u:
        out["usage"] = [u.get("promptTokenCount", 0), u.get("candidatesTokenCount", 0)]


def parse_gemini(body, stream):
    out = new_out()
    chunks = [json.loads(data) for _, data in sse(body)] if stream else [json.loads(body)]
    for d in chunks:
        gemini_chunk(out, d)
    if not out["finish"]:
        raise Bad("no finishReason")
    return out


def responses_final(out, d):
    for item in d["output"]:
        if item["type"] == "message":
            out["text"] += "".join(p.get("text", "") for p in item["content"])
        elif item["type"] == "function_call":
            out["tools"].append([item["name"], json.loads(item["arguments"])])
    out["finish"] = d["status"]
    if d.get("usage"):
        out["usage"] = [d["usage"]["input_tokens"], d["usage"]["output_tokens"]]


def parse_responses(body, stream):
    out = new_out()
    if not stream:
        responses_final(out, json.loads(body))
        return out
    deltas, final = "", None
    for ev, data in sse(body):
        d = json.loads(data)
        if ev != d.get("type"):
            raise Bad("event %s, type %s" % (ev, d.get("type")))
        if ev == "response.output_text.delta":
            deltas += d["delta"]
        elif ev in ("response.completed", "response.incomplete"):
            final = d["response"]
    if final is None:
        raise Bad("no response.completed")
    responses_final(out, final)
    if deltas != out["text"]:
        raise Bad("deltas %r, final text %r" % (deltas, out["text"]))
    return out


def parse_ollama(body, stream):
    out = new_out()
    lines = [json.loads(line) for line in body.splitlines() if line.strip()] if stream else [json.loads(body)]
    for d in lines:
        m = d.get("message", {})
        out["text"] += m.get("content") or ""
        out["tools"] += [[c["function"]["name"], c["function"]["arguments"]] for c in m.get("tool_calls") or []]
        if d.get("done"):
            out["finish"] = d.get("done_reason")
            out["usage"] = [d.get("prompt_eval_count", 0), d.get("eval_count", 0)]
    if not lines or not lines[-1].get("done"):
        raise Bad("no done")
    return out


PARSE = {"openai": parse_openai, "azure": parse_openai, "anthropic": parse_anthropic,
         "gemini": parse_gemini, "responses": parse_responses, "ollama": parse_ollama}
STOP = {"stop", "end_turn", "STOP", "completed"}
TOOL_STOP = {"tool_calls", "tool_use", "STOP", "completed", "stop"}


def error_kind(app, body):
    """The error type or status the app's SDK reads, or raises Bad."""
    e = json.loads(body)
    if app == "ollama":
        if not isinstance(e.get("error"), str):
            raise Bad("not an Ollama error")
        return None
    if app == "anthropic" and e.get("type") != "error":
        raise Bad("not an Anthropic error")
    if app == "gemini":
        return e["error"]["status"]
    return e["error"]["type"]


def connect(base):
    u = urllib.parse.urlsplit(base)
    if u.scheme == "https":
        return http.client.HTTPSConnection(u.hostname, u.port or 443, timeout=30,
                                           context=ssl.create_default_context())
    return http.client.HTTPConnection(u.hostname, u.port or 80, timeout=30)


def via_curl(url, headers, body):
    """The request sent by the curl command line (a child of this process,
    so under the shim too): its status and body."""
    cmd = ["curl", "-sS", "-N", "--max-time", "30", "-o", "-", "-w", "\n%{http_code}",
           "--data-binary", json.dumps(body)]
    for k, v in headers.items():
        cmd += ["-H", "%s: %s" % (k, v)]
    out = subprocess.run(cmd + [url], capture_output=True, check=False).stdout.decode()
    data, _, code = out.rpartition("\n")
    return int(code or 0), data


def fault(ctl, model, kind):
    req = urllib.request.Request(ctl + "/_mock/fault", method="POST", data=json.dumps(
        {"match": "model=" + model, "fault": kind, "count": 1}).encode())
    urllib.request.urlopen(req, timeout=10, context=ssl.create_default_context()
                           if ctl.startswith("https") else None).read()


def last_record(log):
    with open(log) as f:
        lines = f.read().splitlines()
    return json.loads(lines[-1]) if lines else {}


def check_target(target, rec, keycheck):
    path = rec.get("path", "")
    if not path.startswith(TARGET_PATH[target]):
        raise Bad("the target got %s" % path)
    hdrs = rec.get("headers", {})
    if "sk-app" in json.dumps(hdrs):
        raise Bad("the app's key reached the target: %s" % hdrs)
    want = TARGET_KEY[target]
    if not keycheck:  # no route key: no credential header at all
        if want and want[0] in hdrs:
            raise Bad("a key went to the target: %s" % hdrs)
    elif want and hdrs.get(want[0]) != want[1]:
        raise Bad("target key header %s: %s" % (want[0], hdrs.get(want[0])))


def run_case(base, log, ctl, spec):
    app, rest = spec.split(">", 1)
    target, *flags = rest.split("/")
    stream, tool = "stream" in flags, "tool" in flags
    err = next((int(f[4:]) for f in flags if f.startswith("err=")), None)
    model = TARGET_MODEL[target]
    if tool:
        fault(ctl, model, "tool")
    if err:
        fault(ctl, model, str(err))
    nokey = "nokey" in flags
    path, headers, body = request(app, ("nokey-" if nokey else "to-") + target, stream, tool)
    headers["Content-Type"] = "application/json"
    if "curl" in flags:  # the same request from the curl command line: the libcurl transport
        status, data = via_curl(base + path, headers, body)
    else:
        c = connect(base)
        c.request("POST", path, body=json.dumps(body), headers=headers)
        r = c.getresponse()
        status, data = r.status, r.read().decode()
        c.close()
    check_target(target, last_record(log), not nokey)
    if err:
        want_status, kinds = ERROR_SHAPE[app]
        kind = error_kind(app, data)
        if status != want_status or (kinds and kind not in kinds):
            raise Bad("status %d, error %s: %.200s" % (status, kind, data))
        return
    if status != 200:
        raise Bad("status %d: %.300s" % (status, data))
    out = PARSE[app](data, stream)
    if tool:
        if out["tools"] != [["get_weather", {"q": "mock"}]] or out["finish"] not in TOOL_STOP:
            raise Bad("tool answer %s" % out)
        return
    if out["text"] != "mock reply from " + model or out["finish"] not in STOP or \
            not out["usage"] or out["usage"][1] != 4:
        raise Bad("answer %s" % out)


def main():
    base, log, ctl = sys.argv[1:4]
    for spec in sys.argv[4:]:
        name = "%s app -> %s target (%s)" % (spec.split(">")[0], spec.split(">")[1].split("/")[0],
                                             " ".join(spec.split("/")[1:]) or "plain")
        try:
            run_case(base, log, ctl, spec)
            print("ok - " + name, flush=True)
        except (Bad, ValueError, KeyError, TypeError, IndexError, OSError, http.client.HTTPException) as e:
            print("not ok - %s: %s: %s" % (name, type(e).__name__, e), flush=True)


main()
