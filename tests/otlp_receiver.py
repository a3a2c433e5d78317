#!/usr/bin/python3
"""otlp_receiver.py - an OTLP/HTTP JSON logs receiver for t_otlp.sh.

POST /v1/logs: the body must be OTLP JSON as the Collector's decoder takes
it (resourceLogs / resource.attributes / scopeLogs / scope / logRecords,
int64 fields as decimal strings, each attribute value of exactly one
AnyValue kind, no unknown field).  A good batch is answered 200 and each
record appended to --out as one JSON line: its attributes as a plain
object, plus "_time" (timeUnixNano), "_sev" and "_batch".  A bad one is
answered 400 and the reason appended to --out + ".bad".  While
--status-file exists, every POST is answered with the status in it and
nothing is kept.  Every POST's Authorization header goes to --out + ".auth".
"""
import argparse
import http.server
import json
import os
import threading

ap = argparse.ArgumentParser()
ap.add_argument("--port-file", required=True)
ap.add_argument("--out", required=True)
ap.add_argument("--status-file")
args = ap.parse_args()
lock = threading.Lock()
batches = [0]
KINDS = {"stringValue": str, "boolValue": bool, "intValue": str, "doubleValue": (int, float)}


def keys_ok(obj, allowed, what):
    extra = set(obj) - set(allowed)
    if extra:
        raise ValueError("%s: unknown fields %s" % (what, sorted(extra)))


def value(v, what):
    if not isinstance(v, dict) or len(v) != 1:
        raise ValueError("%s: an AnyValue has exactly one kind" % what)
    (k, x), = v.items()
    if k not in KINDS or not isinstance(x, KINDS[k]) or (k == "boolValue") != isinstance(x, bool):
        raise ValueError("%s: bad AnyValue %r" % (what, v))
    if k == "intValue":
        int(x)
        return int(x)
    return x


def attrs(lst, what):
    out = {}
    if not isinstance(lst, list):
        raise ValueError(what + ": attributes is not a list")
    for a in lst:
        keys_ok(a, ["key", "value"], what)
        if not isinstance(a.get("key"), str) or a["key"] in out:
            raise ValueError(what + ": bad or repeated key")
        out[a["key"]] = value(a["value"], what + "." + a["key"])
    return out


def check(doc):
    keys_ok(doc, ["resourceLogs"], "root")
    recs = []
    for rl in doc["resourceLogs"]:
        keys_ok(rl, ["resource", "scopeLogs", "schemaUrl"], "resourceLogs")
        res = attrs(rl["resource"]["attributes"], "resource")
        if res.get("service.name") != "llmroute" or not res.get("host.name"):
            raise ValueError("resource: service.name and host.name wanted")
        for sl in rl["scopeLogs"]:
            keys_ok(sl, ["scope", "logRecords", "schemaUrl"], "scopeLogs")
            if not sl["scope"].get("name"):
                raise ValueError("scope: no name")
            for r in sl["logRecords"]:
                keys_ok(r, ["timeUnixNano", "observedTimeUnixNano", "severityNumber", "severityText",
                            "body", "attributes", "flags", "traceId", "spanId"], "logRecord")
                for k in ("timeUnixNano", "observedTimeUnixNano"):
                    if not (isinstance(r[k], str) and r[k].isdigit()):
                        raise ValueError("logRecord.%s is not a decimal string" % k)
                if r["severityNumber"] not in (9, 17):
                    raise ValueError("severityNumber")
                value(r["body"], "body")
                a = attrs(r["attributes"], "logRecord")
                a["_time"] = int(r["timeUnixNano"])
                a["_sev"] = r["severityText"]
                recs.append(a)
    return recs


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def answer(self, status, body=b"{}"):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with lock:
            with open(args.out + ".auth", "a") as f:
                f.write("%s\n" % self.headers.get("Authorization"))
            if args.status_file and os.path.exists(args.status_file):
                return self.answer(int(open(args.status_file).read().strip() or 503))
            try:
                if self.path != "/v1/logs" or self.headers.get("Content-Type") != "application/json":
                    raise ValueError("path %s, content type %s" % (self.path, self.headers.get("Content-Type")))
                recs = check(json.loads(body))
            except (ValueError, KeyError, TypeError) as e:
                with open(args.out + ".bad", "a") as f:
                    f.write(str(e) + "\n")
                return self.answer(400)
            batches[0] += 1
            with open(args.out, "a") as f:
                for r in recs:
                    r["_batch"] = batches[0]
                    f.write(json.dumps(r) + "\n")
        self.answer(200)


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(args.port_file + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(args.port_file + ".tmp", args.port_file)
srv.serve_forever()
