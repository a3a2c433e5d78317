#!/usr/bin/python3
"""Mock LLM API upstream for the llmroute tests.

llmroute is LD_PRELOADed into real programs (curl, Python, PHP, Node.js, ...)
and the tests point those programs at this server instead of a real LLM
provider.  It speaks just enough of each provider's HTTP API for clients and
for the router's usage accounting to work:

  OpenAI     .../chat/completions  .../completions  .../responses
             .../embeddings  (also Azure /openai/deployments/DEP/...)
  Anthropic  .../messages
  Gemini     .../models/MODEL:generateContent  .../models/MODEL:streamGenerateContent
  Ollama     /api/chat  /api/generate  /api/embed
  /echo      returns the request body unchanged (non-LLM pass-through tests)

Answers are deterministic so tests can check the numbers the router records:
input tokens = max(1, len(request body bytes) // 4), the reply text is
"mock reply from MODEL" and output tokens = its word count (4).  Every answer
carries x-mock-input-tokens, x-mock-output-tokens, x-mock-model and
x-mock-request (the log sequence number).  With "x-mock-echo: 1" the reply
text is "you said: " and the last message's text (OpenAI chat), so a test
can see what reached the model and what the app got back; "x-mock-echo:
split" streams that text in 4-byte deltas, cutting words across events.

Prompt caching: a request with the header "x-mock-cache: READ[,WRITE]" is
answered as if READ of its input tokens were read from the provider's prompt
cache and WRITE written to it (each cut to what is left of the input): OpenAI
chat and completions usage.prompt_tokens_details.cached_tokens, Responses
usage.input_tokens_details.cached_tokens (prompt and input tokens still count
them all), Anthropic cache_read_input_tokens and cache_creation_input_tokens
(its input_tokens then count only the rest, as Anthropic's do), Gemini
usageMetadata.cachedContentTokenCount.  Only Anthropic reports writes.

JSON mode: when the request asks for JSON output (OpenAI chat
response_format.type json_object or json_schema, Responses text.format.type
the same, Gemini generationConfig.responseMimeType "application/json", Ollama
"format": "json" or a schema object; Anthropic has no such flag), the reply
text is {"reply": "mock reply from MODEL"} (5 words, so 5 output tokens).

Faults can be injected with --fault or at run time through the control API
under /_mock/.  Error faults answer instead of the API: 400/429/500/503 (an error
object in the API's shape; a 429 says Retry-After: 1), 429noretry (a 429
without Retry-After), context (a 400 saying the prompt is too long for the
model's context window, in the API's own words: OpenAI's
context_length_exceeded, Anthropic's "prompt is too long", Gemini's
INVALID_ARGUMENT "exceeds the maximum number of tokens", Ollama's "exceeds the
context length"), slow=MS (answers late), drop (closes without an
answer), reset (closes with a TCP reset, without an answer), hang (answers
nothing until the client gives up), redirect=PORT
(answers 307 with Location: http://127.0.0.1:PORT and the same path and
query, as an endpoint that sends its clients to another host would).  Answer faults
still answer 200 in the API's shape, streamed or not, but change the answer
of the APIs with text (chat, completions, responses, Anthropic, Gemini,
Ollama chat and generate; embeddings and /echo answer as usual):
  empty    the reply text is "" (0 output tokens);
  length   the reply text is unchanged but the answer says the token limit
           cut it: finish_reason "length" (chat, completions), Responses
           status "incomplete" + incomplete_details.reason
           "max_output_tokens" (streamed: the last event is
           response.incomplete), stop_reason "max_tokens", finishReason
           "MAX_TOKENS", done_reason "length";
  refusal  the reply text is "I'm sorry, but I can't help with that."; in
           JSON mode, not streamed, OpenAI chat puts it in message.refusal
           with content null and Responses in a {"type": "refusal"} part,
           as OpenAI does for structured outputs;
  badjson  the reply text is the JSON-mode reply in a ```json fence, JSON
           mode or not (the answer a strict JSON parser rejects);
  long=N   the reply text is padded with " lorem" words to N bytes (for
           benchmarks of large answers);
  tool     (chat, Responses, Anthropic, Gemini, Ollama chat) the answer is a
           call to the first tool the request offers (else "mock_tool")
           with arguments {"q": "mock"}, finish reason tool_calls /
           tool_use / STOP / stop, streamed with the arguments in two
           pieces where the API streams them (5 output tokens);
  midstream a streamed answer stops after its first text with an error
           event in the API's shape (data: {"error": ...}, Anthropic and
           Responses "event: error", an Ollama {"error": ...} line);
           not streamed, the answer is as usual;
  stall    a streamed answer sends its head (200), then nothing until the
           client gives up (at most 60 s);
  stallmid a streamed answer sends its first text, then nothing until the
           client gives up;
  cutmid   a streamed answer sends its first text, then closes with a TCP
           reset;
  nodone   a streamed answer sends its first text, then ends cleanly
           without its end event ([DONE], message_stop...).
  (Not streamed, these four answer as usual.)
The 529 error fault is Anthropic's "overloaded" status (overloaded_error).
Answers changed by a fault carry x-mock-fault.  Every request except control
requests is logged, in memory and optionally as JSON lines in --log FILE.
GET /_mock/requests lists the logged requests; GET /_mock/responses lists
what was sent back for each (status, SHA-256 of the exact head bytes and of
the body payload, de-chunked), so tests can check that an app got an answer
byte for byte; POST /_mock/reset clears faults, requests and responses;
POST /_mock/fault/clear {"match": M} removes the faults with match M only (a
target recovers while the log goes on).
Each logged request has its headers with their values (credential checks
grep them), and where it arrived: "scheme" (http or https), "server" (the
listener's address:port) and "sni" (the TLS server name the client sent, or
null).

Standard library only; run it as /usr/bin/python3 tools/mock_upstream.py -h.
"""

import argparse
import base64
import fnmatch
import hashlib
import http.server
import json
import os
import re
import signal
import socket
import ssl
import struct
import sys
import tempfile
import threading
import time
import traceback

MAX_BODY = 64 << 20          # larger request bodies are refused
HANG_LIMIT_S = 60.0          # a "hang" fault gives up after this long
IDLE_TIMEOUT_S = 120         # idle keep-alive connections are closed
ANSWER_FAULTS = ("tool", "midstream", "empty", "length", "refusal", "badjson",
                 "stall", "stallmid", "cutmid", "nodone")  # answered 200, changed
FAULT_KINDS = ("400", "429", "500", "503", "529", "429noretry", "context", "drop", "reset", "hang") + ANSWER_FAULTS
FAULT_KIND_HELP = ("400, 429, 429noretry, 500, 503, 529, context, slow=MS, drop, reset, hang, redirect=PORT, "
                   "tool, midstream, empty, length, refusal, badjson, stall, stallmid, cutmid, nodone "
                   "or long=BYTES")


def answer_fault(kind):
    """Is this a fault that still answers 200, with a changed answer?"""
    return kind in ANSWER_FAULTS or (kind or "").startswith("long=")
REFUSAL_TEXT = "I'm sorry, but I can't help with that."
JSON_FORMATS = ("json_object", "json_schema")
FAULT_SPEC_RE = re.compile(r"^(?P<match>.+):(?P<kind>[^:,]+)(?:,count=(?P<count>\d+))?$")
GEMINI_RE = re.compile(r"/models/(?P<model>[^/:]+):(?P<method>generateContent|streamGenerateContent)$")
AZURE_RE = re.compile(r"/openai/deployments/(?P<dep>[^/]+)/")
ROUTES = (  # path suffix -> API; first match wins, so longer suffixes first
    ("/chat/completions", "chat"),
    ("/completions", "completions"),
    ("/responses", "responses"),
    ("/embeddings", "embeddings"),
    ("/messages", "anthropic"),
    ("/api/chat", "ollama_chat"),
    ("/api/generate", "ollama_generate"),
    ("/api/embed", "ollama_embed"),
    ("/echo", "echo"),
)


# --------------------------------------------------------------------------
# Faults and shared state

class Fault:
    """One injected fault: a matcher, a kind and an optional remaining count."""

    def __init__(self, match, kind, count=None):
        match, kind = str(match).strip(), str(kind).strip()
        if match != "*" and not re.match(r"^(model|path|method)=.+$", match):
            raise ValueError(f"bad fault match {match!r} (want *, model=GLOB, path=GLOB or method=GLOB)")
        if kind not in FAULT_KINDS and not re.fullmatch(r"(slow|long|redirect)=\d+", kind):
            raise ValueError(f"bad fault kind {kind!r} (want {FAULT_KIND_HELP})")
        if count is not None and (isinstance(count, bool) or int(count) < 1):
            raise ValueError(f"bad fault count {count!r} (want a positive integer)")
        self.match, self.kind = match, kind
        self.remaining = None if count is None else int(count)

    @classmethod
    def parse(cls, spec):
        """Parse 'MATCH:KIND[,count=N]', e.g. 'model=gpt-4o:429,count=2'."""
        m = FAULT_SPEC_RE.match(spec.strip())
        if not m:
            raise ValueError(f"bad fault spec {spec!r} (want MATCH:KIND[,count=N])")
        return cls(m["match"], m["kind"], m["count"])

    def matches(self, method, path, model):
        if self.match == "*":
            return True
        key, _, pattern = self.match.partition("=")
        value = {"model": model, "path": path, "method": method}[key]
        return value is not None and fnmatch.fnmatchcase(value, pattern)

    def describe(self):
        return {"match": self.match, "fault": self.kind, "count": self.remaining}


class State:
    """Faults and the request log, shared by all handler threads."""

    def __init__(self, log_path=None, faults=()):
        self.lock = threading.Lock()
        self.faults = list(faults)
        self.entries = []
        self.responses = []
        self.seq = 0
        self.log_file = open(log_path, "a", encoding="utf-8") if log_path else None

    def add_fault(self, fault):
        with self.lock:
            self.faults.append(fault)
            return [f.describe() for f in self.faults]

    def clear_faults(self, match):
        with self.lock:
            self.faults = [f for f in self.faults if f.match != match]
            return [f.describe() for f in self.faults]

    def list_faults(self):
        with self.lock:
            return [f.describe() for f in self.faults]

    def reset(self):
        with self.lock:
            self.faults.clear()
            self.entries.clear()
            self.responses.clear()

    def take_fault(self, method, path, model):
        """Return the kind of the first matching fault and use it up once."""
        with self.lock:
            for fault in self.faults:
                if fault.matches(method, path, model):
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining == 0:
                            self.faults.remove(fault)
                    return fault.kind
        return None

    def record(self, entry):
        """Number the entry, keep it and append it to the log file."""
        with self.lock:
            self.seq += 1
            entry = {"n": self.seq, **entry}
            self.entries.append(entry)
            if self.log_file:
                self.log_file.write(json.dumps(entry, ensure_ascii=False) + "\n")
                self.log_file.flush()
            return self.seq

    def requests(self):
        with self.lock:
            return list(self.entries)

    def add_response(self, r):
        with self.lock:
            self.responses.append(r)

    def sent_responses(self):
        with self.lock:
            return list(self.responses)


# --------------------------------------------------------------------------
# Request classification and the deterministic answer

def classify(path):
    """Which API a path belongs to, or None."""
    if GEMINI_RE.search(path):
        return "gemini"
    path = path.rstrip("/")
    for suffix, api in ROUTES:
        if path.endswith(suffix):
            return api
    return None


def parse_json(body):
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None


def model_of(path, data):
    """The model a request names: Azure deployment, Gemini path or body."""
    m = AZURE_RE.search(path) or GEMINI_RE.search(path)
    if m:
        return m.group(1)
    if isinstance(data, dict) and isinstance(data.get("model"), str):
        return data["model"]
    return None


def body_text(body):
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("latin-1")


def json_asked(api, data):
    """Whether the request asks for JSON output (Anthropic has no flag)."""
    def member(obj, *keys):
        for key in keys:
            obj = obj.get(key) if isinstance(obj, dict) else None
        return obj
    if api == "chat":
        return member(data, "response_format", "type") in JSON_FORMATS
    if api == "responses":
        return member(data, "text", "format", "type") in JSON_FORMATS
    if api == "gemini":
        return member(data, "generationConfig", "responseMimeType") == "application/json"
    if api in ("ollama_chat", "ollama_generate"):
        fmt = member(data, "format")
        return fmt == "json" or isinstance(fmt, dict)
    return False


def reply_text(model, json_mode, fault):
    """The reply of a call: plain or JSON, or what an answer fault makes it."""
    plain = f"mock reply from {model}"
    as_json = json.dumps({"reply": plain})
    if fault == "empty":
        return ""
    if fault == "refusal":
        return REFUSAL_TEXT
    if fault == "badjson":
        return f"```json\n{as_json}\n```"
    if fault and fault.startswith("long="):  # padded to that many bytes
        size = int(fault[5:])
        return (plain + " lorem" * (size // 6 + 1))[:max(size, len(plain))]
    return as_json if json_mode else plain


def last_text(data):
    """The last message's text content (OpenAI chat; text blocks, as
    Anthropic and a translated request have them, joined), "" if none."""
    msgs = data.get("messages") if isinstance(data, dict) else None
    if not isinstance(msgs, list) or not msgs or not isinstance(msgs[-1], dict):
        return ""
    c = msgs[-1].get("content")
    if isinstance(c, list):
        return "".join(p.get("text", "") for p in c if isinstance(p, dict) and p.get("type") == "text"
                       and isinstance(p.get("text"), str))
    return c if isinstance(c, str) else ""


class Call:
    """One LLM request and the deterministic numbers of its answer."""

    def __init__(self, n, path, query, body, data, model, api=None, fault=None, cache=(0, 0), echo=False):
        self.n, self.path, self.query = n, path, query
        self.data = data
        self.model = model or "unknown"
        self.fault = fault if answer_fault(fault) else None
        self.json_mode = json_asked(api, data)
        self.tool = tool_offered(data) if self.fault == "tool" and api in TOOL_APIS else None
        self.reply = reply_text(self.model, self.json_mode, self.fault)
        if echo in ("1", "split"):
            self.reply = "you said: " + last_text(data)
        self.split = echo == "split"
        self.in_tok = max(1, len(body) // 4)
        self.out_tok = 5 if self.tool else len(self.reply.split())
        self.cache_read = min(cache[0], self.in_tok)
        self.cache_write = min(cache[1], self.in_tok - self.cache_read)
        self.created = int(time.time())

    def headers(self):
        out = {"x-mock-input-tokens": str(self.in_tok),
               "x-mock-output-tokens": str(self.out_tok),
               "x-mock-model": self.model, "x-mock-request": str(self.n)}
        if self.fault:
            out["x-mock-fault"] = self.fault
        return out

    def cut(self):
        """True if the answer must say the token limit cut it."""
        return self.fault == "length"

    def refusal_field(self):
        """OpenAI's refusal field instead of text: structured outputs only."""
        return self.fault == "refusal" and self.json_mode and not self.streaming()

    def pieces(self, n):
        """The reply split at word boundaries into n parts that join back
        (with x-mock-echo: split, into 4-byte parts: words cut across events)."""
        if self.split:
            return [self.reply[i:i + 4] for i in range(0, len(self.reply), 4)] or [""]
        words = self.reply.split(" ")
        n = min(n, len(words))
        size, extra = divmod(len(words), n)
        groups, start = [], 0
        for i in range(n):
            end = start + size + (i < extra)
            groups.append(" ".join(words[start:end]) + (" " if i < n - 1 else ""))
            start = end
        return groups

    def streaming(self):
        return self.data.get("stream") is True


def fake_vector(text, dims=8):
    seed = hashlib.sha256(str(text).encode("utf-8", "surrogatepass")).digest()
    return [round((seed[i % 32] - 127.5) / 127.5, 6) for i in range(dims)]


def embedding_inputs(value):
    return value if isinstance(value, list) and value else [value]


# --------------------------------------------------------------------------
# Per-API answers.  Each returns ("json", obj), ("sse", [(event, obj)]) or
# ("ndjson", [obj]).

def openai_cached(c, usage, details="prompt_tokens_details"):
    """The cached part of the prompt, as OpenAI says it (x-mock-cache)."""
    if c.cache_read:
        usage[details] = {"cached_tokens": c.cache_read, "audio_tokens": 0}
    return usage


def openai_chat(c):
    usage = openai_cached(c, {"prompt_tokens": c.in_tok, "completion_tokens": c.out_tok,
                              "total_tokens": c.in_tok + c.out_tok})
    base = {"id": f"chatcmpl-mock{c.n}", "created": c.created, "model": c.model,
            "system_fingerprint": None}
    finish = "length" if c.cut() else "stop"
    if not c.streaming():
        message = {"role": "assistant", "content": c.reply, "refusal": None}
        if c.refusal_field():
            message.update(content=None, refusal=c.reply)
        return "json", {**base, "object": "chat.completion", "usage": usage, "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}]}
    deltas = [{"content": p} for p in c.pieces(3)]
    deltas[0]["role"] = "assistant"
    choices = [{"index": 0, "delta": d, "logprobs": None, "finish_reason": None} for d in deltas]
    choices.append({"index": 0, "delta": {}, "logprobs": None, "finish_reason": finish})
    return openai_stream(c, {**base, "object": "chat.completion.chunk"}, choices, usage)


def openai_completions(c):
    usage = openai_cached(c, {"prompt_tokens": c.in_tok, "completion_tokens": c.out_tok,
                              "total_tokens": c.in_tok + c.out_tok})
    base = {"id": f"cmpl-mock{c.n}", "object": "text_completion", "created": c.created,
            "model": c.model, "system_fingerprint": None}
    finish = "length" if c.cut() else "stop"
    if not c.streaming():
        return "json", {**base, "usage": usage, "choices": [
            {"text": c.reply, "index": 0, "logprobs": None, "finish_reason": finish}]}
    choices = [{"text": p, "index": 0, "logprobs": None, "finish_reason": None} for p in c.pieces(3)]
    choices.append({"text": "", "index": 0, "logprobs": None, "finish_reason": finish})
    return openai_stream(c, base, choices, usage)


def openai_stream(c, base, choices, usage):
    """data: chunks, then a usage chunk if stream_options.include_usage, then [DONE]."""
    opts = c.data.get("stream_options")
    with_usage = isinstance(opts, dict) and opts.get("include_usage") is True
    extra = {"usage": None} if with_usage else {}
    events = [(None, {**base, "choices": [ch], **extra}) for ch in choices]
    if with_usage:
        events.append((None, {**base, "choices": [], "usage": usage}))
    events.append((None, "[DONE]"))
    return "sse", events


def openai_responses(c):
    usage = {"input_tokens": c.in_tok, "input_tokens_details": {"cached_tokens": c.cache_read},
             "output_tokens": c.out_tok, "output_tokens_details": {"reasoning_tokens": 0},
             "total_tokens": c.in_tok + c.out_tok}
    part = {"type": "output_text", "text": c.reply, "annotations": []}
    if c.refusal_field():
        part = {"type": "refusal", "refusal": c.reply}
    status = "incomplete" if c.cut() else "completed"
    item = {"type": "message", "id": f"msg_mock{c.n}", "status": status,
            "role": "assistant", "content": [part]}
    done = {"id": f"resp_mock{c.n}", "object": "response", "created_at": c.created,
            "status": status}
    if c.cut():
        done["incomplete_details"] = {"reason": "max_output_tokens"}
    done.update(model=c.model, output=[item], usage=usage)
    if not c.streaming():
        return "json", done
    return "sse", responses_events(c, done, item, part)


def responses_events(c, done, item, part):
    started = {**done, "status": "in_progress", "output": [], "usage": None}
    if "incomplete_details" in started:
        started["incomplete_details"] = None
    ids = {"item_id": item["id"], "output_index": 0, "content_index": 0}
    events = [("response.created", {"response": started}),
              ("response.in_progress", {"response": started}),
              ("response.output_item.added", {"output_index": 0,
                                              "item": {**item, "status": "in_progress", "content": []}}),
              ("response.content_part.added", {**ids, "part": {**part, "text": ""}})]
    events += [("response.output_text.delta", {**ids, "delta": p}) for p in c.pieces(3)]
    events += [("response.output_text.done", {**ids, "text": c.reply}),
               ("response.content_part.done", {**ids, "part": part}),
               ("response.output_item.done", {"output_index": 0, "item": item}),
               ("response.incomplete" if c.cut() else "response.completed", {"response": done})]
    return [(name, {"type": name, "sequence_number": i, **obj})
            for i, (name, obj) in enumerate(events)]


def openai_embeddings(c):
    inputs = embedding_inputs(c.data.get("input"))
    dims = c.data.get("dimensions")
    dims = dims if isinstance(dims, int) and 0 < dims <= 4096 else 8
    as_b64 = c.data.get("encoding_format") == "base64"
    data = []
    for i, text in enumerate(inputs):
        vec = fake_vector(text, dims)
        if as_b64:
            vec = base64.b64encode(struct.pack(f"<{dims}f", *vec)).decode("ascii")
        data.append({"object": "embedding", "index": i, "embedding": vec})
    return "json", {"object": "list", "data": data, "model": c.model,
                    "usage": {"prompt_tokens": c.in_tok, "total_tokens": c.in_tok}}


def anthropic_messages(c):
    stop = "max_tokens" if c.cut() else "end_turn"
    cache = {}
    if c.cache_read or c.cache_write:
        cache = {"cache_creation_input_tokens": c.cache_write,
                 "cache_read_input_tokens": c.cache_read}
    fresh = c.in_tok - c.cache_read - c.cache_write
    msg = {"id": f"msg_mock{c.n}", "type": "message", "role": "assistant", "model": c.model,
           "content": [{"type": "text", "text": c.reply}], "stop_reason": stop,
           "stop_sequence": None,
           "usage": {"input_tokens": fresh, **cache, "output_tokens": c.out_tok}}
    if not c.streaming():
        return "json", msg
    start = {**msg, "content": [], "stop_reason": None,
             "usage": {"input_tokens": fresh, **cache, "output_tokens": 0}}
    events = [("message_start", {"message": start}),
              ("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})]
    events += [("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": p}})
               for p in c.pieces(2)]
    events += [("content_block_stop", {"index": 0}),
               ("message_delta", {"delta": {"stop_reason": stop, "stop_sequence": None},
                                  "usage": {"output_tokens": c.out_tok}}),
               ("message_stop", {})]
    return "sse", [(name, {"type": name, **obj}) for name, obj in events]


def gemini(c):
    method = GEMINI_RE.search(c.path)["method"]
    usage = {"promptTokenCount": c.in_tok, "candidatesTokenCount": c.out_tok,
             "totalTokenCount": c.in_tok + c.out_tok}
    if c.cache_read:
        usage["cachedContentTokenCount"] = c.cache_read

    def chunk(text, last):
        cand = {"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}
        out = {"candidates": [cand], "modelVersion": c.model, "responseId": f"mock{c.n}"}
        if last:
            cand["finishReason"] = "MAX_TOKENS" if c.cut() else "STOP"
            out["usageMetadata"] = usage
        return out

    if method == "generateContent":
        return "json", chunk(c.reply, True)
    parts = c.pieces(3)
    chunks = [chunk(p, i == len(parts) - 1) for i, p in enumerate(parts)]
    if "sse" in re.findall(r"(?:^|&)alt=([^&]*)", c.query):
        return "sse", [(None, ch) for ch in chunks]
    return "json", chunks


def ollama_chat(c):
    return ollama_answer(c, lambda text: {"message": {"role": "assistant", "content": text}})


def ollama_generate(c):
    return ollama_answer(c, lambda text: {"response": text})


def ollama_answer(c, content):
    """One JSON object, or NDJSON pieces unless "stream": false."""
    created = time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime(c.created))
    base = {"model": c.model, "created_at": created}
    final = {**base, "done": True, "done_reason": "length" if c.cut() else "stop",
             "total_duration": 1000000,
             "load_duration": 100000, "prompt_eval_count": c.in_tok,
             "prompt_eval_duration": 200000, "eval_count": c.out_tok, "eval_duration": 700000}
    if c.data.get("stream") is False:
        return "json", {**final, **content(c.reply)}
    lines = [{**base, **content(p), "done": False} for p in c.pieces(3)]
    return "ndjson", lines + [{**final, **content("")}]


def ollama_embed(c):
    inputs = embedding_inputs(c.data.get("input"))
    return "json", {"model": c.model, "embeddings": [fake_vector(t) for t in inputs],
                    "total_duration": 1000000, "load_duration": 100000,
                    "prompt_eval_count": c.in_tok}


ANSWERS = {"chat": openai_chat, "completions": openai_completions,
           "responses": openai_responses, "embeddings": openai_embeddings,
           "anthropic": anthropic_messages, "gemini": gemini,
           "ollama_chat": ollama_chat, "ollama_generate": ollama_generate,
           "ollama_embed": ollama_embed}



# --------------------------------------------------------------------------
# Tool calls (the "tool" answer fault): a call to the first tool the request
# offers, in each API's shape, streamed (the arguments in two pieces where
# the API streams them) or not.  Fixtures for format translation.

TOOL_ARGS = {"q": "mock"}
TOOL_APIS = ("chat", "responses", "anthropic", "gemini", "ollama_chat")


def tool_offered(data):
    """The name of the first tool a request offers (OpenAI, Responses,
    Anthropic, Gemini or Ollama shape), or "mock_tool"."""
    tools = data.get("tools") if isinstance(data, dict) else None
    for t in tools if isinstance(tools, list) else []:
        if not isinstance(t, dict):
            continue
        decls = t.get("functionDeclarations")
        fn = t.get("function") if isinstance(t.get("function"), dict) else t
        if isinstance(decls, list) and decls and isinstance(decls[0], dict):
            fn = decls[0]
        if isinstance(fn.get("name"), str):
            return fn["name"]
    return "mock_tool"


def tool_args_pieces():
    text = json.dumps(TOOL_ARGS)
    return [text[:5], text[5:]]


def chat_tool(c):
    call = {"id": f"call_mock{c.n}", "type": "function",
            "function": {"name": c.tool, "arguments": json.dumps(TOOL_ARGS)}}
    base = {"id": f"chatcmpl-mock{c.n}", "created": c.created, "model": c.model,
            "system_fingerprint": None}
    usage = {"prompt_tokens": c.in_tok, "completion_tokens": c.out_tok,
             "total_tokens": c.in_tok + c.out_tok}
    if not c.streaming():
        message = {"role": "assistant", "content": None, "refusal": None, "tool_calls": [call]}
        return "json", {**base, "object": "chat.completion", "usage": usage, "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": "tool_calls"}]}
    first = {"role": "assistant", "content": None, "tool_calls": [
        {"index": 0, "id": call["id"], "type": "function",
         "function": {"name": c.tool, "arguments": ""}}]}
    deltas = [first] + [{"tool_calls": [{"index": 0, "function": {"arguments": p}}]}
                        for p in tool_args_pieces()]
    choices = [{"index": 0, "delta": d, "logprobs": None, "finish_reason": None} for d in deltas]
    choices.append({"index": 0, "delta": {}, "logprobs": None, "finish_reason": "tool_calls"})
    return openai_stream(c, {**base, "object": "chat.completion.chunk"}, choices, usage)


def responses_tool(c):
    usage = {"input_tokens": c.in_tok, "input_tokens_details": {"cached_tokens": 0},
             "output_tokens": c.out_tok, "output_tokens_details": {"reasoning_tokens": 0},
             "total_tokens": c.in_tok + c.out_tok}
    item = {"type": "function_call", "id": f"fc_mock{c.n}", "call_id": f"call_mock{c.n}",
            "name": c.tool, "arguments": json.dumps(TOOL_ARGS), "status": "completed"}
    done = {"id": f"resp_mock{c.n}", "object": "response", "created_at": c.created,
            "status": "completed", "model": c.model, "output": [item], "usage": usage}
    if not c.streaming():
        return "json", done
    started = {**done, "status": "in_progress", "output": [], "usage": None}
    ids = {"item_id": item["id"], "output_index": 0}
    events = [("response.created", {"response": started}),
              ("response.in_progress", {"response": started}),
              ("response.output_item.added", {"output_index": 0,
                                              "item": {**item, "arguments": "", "status": "in_progress"}})]
    events += [("response.function_call_arguments.delta", {**ids, "delta": p}) for p in tool_args_pieces()]
    events += [("response.function_call_arguments.done", {**ids, "arguments": item["arguments"]}),
               ("response.output_item.done", {"output_index": 0, "item": item}),
               ("response.completed", {"response": done})]
    return "sse", [(name, {"type": name, "sequence_number": i, **obj})
                   for i, (name, obj) in enumerate(events)]


def anthropic_tool(c):
    block = {"type": "tool_use", "id": f"toolu_mock{c.n}", "name": c.tool, "input": TOOL_ARGS}
    msg = {"id": f"msg_mock{c.n}", "type": "message", "role": "assistant", "model": c.model,
           "content": [block], "stop_reason": "tool_use", "stop_sequence": None,
           "usage": {"input_tokens": c.in_tok, "output_tokens": c.out_tok}}
    if not c.streaming():
        return "json", msg
    start = {**msg, "content": [], "stop_reason": None,
             "usage": {"input_tokens": c.in_tok, "output_tokens": 0}}
    events = [("message_start", {"message": start}),
              ("content_block_start", {"index": 0, "content_block": {**block, "input": {}}})]
    events += [("content_block_delta", {"index": 0, "delta": {"type": "input_json_delta",
                                                              "partial_json": p}})
               for p in tool_args_pieces()]
    events += [("content_block_stop", {"index": 0}),
               ("message_delta", {"delta": {"stop_reason": "tool_use", "stop_sequence": None},
                                  "usage": {"output_tokens": c.out_tok}}),
               ("message_stop", {})]
    return "sse", [(name, {"type": name, **obj}) for name, obj in events]


def gemini_tool(c):
    method = GEMINI_RE.search(c.path)["method"]
    out = {"candidates": [{"content": {"parts": [{"functionCall": {"name": c.tool, "args": TOOL_ARGS}}],
                                       "role": "model"}, "finishReason": "STOP", "index": 0}],
           "usageMetadata": {"promptTokenCount": c.in_tok, "candidatesTokenCount": c.out_tok,
                             "totalTokenCount": c.in_tok + c.out_tok},
           "modelVersion": c.model, "responseId": f"mock{c.n}"}
    if method == "generateContent":
        return "json", out
    if "sse" in re.findall(r"(?:^|&)alt=([^&]*)", c.query):
        return "sse", [(None, out)]
    return "json", [out]


def ollama_tool(c):
    created = time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime(c.created))
    message = {"role": "assistant", "content": "",
               "tool_calls": [{"function": {"name": c.tool, "arguments": TOOL_ARGS}}]}
    final = {"model": c.model, "created_at": created, "done": True, "done_reason": "stop",
             "total_duration": 1000000, "load_duration": 100000, "prompt_eval_count": c.in_tok,
             "prompt_eval_duration": 200000, "eval_count": c.out_tok, "eval_duration": 700000}
    if c.data.get("stream") is False:
        return "json", {**final, "message": message}
    return "ndjson", [{"model": c.model, "created_at": created, "message": message, "done": False},
                      {**final, "message": {"role": "assistant", "content": ""}}]


TOOL_ANSWERS = {"chat": chat_tool, "responses": responses_tool, "anthropic": anthropic_tool,
                "gemini": gemini_tool, "ollama_chat": ollama_tool}

# The "midstream" answer fault: a streamed answer cut after its first text by
# an error event in the API's shape (how many events make the first text).
MIDSTREAM_KEEP = {"chat": 1, "completions": 1, "responses": 5, "anthropic": 3, "gemini": 1,
                  "ollama_chat": 1, "ollama_generate": 1}


# The stream-cut answer faults: how the stream goes on after its first text
# (stall: after its head).
STREAM_CUTS = {"stall": "hang", "stallmid": "hang", "cutmid": "reset", "nodone": "end"}


def midstream_error(api, kind, kept):
    message = "mock fault midstream"
    if kind == "ndjson":
        return {"error": message}
    if api == "anthropic":
        return ("error", {"type": "error", "error": {"type": "overloaded_error", "message": message}})
    if api == "responses":
        return ("error", {"type": "error", "sequence_number": kept, "code": "server_error",
                          "message": message, "param": None})
    return (None, error_body(api, 503, message))


def context_error(api):
    """A 400 saying the prompt is longer than the model's context window,
    as each provider words it."""
    if api == "anthropic":
        return {"type": "error", "error": {"type": "invalid_request_error",
                                           "message": "prompt is too long: 210417 tokens > 200000 maximum"}}
    if api == "gemini":
        return {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message":
                          "The input token count (1200000) exceeds the maximum number of tokens "
                          "allowed (1048576)."}}
    if api and api.startswith("ollama"):
        return {"error": "input length exceeds the context length"}
    return {"error": {"message": "This model's maximum context length is 128000 tokens. However, your "
                                 "messages resulted in 130012 tokens. Please reduce the length of the messages.",
                      "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}}


def error_body(api, status, message):
    """An error object in the shape the API's clients expect."""
    if api == "anthropic":
        kind = {400: "invalid_request_error", 404: "not_found_error", 429: "rate_limit_error",
                503: "overloaded_error", 529: "overloaded_error"}.get(status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": message}}
    if api == "gemini":
        kind = {400: "INVALID_ARGUMENT", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED",
                503: "UNAVAILABLE", 529: "UNAVAILABLE"}.get(status, "INTERNAL")
        return {"error": {"code": status, "message": message, "status": kind}}
    if api and api.startswith("ollama"):
        return {"error": message}
    kind = {400: "invalid_request_error", 404: "not_found", 429: "rate_limit_exceeded",
            503: "service_unavailable"}.get(status, "server_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": kind}}


# --------------------------------------------------------------------------
# HTTP

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: with Nagle on, every
    # keep-alive request would wait ~40 ms for the client's delayed ACK.
    disable_nagle_algorithm = True
    timeout = IDLE_TIMEOUT_S

    def version_string(self):
        return "mock_upstream/1.0"

    def setup(self):
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(10)
            self.request.do_handshake()
        super().setup()

    def send_error(self, code, message=None, explain=None):
        """Errors found by http.server itself (bad request line...) as JSON."""
        self.close_connection = True
        message = message or self.responses.get(code, ("error",))[0]
        self.send_json(code, error_body(None, code, message), {"Connection": "close"})

    def log_message(self, fmt, *args):
        if self.server.verbose:
            super().log_message(fmt, *args)

    def dispatch(self):
        self.started = False
        self.cur_n = None
        try:
            self.handle_request()
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            self.close_connection = True
        except Exception:  # keep serving whatever went wrong
            traceback.print_exc()
            self.close_connection = True
            if not self.started:
                self.send_json(500, error_body(None, 500, "mock_upstream internal error"))

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = dispatch

    # ---- reading the request

    def split_target(self):
        target = self.path
        if "://" in target.split("?", 1)[0]:  # absolute-form (proxy style)
            target = "/" + target.split("://", 1)[1].partition("/")[2]
        path, _, query = target.partition("?")
        return path, query

    def read_body(self):
        """(body, error): Content-Length or chunked; error is None or a message."""
        te = self.headers.get("Transfer-Encoding")
        if te:
            if te.split(",")[-1].strip().lower() != "chunked":
                return b"", f"unsupported Transfer-Encoding {te!r}"
            return self.read_chunked()
        length = self.headers.get("Content-Length")
        if length is None:
            return b"", None
        if not length.strip().isdigit():
            return b"", f"bad Content-Length {length!r}"
        if int(length) > MAX_BODY:
            return b"", "request body too large"
        body = self.rfile.read(int(length))
        return body, None if len(body) == int(length) else "request body truncated"

    def read_chunked(self):
        parts, total = [], 0
        while True:
            line = self.rfile.readline(1024)
            size = line.split(b";")[0].strip()
            if not line.endswith(b"\n") or not re.fullmatch(rb"[0-9A-Fa-f]{1,16}", size):
                return b"".join(parts), "malformed chunk size line"
            size = int(size, 16)
            if size == 0:
                break
            total += size
            if total > MAX_BODY:
                return b"".join(parts), "request body too large"
            parts.append(self.rfile.read(size))
            if len(parts[-1]) != size or self.rfile.readline(3).strip() != b"":
                return b"".join(parts), "malformed chunk data"
        while True:  # trailer section, ended by an empty line
            line = self.rfile.readline(65537)
            if not line.endswith(b"\n"):
                return b"".join(parts), "malformed chunked trailer"
            if not line.strip():
                return b"".join(parts), None

    def header_dict(self):
        out = {}
        for name, value in self.headers.items():
            name = name.lower()
            out[name] = f"{out[name]}, {value}" if name in out else value
        return out

    # ---- writing answers

    def send_head(self, status, headers, length=None):
        self.started = True
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.cur_head = b"".join(self._headers_buffer) + b"\r\n"
        self.cur_status = status
        self.end_headers()

    def sent(self, body):
        """Note what went out for a logged request (/_mock/responses)."""
        if self.cur_n is not None:
            self.server.state.add_response({
                "request": self.cur_n, "status": self.cur_status,
                "head_sha256": hashlib.sha256(self.cur_head).hexdigest(),
                "body_sha256": hashlib.sha256(body).hexdigest(), "body_bytes": len(body)})

    def send_bytes(self, status, body, ctype, headers=None):
        self.send_head(status, {"Content-Type": ctype, **(headers or {})}, len(body))
        self.wfile.write(body)
        self.sent(body)

    def send_json(self, status, obj, headers=None):
        body = json.dumps(obj).encode("utf-8")
        self.send_bytes(status, body, "application/json", headers)

    def send_stream(self, kind, items, headers, tail=None):
        """SSE or NDJSON, one chunk per event (no chunking for HTTP/1.0 clients);
        then the end, or (tail) nothing until the client gives up ("hang"), a
        TCP reset ("reset"), or the end of the body without its last event."""
        ctype = "text/event-stream" if kind == "sse" else "application/x-ndjson"
        chunked = self.request_version != "HTTP/1.0"
        framing = {"Transfer-Encoding": "chunked"} if chunked else {"Connection": "close"}
        self.close_connection = self.close_connection or not chunked
        self.send_head(200, {"Content-Type": ctype, "Cache-Control": "no-cache",
                             **framing, **headers})
        payload = []
        for item in items:
            data = encode_event(kind, item)
            payload.append(data)
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
            self.wfile.flush()
        if tail in ("hang", "reset"):
            self.sent(b"".join(payload))
            if tail == "hang":
                return self.hang()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return None
        if chunked:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        self.sent(b"".join(payload))

    # ---- the request

    def handle_request(self):
        path, query = self.split_target()
        body, error = self.read_body()
        if error:
            self.close_connection = True  # the framing is lost
        if path.startswith("/_mock/"):
            if error:
                return self.send_json(400, error_body(None, 400, error))
            return self.control(path, body)
        data = parse_json(body) if body else None
        api, model = classify(path), model_of(path, data)
        fault = self.server.state.take_fault(self.command, path, model)
        n = self.cur_n = self.server.state.record({
            "time": time.time(), "method": self.command, "path": path, "query": query,
            "headers": self.header_dict(), "body": body_text(body),
            "body_b64": base64.b64encode(body).decode("ascii"),
            "body_sha256": hashlib.sha256(body).hexdigest(), "model": model, "fault": fault,
            **self.where()})
        if fault and not self.apply_fault(fault, api, n):
            return
        self.answer(api, n, path, query, body, data, model, error, fault)

    def where(self):
        """Where the request arrived: the listener, its scheme and, over TLS,
        the server name the client asked for (SNI), so a test with several
        mocks can tell which name and address a client meant."""
        host, port = self.server.server_address[:2]
        tls = isinstance(self.request, ssl.SSLSocket)
        return {"scheme": "https" if tls else "http", "server": f"{host}:{port}",
                "sni": getattr(self.request, "mock_sni", None) if tls else None}

    def apply_fault(self, fault, api, n):
        """Carry out a fault; True if the request should still be answered
        (slow, or an answer fault, which Call carries out)."""
        if answer_fault(fault):
            return True
        if fault.startswith("slow="):
            time.sleep(int(fault[5:]) / 1000.0)
            return True
        if fault.startswith("redirect="):
            loc = f"http://127.0.0.1:{fault[9:]}{self.path if self.path.startswith('/') else '/'}"
            self.send_json(307, error_body(api, 307, "mock fault redirect"),
                           {"Location": loc, "x-mock-request": str(n), "x-mock-fault": fault})
        elif fault == "drop":
            self.close_connection = True
        elif fault == "reset":  # SO_LINGER 0: the close sends a RST
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
        elif fault == "context":
            self.send_json(400, context_error(api), {"x-mock-request": str(n), "x-mock-fault": fault})
        elif fault == "429noretry":
            self.send_json(429, error_body(api, 429, "mock fault 429, no Retry-After"),
                           {"x-mock-request": str(n), "x-mock-fault": fault})
        elif fault == "hang":
            self.hang()
        else:
            status = int(fault)
            headers = {"x-mock-request": str(n), "x-mock-fault": fault}
            if status == 429:
                headers["Retry-After"] = "1"
            self.send_json(status, error_body(api, status, f"mock fault {fault}"), headers)
        return False

    def hang(self):
        """Answer nothing until the client closes (at most HANG_LIMIT_S)."""
        self.close_connection = True
        deadline = time.monotonic() + HANG_LIMIT_S
        self.connection.settimeout(0.5)
        while time.monotonic() < deadline:
            try:
                if not self.connection.recv(4096):
                    return
            except socket.timeout:
                continue
            except OSError:
                return

    def answer(self, api, n, path, query, body, data, model, error, fault=None):
        mark = {"x-mock-request": str(n)}
        if error:
            return self.send_json(400, error_body(api, 400, error), mark)
        if api == "echo":
            return self.send_bytes(200, body, "application/octet-stream", mark)
        if api is None:
            return self.send_json(404, error_body(None, 404, f"no mock endpoint for {path}"), mark)
        if not isinstance(data, dict):
            return self.send_json(400, error_body(api, 400, "request body must be a JSON object"), mark)
        text_api = api not in ("embeddings", "ollama_embed")
        call = Call(n, path, query, body, data, model, api, fault if text_api else None,
                    self.cache_asked(), self.headers.get("x-mock-echo"))
        kind, payload = (TOOL_ANSWERS[api] if call.tool else ANSWERS[api])(call)
        tail = None
        if call.fault == "midstream" and kind in ("sse", "ndjson"):
            keep = MIDSTREAM_KEEP.get(api, 1)
            payload = payload[:keep] + [midstream_error(api, kind, keep)]
        elif call.fault in STREAM_CUTS and kind in ("sse", "ndjson"):
            keep = 0 if call.fault == "stall" else MIDSTREAM_KEEP.get(api, 1)
            payload, tail = payload[:keep], STREAM_CUTS[call.fault]
        if kind == "json":
            return self.send_json(200, payload, call.headers())
        self.send_stream(kind, payload, call.headers(), tail)

    def cache_asked(self):
        """(read, write) tokens from an "x-mock-cache: READ[,WRITE]" header."""
        spec = self.headers.get("x-mock-cache") or ""
        parts = [p.strip() for p in spec.split(",")][:2]
        nums = [int(p) for p in parts if p.isdigit()]
        return (nums + [0, 0])[:2] if len(nums) == len(parts) else (0, 0)

    def control(self, path, body):
        state, method = self.server.state, self.command
        if path == "/_mock/health" and method == "GET":
            return self.send_bytes(200, b"ok", "text/plain")
        if path == "/_mock/requests" and method == "GET":
            return self.send_json(200, state.requests())
        if path == "/_mock/responses" and method == "GET":
            return self.send_json(200, state.sent_responses())
        if path == "/_mock/faults" and method == "GET":
            return self.send_json(200, state.list_faults())
        if path == "/_mock/reset" and method == "POST":
            state.reset()
            return self.send_json(200, {"ok": True})
        if path == "/_mock/fault" and method == "POST":
            return self.control_fault(body)
        if path == "/_mock/fault/clear" and method == "POST":
            spec = parse_json(body) if body else None
            if not isinstance(spec, dict) or not isinstance(spec.get("match"), str):
                return self.send_json(400, error_body(None, 400, 'want {"match": M}'))
            return self.send_json(200, {"ok": True, "faults": state.clear_faults(spec["match"].strip())})
        return self.send_json(404, error_body(None, 404, f"no control endpoint {method} {path}"))

    def control_fault(self, body):
        spec = parse_json(body) if body else None
        try:
            if not isinstance(spec, dict):
                raise ValueError('want a JSON object {"match": ..., "fault": ..., "count": N}')
            fault = Fault(spec.get("match", "*"), spec.get("fault", ""), spec.get("count"))
        except (ValueError, TypeError) as exc:
            return self.send_json(400, error_body(None, 400, str(exc)))
        self.send_json(200, {"ok": True, "faults": self.server.state.add_fault(fault)})


def encode_event(kind, item):
    if kind == "ndjson":
        return json.dumps(item).encode("utf-8") + b"\n"
    event, obj = item
    data = obj if isinstance(obj, str) else json.dumps(obj)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {data}\n\n".encode("utf-8")


class MockServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address, state, verbose=False):
        self.state, self.verbose = state, verbose
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, Handler)

    def handle_error(self, request, client_address):
        if self.verbose or not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


# --------------------------------------------------------------------------
# Command line

def fault_arg(spec):
    try:
        return Fault.parse(spec)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parse_args(argv):
    p = argparse.ArgumentParser(description="Mock LLM API upstream for the llmroute tests.")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port to bind (default 0: ephemeral)")
    p.add_argument("--port-file", help="write the bound port number to this file")
    p.add_argument("--log", help="append one JSON line per request to this file")
    p.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM)")
    p.add_argument("--tls-key", help="private key for --tls-cert (PEM)")
    p.add_argument("--fault", action="append", default=[], type=fault_arg, metavar="SPEC",
                   help="MATCH:KIND[,count=N]; MATCH is *, model=GLOB, path=GLOB or "
                        f"method=GLOB; KIND is {FAULT_KIND_HELP} (see the top of this file)")
    p.add_argument("--verbose", action="store_true", help="log each request to stderr")
    args = p.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        p.error("--tls-cert and --tls-key go together")
    return args


def write_port_file(path, port):
    """Write atomically, so a reader never sees a partial file."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".port.")
    with os.fdopen(fd, "w") as f:
        f.write(f"{port}\n")
    os.replace(tmp, path)


def remember_sni(sock, name, _ctx):
    """Keep the server name of the handshake on the socket (logged as sni)."""
    try:
        sock.mock_sni = name
    except AttributeError:
        pass


def enable_tls(server, cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(["http/1.1"])
    ctx.sni_callback = remember_sni
    # The handshake runs in the connection's thread (Handler.setup), so a
    # stalled client cannot block accept().
    server.socket = ctx.wrap_socket(server.socket, server_side=True,
                                    do_handshake_on_connect=False)


def main(argv=None):
    args = parse_args(argv)
    server = MockServer((args.host, args.port), State(args.log, args.fault), args.verbose)
    if args.tls_cert:
        enable_tls(server, args.tls_cert, args.tls_key)
    port = server.server_address[1]
    if args.port_file:
        write_port_file(args.port_file, port)
    print(f"mock_upstream listening on {args.host}:{port}", file=sys.stderr, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
