#!/usr/bin/python3
"""Open an `llmroutectl audit --html` page in headless Chromium and report
what the browser made of it, for tests/t_report.sh.

  report_browser.py PAGE.html OUT.json

Chromium is driven over the DevTools protocol on a pipe
(--remote-debugging-pipe: requests on fd 3, answers on fd 4, each a JSON
message ended by NUL), so nothing but Python's standard library and
Debian's chromium is needed.  The page is loaded from file://, then one
script evaluated in it collects:
  charts    each svg.chart: id, rendered width/height, bars and bars with
            a nonzero rendered size
  tables    each table[data-by]: its rows, {group (null for the total),
            header (the row header's text), values {data-k: data-v}}
  cards     the summary cards, {data-k: data-v}
  probes    what injected markup would leave: script elements, elements
            with an on* attribute, img/iframe/object/embed elements,
            window.__pwned
and the page's errors: uncaught exceptions, console errors and the
browser's own error log entries (a Content-Security-Policy violation is
one).  Exit status 0 when the page loaded, 1 otherwise.
"""
import json
import os
import select
import subprocess
import sys
import tempfile
import time

CHROMIUM = "/usr/bin/chromium"
DEADLINE = 25  # seconds for the whole session

COLLECT = r"""
(() => {
  const box = e => { const r = e.getBoundingClientRect(); return [r.width, r.height]; };
  const charts = [...document.querySelectorAll('svg.chart')].map(s => {
    const bars = [...s.querySelectorAll('rect.bar')];
    return {id: s.id, size: box(s), bars: bars.length,
            drawn: bars.filter(b => { const [w, h] = box(b); return w > 0 && h > 0; }).length};
  });
  const tables = {};
  for (const t of document.querySelectorAll('table[data-by]')) {
    tables[t.dataset.by] = [...t.querySelectorAll('tbody tr')].map(tr => {
      const values = {};
      for (const td of tr.querySelectorAll('td[data-k]')) values[td.dataset.k] = td.dataset.v;
      return {group: tr.hasAttribute('data-total') ? null : tr.dataset.group,
              header: tr.querySelector('th').textContent, values};
    });
  }
  const cards = {};
  for (const c of document.querySelectorAll('.card[data-k]')) cards[c.dataset.k] = c.dataset.v;
  const all = [...document.querySelectorAll('*')];
  return {
    title: document.title,
    source: (document.getElementById('source') || {}).textContent,
    charts, tables, cards,
    labels: [...document.querySelectorAll('svg.chart text.label')].map(t => t.textContent),
    probes: {
      scripts: document.querySelectorAll('script').length,
      on_attrs: all.filter(e => [...e.attributes].some(a => a.name.toLowerCase().startsWith('on'))).length,
      embeds: document.querySelectorAll('img, iframe, object, embed').length,
      pwned: typeof window.__pwned !== 'undefined'
    }
  };
})()
"""


class Browser:
    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="llmroute-chromium.")
        to_r, self.to_w = os.pipe()
        self.from_r, from_w = os.pipe()

        def fds():  # through fresh copies: a pipe end may already be fd 3 or 4
            a, b = os.dup(to_r), os.dup(from_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-extensions", "--disable-background-networking", "--disable-sync",
             "--remote-debugging-pipe", "--user-data-dir=" + self.profile, "about:blank"],
            preexec_fn=fds, close_fds=False, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_r)
        os.close(from_w)
        self.buf = b""
        self.next_id = 0
        self.events = []

    def send(self, method, params=None, session=None):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.to_w, json.dumps(msg).encode() + b"\0")
        return self.next_id

    def read(self, until):
        """Messages until one satisfies until(msg); events are kept."""
        while True:
            while b"\0" in self.buf:
                raw, self.buf = self.buf.split(b"\0", 1)
                msg = json.loads(raw)
                if "method" in msg:
                    self.events.append(msg)
                if until(msg):
                    return msg
            left = self.deadline - time.monotonic()
            if left <= 0 or not select.select([self.from_r], [], [], left)[0]:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self.from_r, 1 << 20)
            if not chunk:
                raise EOFError("chromium closed the pipe")
            self.buf += chunk

    def call(self, method, params=None, session=None):
        i = self.send(method, params, session)
        msg = self.read(lambda m: m.get("id") == i)
        if "error" in msg:
            raise RuntimeError("%s: %s" % (method, msg["error"]))
        return msg["result"]

    def close(self):
        try:
            self.send("Browser.close")
            self.proc.wait(timeout=5)
        except Exception:
            self.proc.kill()
            self.proc.wait()
        subprocess.run(["rm", "-rf", self.profile])


def errors_of(events):
    out = []
    for e in events:
        m, p = e["method"], e.get("params", {})
        if m == "Runtime.exceptionThrown":
            out.append("exception: " + json.dumps(p.get("exceptionDetails", {}))[:300])
        elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            out.append("console: " + json.dumps(p.get("args", []))[:300])
        elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            out.append("log: " + p["entry"].get("text", "")[:300])
    return out


def main():
    page, out = os.path.abspath(sys.argv[1]), sys.argv[2]
    b = Browser()
    b.deadline = time.monotonic() + DEADLINE
    try:
        target = b.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        s = b.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            b.call(domain + ".enable", session=s)
        b.call("Page.navigate", {"url": "file://" + page}, session=s)
        b.read(lambda m: m.get("method") == "Page.loadEventFired" and m.get("sessionId") == s)
        r = b.call("Runtime.evaluate", {"expression": COLLECT, "returnByValue": True}, session=s)
        if "exceptionDetails" in r:
            raise RuntimeError("the collecting script failed: %s" % r["exceptionDetails"])
        result = r["result"]["value"]
        time.sleep(0.2)  # late console messages
        b.call("Runtime.evaluate", {"expression": "1"}, session=s)
        result["errors"] = errors_of(b.events)
    finally:
        b.close()
    with open(out, "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
