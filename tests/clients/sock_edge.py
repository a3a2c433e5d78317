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
  dup        redirected: the request written through socket.dup()
  sendto     redirected: the request written with sendto(peer address)
  bighead    a 70 KB head (over the framer's cap) on a non-blocking socket
             with a small send buffer, to a server that reads late
  duplex     one thread sends 32 MB while another reads the echo
  closer     dup2 over a socket whose writer is blocked must return at once
  h2, lonecr, tab, longmethod, garbage
             redirected: first bytes that are not an HTTP/1 request (the
             HTTP/2 preface, a lone CR, a tab after the method, a method
             over 32 bytes, binary), each followed by the app's key
  tls        redirected: Python's ssl (a real TLS client) on the plain
             redirected connection
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


if case == "closer":  # needs its own never-reading peer
    import os
    import threading
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    w = socket.create_connection(srv.getsockname())
    peer, _ = srv.accept()
    def writer():
        try:
            w.sendall(b"POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 100000000\r\n\r\n" + b"x" * 100000000)
        except OSError:
            pass
    threading.Thread(target=writer, daemon=True).start()
    time.sleep(1)
    t0 = time.time()
    threading.Timer(5, peer.close).start()
    os.dup2(os.open("/dev/null", os.O_RDWR), w.fileno())
    print("dup2 took %.1f s" % (time.time() - t0))
    sys.exit(0)
NOT_HTTP1 = {
    "h2": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    "lonecr": b"\rX",
    "tab": b"POST\t/v1/chat/completions HTTP/1.1\r\n",
    "longmethod": b"A" * 40 + b" /v1/chat/completions HTTP/1.1\r\n",
    "garbage": b"\x00\x01\x02\x03 ",
}
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
    elif case in NOT_HTTP1:
        s.sendall(NOT_HTTP1[case] + head() + body)
        answer(s)
    elif case == "tls":
        import ssl
        ctx = ssl.create_default_context()
        try:
            t = ctx.wrap_socket(s, server_hostname=host)
            t.sendall(head() + body)
            answer(t)
        except (ssl.SSLError, OSError) as e:
            print("tls error", type(e).__name__)
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
    elif case == "dup":
        d = s.dup()
        d.sendall(head() + body)
        answer(d)
        d.close()
    elif case == "sendto":
        s.sendto(head() + body, s.getpeername())
        answer(s)
    elif case == "bighead":
        s.close()
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        s.connect((host, port))
        s.setblocking(False)
        buf = b"GET /x HTTP/1.1\r\nHost: a\r\nX-Big: " + b"A" * 70000 + b"\r\n\r\nGET /y HTTP/1.1\r\nHost: a\r\n\r\n"
        off = 0
        while off < len(buf):
            try:
                off += s.send(buf[off:off + 8192])
            except BlockingIOError:
                select.select([], [s], [], 5)
        s.setblocking(True)
        time.sleep(2.5)
        print("sent", len(buf), "digest", hash(buf) & 0xffff)
    elif case == "duplex":
        import threading
        n, got = 32 << 20, [0]
        def rd():
            while True:
                d = s.recv(65536)
                if not d:
                    break
                got[0] += len(d)
        s.settimeout(None)
        t = threading.Thread(target=rd, daemon=True)
        t.start()
        head_ = b"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % n
        s.sendall(head_)
        s.sendall(b"x" * n)
        s.shutdown(socket.SHUT_WR)
        t.join(30)
        print("echoed", got[0] == n + len(head_))
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
