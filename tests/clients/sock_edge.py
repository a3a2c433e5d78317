"""sock_edge.py - corner cases of the socket transport, one per run:
usage: sock_edge.py CASE HOST PORT
  smtp       a line protocol whose first word looks like a method
  longurl    redirected: a target over 8 KB
  malformed  redirected: a head our strict parser refuses
  bigcl      redirected: Content-Length over 64 MiB
  closemid   redirected: closed in the middle of the body
  expect     redirected: Expect: 100-continue
  sendfile   redirected: the body by socket.sendfile (sendfile64)
  nonblock   a 12 MB LLM request on a non-blocking socket to a server that
             reads late: EAGAIN reaches the app, the request arrives whole
Prints what the app saw; the test checks what the server got."""
import select
import socket
import sys
import tempfile
import time

case, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
body = b'{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}'


def head(path="/v1/chat/completions", cl=None, extra=b""):
    return (b"POST " + path.encode() + b" HTTP/1.1\r\nHost: " + host.encode() +
            b"\r\nAuthorization: Bearer sk-APP-SECRET\r\nContent-Type: application/json\r\n" +
            extra + b"Content-Length: " + str(len(body) if cl is None else cl).encode() +
            b"\r\n\r\n")


def answer(s):
    s.settimeout(5)
    try:
        print("answer", s.recv(200).split(b"\r\n")[0].decode())
    except OSError as e:
        print("answer error", type(e).__name__)


s = socket.create_connection((host, port), timeout=10)
try:
    if case == "smtp":
        s.send(b"EHLO client.example.com\r\n")
        time.sleep(0.2)
        s.send(b"QUIT\r\n")
    elif case == "longurl":
        s.sendall(head("/v1/chat/completions?x=" + "a" * 9000) + body)
        answer(s)
    elif case == "malformed":
        s.sendall(head(extra=b"X-A : b\r\n") + body)
        answer(s)
    elif case == "bigcl":
        s.sendall(head(cl=70 << 20))
        s.sendall(body)
        answer(s)
    elif case == "closemid":
        s.sendall(head() + body[:10])
    elif case == "expect":
        s.sendall(head(extra=b"Expect: 100-continue\r\n"))
        answer(s)
    elif case == "sendfile":
        f = tempfile.TemporaryFile()
        f.write(body)
        f.flush()
        f.seek(0)
        s.sendall(head())
        s.sendfile(f)
        answer(s)
    elif case == "nonblock":
        big = b'{"model":"gpt-4o","pad":"' + b"x" * (12 << 20) + b'"}'
        req = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: " + host.encode() +
               b"\r\nContent-Length: " + str(len(big)).encode() + b"\r\n\r\n" + big)
        s.setblocking(False)
        sent, eagain = 0, 0
        while sent < len(req):
            select.select([], [s], [], 10)
            try:
                sent += s.send(req[sent:sent + (1 << 20)])
            except BlockingIOError:
                eagain += 1
        print("sent", sent, "eagain", eagain > 0)
        s.setblocking(True)
        answer(s)
except OSError as e:
    print("error", type(e).__name__)
s.close()
