#!/usr/bin/python3
"""stream_check.py - what an app made of an event stream it received.

usage: stream_check.py FILE openai|anthropic EXPR

Reads the SSE stream in FILE as an SDK would and evaluates the Python
expression EXPR over: text (the answer's text, joined), events (the
parsed data objects, in order), names (Anthropic event names), done (the
number of `data: [DONE]`), last (the last data payload, raw), errors (the
error events), usage (the last usage object seen).  Exits 0 if EXPR is
true; otherwise prints what it saw.
"""
import json
import sys


def main():
    path, fmt, expr = sys.argv[1:4]
    raw = open(path, "rb").read().decode("utf-8", "replace")
    events, names, errors, text, done, last, usage = [], [], [], "", 0, None, None
    for block in raw.replace("\r\n", "\n").split("\n\n"):
        name, data = None, None
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data = line[5:].strip()
        if data is None:
            continue
        last = data
        if data == "[DONE]":
            done += 1
            continue
        obj = json.loads(data)
        events.append(obj)
        names.append(name)
        if "error" in obj and (fmt == "openai" or obj.get("type") == "error"):
            errors.append(obj)
            continue
        if fmt == "openai":
            for ch in obj.get("choices") or []:
                text += (ch.get("delta") or {}).get("content") or ""
            usage = obj.get("usage") or usage
        elif obj.get("type") == "content_block_delta":
            text += obj["delta"].get("text", "")
        elif obj.get("type") == "message_delta":
            usage = obj.get("usage") or usage
    env = {"text": text, "events": events, "names": names, "done": done, "last": last,
           "errors": errors, "usage": usage}
    if eval(expr, env):
        return 0
    sys.stderr.write("  stream: text=%r done=%d names=%s errors=%s usage=%s last=%.120r\n" % (
        text, done, names, errors, usage, last))
    return 1


if __name__ == "__main__":
    sys.exit(main())
