#!/usr/bin/python3
"""HTTP fixtures for libcorral-http's tests, examples and benchmark.
Python standard library only.

  fixture.py serve [--no-stdin]
                              serve the misbehaving endpoints on 127.0.0.1,
                              any free port; prints "PORT <n>" once listening;
                              exits when its standard input closes (unless
                              --no-stdin: then on SIGTERM)
  fixture.py site DIR [--no-log]
                              write an nginx document root (DIR/www) and
                              config (DIR/nginx.conf) on free ports:
                              HTTP/1.1, cleartext HTTP/2 (prior knowledge)
                              and HTTPS (HTTP/2 by ALPN, DIR/cert.pem);
                              prints "NGINX_PORT=<n> NGINX_H2_PORT=<m>
                              NGINX_TLS_PORT=<k>" (k = 0: no openssl)

Endpoints of `serve` (any of them takes ?ms=N: answer N ms later):
  /status/CODE          that status, a short body
  /slow/MS              the response after MS milliseconds
  /slow-once/KEY/MS     the first request for KEY after MS milliseconds,
                        later ones at once (a straggler a duplicate beats)
  /delay/MS/NAME        JSON weather report of service NAME after MS ms
  /reset                announces 1 MB, sends 16 KiB, then resets (RST)
  /chunked/N/SIZE       chunked body: N chunks of SIZE bytes
  /large/BYTES          a body of BYTES bytes (Content-Length)
  /redirect/N           302 to /redirect/N-1; /redirect/0 answers 200
  /echo                 method, X-Test header and body echoed back
  /bye                  answers, then closes the kept-alive connection
                        100 ms later (while it idles in the client's pool)
  /ua                   the request's User-Agent
  /connections          how many connections the fixture accepted
Endpoints that misbehave on purpose (what a client must survive):
  /headers/N            a 200 with N header lines of 1 KiB each
  /infinite             a chunked body that never ends
  /infinite-length      announces 1 TB (Content-Length), sends forever
  /drip/N/MS            chunked: N chunks of 1 KiB, MS ms apart
  /half-headers         a status line and one header, then silence
  /close-after-headers  announces 1 MB, sends the headers, then closes
  /loop                 302 to itself
  /no-length/N          N bytes, no Content-Length: the body ends when the
                        server closes the connection (RFC 9112 6.3 rule 8)
  /garbage              a reply that is not HTTP at all, then a close
  /bad-status           "HTTP/1.1 abc" as the status line
  /trickle/N            Content-Length N, one byte a second
  /many-headers/N       a 200 with N short header lines
  /not-modified         a 304 announcing Content-Length 1234, no body
  /go?code=C&to=URL     a redirect with status C to URL (percent-decoded);
                        &endless=1: its body never ends
  /inspect              the request as seen: method, Authorization, Cookie,
                        Content-Length, Accept-Encoding, body length
  /gzip                 a gzip-encoded body (Content-Encoding: gzip), sent
                        whether or not the client asked for it
  /silent               reads the request, never answers
  /two-lengths          two different Content-Length headers
  /length-and-chunked   Content-Length and chunked encoding together
  /nul-header           a NUL byte inside a header value
  /continue-flood       "100 Continue" responses, without end
  /long-line/N          a header line of N bytes
  /bad-gzip             Content-Encoding: gzip over bytes that are not gzip
  /bad-chunk            chunked encoding with a chunk size that is not hex
  /huge-chunk           a chunk size of 2^64-1
  /folded               a header value folded over three lines (obs-fold)
  /bad-length?v=V       Content-Length: V (percent-decoded), then 5 bytes
  a request whose target is an absolute URL (a proxy's request) is answered
  "proxied <URL>"
"""
import http.server
import json
import os
import socket
import socketserver
import struct
import subprocess
import sys
import threading
import time
import gzip
import urllib.parse

PATTERN = bytes(range(256)) * 64  # 16 KiB
SLOW_ONCE = set()
SLOW_ONCE_LOCK = threading.Lock()


def pattern(n):
    out = bytearray()
    while len(out) < n:
        out += PATTERN[: n - len(out)]
    return bytes(out)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    server_version = "corral-fixture"

    def log_message(self, *a):
        pass

    def setup(self):
        super().setup()
        with self.server.lock:
            self.server.connections += 1

    def send(self, code, body, ctype="text/plain", extra=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET()

    def do_POST(self):
        self.do_GET()

    def do_PUT(self):
        self.do_GET()

    def do_DELETE(self):
        self.do_GET()

    def do_PATCH(self):
        self.do_GET()

    def do_OPTIONS(self):
        self.do_GET()

    def do_PROPFIND(self):
        self.do_GET()

    def do_GET(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        if self.path.startswith("http://"):  # a proxy's request
            self.send(200, b"proxied " + self.path.encode())
            return
        path, _, query = self.path.partition("?")
        parts = [p for p in path.split("/") if p]
        q = dict(kv.partition("=")[::2] for kv in query.split("&") if kv)
        if "ms" in q:  # any endpoint: answer after this many milliseconds
            time.sleep(int(q["ms"]) / 1000)
        try:
            self.route(parts, body, q)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def route(self, p, body, q):
        if p[:1] == ["status"] and len(p) == 2:
            code = int(p[1])
            if code in (204, 304):  # no body allowed (RFC 9110 15.3.5)
                self.send_response(code)
                self.end_headers()
            else:
                self.send(code, b"status %d\n" % code)
        elif p[:1] == ["slow"] and len(p) == 2:
            time.sleep(int(p[1]) / 1000)
            self.send(200, b"slow\n")
        elif p[:1] == ["slow-once"] and len(p) == 3:
            with SLOW_ONCE_LOCK:
                first = p[1] not in SLOW_ONCE
                SLOW_ONCE.add(p[1])
            if first:
                time.sleep(int(p[2]) / 1000)
            self.send(200, b"slow once\n")
        elif p[:1] == ["delay"] and len(p) == 3:
            time.sleep(int(p[1]) / 1000)
            doc = {"service": p[2], "temperature": 72,
                   "conditions": "Partly cloudy"}
            self.send(200, json.dumps(doc).encode(), "application/json")
        elif p == ["reset"]:
            self.send_response(200)
            self.send_header("Content-Length", str(1 << 20))
            self.end_headers()
            self.wfile.write(pattern(16384))
            self.wfile.flush()
            time.sleep(0.05)
            s = self.connection
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         struct.pack("ii", 1, 0))
            s.close()  # with linger 0: RST
            self.close_connection = True
        elif p[:1] == ["chunked"] and len(p) == 3:
            count, size = int(p[1]), int(p[2])
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = pattern(size)
            for _ in range(count):
                self.wfile.write(b"%x\r\n" % size + chunk + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        elif p[:1] == ["large"] and len(p) == 2:
            self.send(200, pattern(int(p[1])), "application/octet-stream")
        elif p[:1] == ["redirect"] and len(p) == 2:
            k = int(p[1])
            if k <= 0:
                self.send(200, b"arrived\n")
            else:
                self.send(302, b"", extra=[("Location", "/redirect/%d" % (k - 1))])
        elif p == ["echo"]:
            out = b"%s %s %s" % (self.command.encode(),
                                 (self.headers.get("X-Test") or "-").encode(),
                                 body)
            self.send(200, out)
        elif p == ["bye"]:  # answer, keep alive, then close it while idle
            self.send(200, b"bye\n")
            self.wfile.flush()
            conn = self.connection
            threading.Timer(0.1, lambda: conn.shutdown(socket.SHUT_RDWR)).start()
        elif p == ["ua"]:
            self.send(200, (self.headers.get("User-Agent") or "-").encode())
        elif p[:1] == ["headers"] and len(p) == 2:
            self.send_response(200)
            for i in range(int(p[1])):
                self.send_header("X-Big-%d" % i, "v" * 1024)
            self.send_header("Content-Length", "3")
            self.end_headers()
            self.wfile.write(b"ok\n")
        elif p in (["infinite"], ["infinite-length"]):
            self.send_response(200)
            if p == ["infinite"]:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Content-Length", str(1 << 40))
            self.end_headers()
            chunk = pattern(16384)
            frame = b"%x\r\n" % len(chunk) + chunk + b"\r\n"
            while True:  # until the client goes away
                self.wfile.write(frame if p == ["infinite"] else chunk)
        elif p[:1] == ["drip"] and len(p) == 3:
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = pattern(1024)
            for _ in range(int(p[1])):
                self.wfile.write(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
                self.wfile.flush()
                time.sleep(int(p[2]) / 1000)
            self.wfile.write(b"0\r\n\r\n")
        elif p == ["half-headers"]:
            self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Partial: yes\r\n")
            self.wfile.flush()
            time.sleep(60)
            self.close_connection = True
        elif p == ["close-after-headers"]:
            self.send_response(200)
            self.send_header("Content-Length", str(1 << 20))
            self.end_headers()
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
        elif p == ["loop"]:
            self.send(302, b"", extra=[("Location", "/loop")])
        elif p[:1] == ["no-length"] and len(p) == 2:
            self.wfile.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
            self.wfile.write(pattern(int(p[1])))
            self.wfile.flush()
            self.close_connection = True
        elif p == ["garbage"]:
            self.wfile.write(b"SSH-2.0-OpenSSH_9.2\r\n\x00\xff junk\r\n\r\n")
            self.wfile.flush()
            self.close_connection = True
        elif p == ["bad-status"]:
            self.wfile.write(b"HTTP/1.1 abc\r\nContent-Length: 2\r\n\r\nok")
            self.wfile.flush()
            self.close_connection = True
        elif p[:1] == ["trickle"] and len(p) == 2:
            self.send_response(200)
            self.send_header("Content-Length", p[1])
            self.end_headers()
            for _ in range(int(p[1])):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(1)
        elif p[:1] == ["many-headers"] and len(p) == 2:
            self.send_response(200)
            for i in range(int(p[1])):
                self.send_header("X-H%d" % i, "v")
            self.send_header("Content-Length", "3")
            self.end_headers()
            self.wfile.write(b"ok\n")
        elif p == ["not-modified"]:
            self.send_response(304)
            self.send_header("Content-Length", "1234")
            self.send_header("ETag", '"x"')
            self.end_headers()
        elif p == ["go"]:
            to = urllib.parse.unquote(q.get("to", "/status/200"))
            if "endless" in q:  # a redirect whose body never ends
                self.send_response(int(q.get("code", "302")))
                self.send_header("Location", to)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                chunk = pattern(16384)
                frame = b"%x\r\n" % len(chunk) + chunk + b"\r\n"
                while True:
                    self.wfile.write(frame)
            self.send(int(q.get("code", "302")), b"moved\n",
                      extra=[("Location", to)])
        elif p == ["inspect"]:
            h = self.headers
            out = "%s auth=%s cookie=%s cl=%s ae=%s body=%d" % (
                self.command, h.get("Authorization") or "-",
                h.get("Cookie") or "-", h.get("Content-Length") or "-",
                h.get("Accept-Encoding") or "-", len(body))
            self.send(200, out.encode())
        elif p == ["gzip"]:
            z = gzip.compress(b"hello gzip\n" * 1000)
            self.send(200, z, extra=[("Content-Encoding", "gzip")])
        elif p == ["two-lengths"]:
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                             b"Content-Length: 5\r\n\r\nhello")
            self.wfile.flush()
            self.close_connection = True
        elif p == ["length-and-chunked"]:
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n"
                             b"Transfer-Encoding: chunked\r\n\r\n"
                             b"5\r\nhello\r\n0\r\n\r\n")
            self.wfile.flush()
        elif p == ["nul-header"]:
            self.wfile.write(b"HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nX-B: after\r\n"
                             b"Content-Length: 2\r\n\r\nok")
            self.wfile.flush()
            self.close_connection = True
        elif p[:1] == ["long-line"] and len(p) == 2:
            self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * int(p[1]) +
                             b"\r\nContent-Length: 2\r\n\r\nok")
            self.wfile.flush()
            self.close_connection = True
        elif p in (["bad-chunk"], ["huge-chunk"]):
            size = b"zz" if p == ["bad-chunk"] else b"ffffffffffffffff"
            self.wfile.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                             b"2\r\nok\r\n" + size + b"\r\nxxxx\r\n0\r\n\r\n")
            self.wfile.flush()
            self.close_connection = True
        elif p == ["bad-length"]:
            v = urllib.parse.unquote(q.get("v", "-1")).encode()
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: " + v +
                             b"\r\n\r\nhello")
            self.wfile.flush()
            self.close_connection = True
        elif p == ["folded"]:
            self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Folded: one\r\n two\r\n\tthree: 3\r\n"
                             b"X-After: yes\r\nContent-Length: 2\r\n\r\nok")
            self.wfile.flush()
        elif p == ["bad-gzip"]:
            self.send(200, b"this is not gzip at all", extra=[("Content-Encoding", "gzip")])
        elif p == ["continue-flood"]:
            try:
                while True:
                    self.wfile.write(b"HTTP/1.1 100 Continue\r\nX-Pad: " +
                                     b"p" * 1000 + b"\r\n\r\n")
            except OSError:
                pass
            self.close_connection = True
        elif p == ["silent"]:
            time.sleep(60)
            self.close_connection = True
        elif p == ["connections"]:
            self.send(200, b"%d\n" % self.server.connections)
        else:
            self.send(404, b"not found\n")


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024

    def __init__(self, *a):
        super().__init__(*a)
        self.lock = threading.Lock()
        self.connections = 0

    def handle_error(self, request, client_address):
        # Clients that give up (cancelled requests) reset their connections:
        # expected here, not worth a traceback.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


def serve():
    srv = Server(("127.0.0.1", 0), Handler)
    print("PORT %d" % srv.server_address[1], flush=True)

    def watch_stdin():  # the parent went away: stop
        try:
            while os.read(0, 4096):
                pass
        except OSError:
            pass
        os._exit(0)

    if "--no-stdin" not in sys.argv:
        threading.Thread(target=watch_stdin, daemon=True).start()
    srv.serve_forever()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


WEATHER = ["OpenWeatherMap", "WeatherAPI", "NOAA", "LocalRadar", "AccuWeather",
           "Weatherbit", "Tomorrow", "MeteoSwiss", "DWD", "MetOffice"]


def site(d, log=True):
    www = os.path.join(d, "www")
    os.makedirs(os.path.join(www, "weather"), exist_ok=True)
    os.makedirs(os.path.join(www, "health"), exist_ok=True)
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        os.makedirs(os.path.join(d, "tmp", sub), exist_ok=True)
    with open(os.path.join(www, "1k.bin"), "wb") as f:
        f.write(pattern(1024))
    with open(os.path.join(www, "large.bin"), "wb") as f:
        f.write(pattern(4 << 20))
    with open(os.path.join(www, "hello.txt"), "w") as f:
        f.write("hello from nginx\n")
    for i, name in enumerate(WEATHER):
        with open(os.path.join(www, "weather", name + ".json"), "w") as f:
            json.dump({"service": name, "temperature": 60 + i,
                       "conditions": ["Sunny", "Partly cloudy", "Rain"][i % 3]}, f)
    for i in range(10):
        with open(os.path.join(www, "health", "svc%d" % i), "w") as f:
            f.write("ok\n")
    # A site of 1,001 pages: index -> 10 sections -> 99 pages each; every
    # section also links one missing page (404) and back to the index.
    sd = os.path.join(www, "site")
    os.makedirs(sd, exist_ok=True)
    links = "".join('<a href="/site/s%d/index.html">section %d</a>\n' % (i, i)
                    for i in range(10))
    with open(os.path.join(sd, "index.html"), "w") as f:
        f.write("<html><body>\n%s</body></html>\n" % links)
    for i in range(10):
        os.makedirs(os.path.join(sd, "s%d" % i), exist_ok=True)
        body = ['<a href="/site/index.html">home</a>']
        body += ['<a href="/site/s%d/p%d.html">page %d</a>' % (i, j, j)
                 for j in range(99)]
        body.append('<a href="/site/s%d/missing.html">gone</a>' % i)
        with open(os.path.join(sd, "s%d" % i, "index.html"), "w") as f:
            f.write("<html><body>\n%s\n</body></html>\n" % "\n".join(body))
        for j in range(99):
            with open(os.path.join(sd, "s%d" % i, "p%d.html" % j), "w") as f:
                f.write('<html><body><p>section %d page %d</p>'
                        '<a href="/site/s%d/index.html">up</a>'
                        '<a href="/site/s%d/p%d.html">next</a></body></html>\n'
                        % (i, j, i, i, (j + 1) % 99))
    ports = set()
    while len(ports) < 3:
        ports.add(free_port())
    p1, p2, p3 = sorted(ports)
    # TLS: a self-signed certificate for 127.0.0.1 (clients trust it with
    # their CA file option); skipped without the openssl command.
    tls = ""
    crt, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    try:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                        "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                        "-days", "2", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                        "-keyout", key, "-out", crt],
                       check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        tls = ("server { listen 127.0.0.1:%d ssl http2; root %s/www;\n"
               "    ssl_certificate %s; ssl_certificate_key %s; }"
               % (p3, d, crt, key))
    except (OSError, subprocess.CalledProcessError):
        p3 = 0
    access = ("access_log %s/access.log corral;" % d) if log else "access_log off;"
    conf = """daemon off;
master_process off;
worker_processes 1;
pid %(d)s/nginx.pid;
error_log %(d)s/error.log warn;
events { worker_connections 8192; }
http {
  log_format corral '$connection $connection_requests $server_protocol $status $request_uri';
  %(access)s
  client_body_temp_path %(d)s/tmp/body;
  proxy_temp_path %(d)s/tmp/proxy;
  fastcgi_temp_path %(d)s/tmp/fastcgi;
  uwsgi_temp_path %(d)s/tmp/uwsgi;
  scgi_temp_path %(d)s/tmp/scgi;
  keepalive_requests 1000000;
  keepalive_timeout 60s;
  types { text/html html; application/json json; text/plain txt;
          application/octet-stream bin; }
  default_type text/plain;
  server { listen 127.0.0.1:%(p1)d; root %(d)s/www; }
  server { listen 127.0.0.1:%(p2)d http2; root %(d)s/www; }
  %(tls)s
}
""" % {"d": d, "p1": p1, "p2": p2, "access": access, "tls": tls}
    with open(os.path.join(d, "nginx.conf"), "w") as f:
        f.write(conf)
    print("NGINX_PORT=%d NGINX_H2_PORT=%d NGINX_TLS_PORT=%d" % (p1, p2, p3),
          flush=True)


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "serve":
        serve()
    elif len(sys.argv) >= 3 and sys.argv[1] == "site":
        site(os.path.abspath(sys.argv[2]), "--no-log" not in sys.argv)
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)
