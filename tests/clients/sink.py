"""sink.py - a raw TCP server for the socket tests: records every byte each
connection brings (one JSON line per connection: {"conn": n, "bytes": hex})
and, optionally, answers each request head with a small 200.
usage: sink.py PORT_FILE LOG [--answer] [--slow SECONDS]"""
import json
import socket
import sys
import threading
import time

port_file, log = sys.argv[1], sys.argv[2]
answer = "--answer" in sys.argv
slow = float(sys.argv[sys.argv.index("--slow") + 1]) if "--slow" in sys.argv else 0
lock = threading.Lock()


def handle(c, n):
    data = b""
    answered = 0
    c.settimeout(30)
    if slow:
        time.sleep(slow)  # let the client's socket buffer fill
    try:
        while True:
            d = c.recv(1 << 20)
            if not d:
                break
            data += d
            while answer and data.count(b"\r\n\r\n") > answered:
                answered += 1
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    except OSError:
        pass
    c.close()
    with lock, open(log, "a") as f:
        f.write(json.dumps({"conn": n, "bytes": data.hex()}) + "\n")


s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(64)
with open(port_file + ".tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
import os
os.rename(port_file + ".tmp", port_file)
n = 0
while True:
    c, _ = s.accept()
    n += 1
    threading.Thread(target=handle, args=(c, n), daemon=True).start()
