"""echo_client.py - unrelated socket traffic that must be byte-identical
with and without the shim (tests/t_sock.sh runs it both ways and compares).

An in-process echo server; the client connects over TCP and sends: random
binary blobs, an inline Redis-style command, a non-LLM HTTP request and a
chunked one, an LLM-looking request that no route claims, data through
sendmsg with several buffers and recvmsg/recv_into, 4 MB on a non-blocking
socket (partial writes and EAGAIN on both sides), and writes through a
descriptor replaced with dup2.  Prints a digest of what came back per case.
"""
import hashlib
import os
import random
import select
import socket
import sys
import threading


def serve(ls):
    while True:
        try:
            c, _ = ls.accept()
        except OSError:
            return
        threading.Thread(target=echo, args=(c,), daemon=True).start()


def echo(c):
    try:
        while True:
            d = c.recv(65536)
            if not d:
                break
            c.sendall(d)
    except OSError:  # the client reset a connection it replaced with dup2
        pass
    c.close()


def recv_exact(s, n):
    out = bytearray()
    while len(out) < n:
        d = s.recv(n - len(out))
        if not d:
            break
        out += d
    return bytes(out)


def digest(name, data):
    print(name, len(data), hashlib.sha256(data).hexdigest()[:16])


def nonblocking(port, payload):
    s = socket.create_connection(("127.0.0.1", port))
    s.setblocking(False)
    sent, got = 0, bytearray()
    partial = False
    while len(got) < len(payload):
        w = [s] if sent < len(payload) else []
        r, w, _ = select.select([s], w, [], 10)
        if not r and not w:
            break
        if w:
            try:
                n = s.send(payload[sent:sent + 1 << 20])
                partial |= n < len(payload[sent:sent + 1 << 20])
                sent += n
            except BlockingIOError:
                pass
        if r:
            try:
                got += s.recv(1 << 20)
            except BlockingIOError:
                pass
    s.close()
    return bytes(got)


def main():
    rnd = random.Random(7)
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(8)
    port = ls.getsockname()[1]
    threading.Thread(target=serve, args=(ls,), daemon=True).start()

    s = socket.create_connection(("127.0.0.1", port))
    cases = [
        ("blob", bytes(rnd.getrandbits(8) for _ in range(70000))),
        ("redis", b"GET foo\r\n"),
        ("http", b"POST /upload HTTP/1.1\r\nHost: files\r\nContent-Length: 5\r\n\r\nhello"),
        ("chunked", b"PUT /x HTTP/1.1\r\nHost: files\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b"3\r\nabc\r\n0\r\n\r\n"),
        ("llm-unclaimed", b"POST /v1/chat/completions HTTP/1.1\r\nHost: nowhere\r\n"
                          b"Content-Length: 17\r\n\r\n{\"model\":\"gpt-4\"}"),
    ]
    for name, data in cases:
        s.sendall(data)
        digest(name, recv_exact(s, len(data)))

    parts = [b"alpha-", b"", bytes(range(256)), b"-omega"]
    s.sendmsg(parts)
    buf = bytearray(sum(map(len, parts)))
    view, n = memoryview(buf), 0
    while n < len(buf):
        n += s.recv_into(view[n:])
    digest("sendmsg", bytes(buf))
    s.sendall(b"x" * 1000)
    data, _, _, _ = s.recvmsg(1000)
    digest("recvmsg", data + recv_exact(s, 1000 - len(data)))

    big = b"POST /upload HTTP/1.1\r\nHost: files\r\nContent-Length: 4194304\r\n\r\n"
    big += bytes(rnd.getrandbits(8) for _ in range(4 << 20))
    digest("nonblocking", nonblocking(port, big[:len(big)]))
    digest("nonblocking-raw", nonblocking(port, big[60:]))

    s2 = socket.create_connection(("127.0.0.1", port))
    s3 = socket.create_connection(("127.0.0.1", port))
    os.dup2(s3.fileno(), s2.fileno())  # s2's number now names s3's connection
    s2.sendall(b"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi")
    digest("dup2", recv_exact(s3, 47))
    s.close()
    s2.close()
    s3.close()
    sys.stdout.flush()


main()
