#!/usr/bin/env python3
"""ttft.py - time to first token of streaming (SSE) chat completions; Python 3 stdlib only.

Sends `POST <url>` with a `"stream": true` body over keep-alive HTTP/1.1 connections, one
request at a time per connection, and measures for each request:
  ttft  = from just before the request bytes are written to the socket until the first body
          byte of the first SSE `data:` event has been received;
  total = until the whole response (chunked or Content-Length body) has been read.
A request counts as ok only when the status is 200 and the body contains `data: [DONE]`.

It uses a raw socket and a minimal HTTP/1.1 response parser (not http.client) so that the
client's own per-request cost is small and constant: what matters is the difference between
targets measured by the same client, not the absolute number.

    ttft.py --url http://127.0.0.1:8080/v1/chat/completions --duration 10 [--concurrency 1]
            [--requests N] [--warmup 50] [--body JSON] [-H 'Name: value' ...]

Prints one JSON object: n, errors, error samples, achieved rps, and ttft_us / total_us
percentiles (p50 p90 p99 max, microseconds, nearest-rank).
"""
import argparse
import json
import socket
import sys
import threading
import time
from urllib.parse import urlsplit

DEFAULT_BODY = (
    '{"model":"mock-gpt","messages":[{"role":"user","content":"hello"}],"stream":true}'
)


class HttpError(Exception):
    pass


class Conn:
    """One keep-alive HTTP/1.1 connection with just enough parsing for chat responses."""

    def __init__(self, host, port, timeout):
        self.addr = (host, port)
        self.timeout = timeout
        self.sock = None
        self.buf = b""

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock = None
        self.buf = b""

    def _connect(self):
        s = socket.create_connection(self.addr, timeout=self.timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = s
        self.buf = b""

    def _recv(self):
        d = self.sock.recv(65536)
        if not d:
            raise HttpError("connection closed by peer")
        return d

    def request(self, raw):
        """Returns (status, ttft_ns or None, total_ns, body). Raises on transport errors."""
        if self.sock is None:
            self._connect()
        t0 = time.perf_counter_ns()
        self.sock.sendall(raw)
        ttft = None
        # --- status line + headers ---
        buf = self.buf
        while True:
            i = buf.find(b"\r\n\r\n")
            if i >= 0:
                break
            buf += self._recv()
        head, buf = buf[:i], buf[i + 4:]
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise HttpError(f"bad status line {lines[0][:80]!r}")
        status = int(parts[1])
        clen = None
        chunked = False
        close = parts[0] == b"HTTP/1.0"
        for ln in lines[1:]:
            k, _, v = ln.partition(b":")
            k = k.strip().lower()
            v = v.strip().lower()
            if k == b"content-length":
                clen = int(v)
            elif k == b"transfer-encoding" and b"chunked" in v:
                chunked = True
            elif k == b"connection":
                close = v == b"close" or (close and v != b"keep-alive")
        body = bytearray()
        if chunked:
            # incremental chunked decoding; chunk-size lines never contain "data:"
            while True:
                while True:
                    j = buf.find(b"\r\n")
                    if j >= 0:
                        break
                    buf += self._recv()
                size = int(buf[:j].split(b";", 1)[0], 16)
                buf = buf[j + 2:]
                if size == 0:
                    # trailers (normally none) end with an empty line
                    while True:
                        j = buf.find(b"\r\n")
                        if j >= 0:
                            line, buf = buf[:j], buf[j + 2:]
                            if not line:
                                break
                        else:
                            buf += self._recv()
                    break
                while len(buf) < size + 2:
                    if ttft is None and b"data:" in bytes(body) + buf:
                        ttft = time.perf_counter_ns() - t0
                    buf += self._recv()
                body += buf[:size]
                buf = buf[size + 2:]
                if ttft is None and b"data:" in body:
                    ttft = time.perf_counter_ns() - t0
        elif clen is not None:
            while len(buf) < clen:
                if ttft is None and b"data:" in buf:
                    ttft = time.perf_counter_ns() - t0
                buf += self._recv()
            body += buf[:clen]
            buf = buf[clen:]
            if ttft is None and b"data:" in body:
                ttft = time.perf_counter_ns() - t0
        else:
            # body delimited by connection close
            close = True
            try:
                while True:
                    if ttft is None and b"data:" in buf:
                        ttft = time.perf_counter_ns() - t0
                    buf += self._recv()
            except HttpError:
                pass
            body += buf
            buf = b""
            if ttft is None and b"data:" in body:
                ttft = time.perf_counter_ns() - t0
        total = time.perf_counter_ns() - t0
        self.buf = buf
        if close:
            self.close()
        return status, ttft, total, bytes(body)


def worker(args, raw, host, port, deadline, results, lock, budget):
    c = Conn(host, port, args.timeout)
    ttfts, totals, errs, samples = [], [], 0, []
    warm = args.warmup
    while time.monotonic() < deadline:
        with lock:
            if budget[0] == 0:
                break
            budget[0] -= 1
        try:
            status, ttft, total, body = c.request(raw)
            if status != 200 or ttft is None or b"data: [DONE]" not in body:
                errs += 1
                if len(samples) < 3:
                    samples.append(f"status {status}: {body[:160]!r}")
                continue
        except (OSError, HttpError, ValueError) as e:
            c.close()
            errs += 1
            if len(samples) < 3:
                samples.append(f"{type(e).__name__}: {e}")
            time.sleep(0.01)  # no hot loop against a dead target
            continue
        if warm > 0:
            warm -= 1
            continue
        ttfts.append(ttft)
        totals.append(total)
    c.close()
    with lock:
        results.append((ttfts, totals, errs, samples))


def pct(sorted_vals, p):
    if not sorted_vals:
        return None
    k = max(0, min(len(sorted_vals) - 1, int(round(p / 100.0 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[k]


def summary(vals_ns):
    v = sorted(vals_ns)
    out = {}
    for name, p in (("p50", 50), ("p90", 90), ("p99", 99)):
        x = pct(v, p)
        out[name] = None if x is None else round(x / 1000.0, 1)
    out["max"] = round(v[-1] / 1000.0, 1) if v else None
    out["mean"] = round(sum(v) / len(v) / 1000.0, 1) if v else None
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", required=True, help="http://HOST:PORT/v1/chat/completions")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds, warm-up included")
    ap.add_argument("--requests", type=int, default=0, help="stop after this many (0: no cap)")
    ap.add_argument("--concurrency", "-c", type=int, default=1, help="connections/threads")
    ap.add_argument("--warmup", type=int, default=50, help="requests per connection not counted")
    ap.add_argument("--timeout", type=float, default=10.0, help="socket timeout, seconds")
    ap.add_argument("--body", default=DEFAULT_BODY, help="JSON body (should set stream:true)")
    ap.add_argument("-H", "--header", action="append", default=[], help="'Name: value'")
    args = ap.parse_args()

    u = urlsplit(args.url)
    if u.scheme != "http" or not u.hostname:
        sys.exit("ttft.py: only http:// URLs are supported")
    host, port = u.hostname, u.port or 80
    path = (u.path or "/") + (("?" + u.query) if u.query else "")
    body = args.body.encode()
    hdrs = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Content-Type: application/json",
        "Accept: text/event-stream",
        f"Content-Length: {len(body)}",
    ] + args.header
    raw = ("\r\n".join(hdrs) + "\r\n\r\n").encode() + body

    results, lock = [], threading.Lock()
    budget = [args.requests + args.warmup * args.concurrency if args.requests > 0 else -1]
    # the warm-up requests (--warmup per connection) run inside --duration and are not counted
    start = time.monotonic()
    deadline = start + args.duration
    threads = [
        threading.Thread(target=worker, args=(args, raw, host, port, deadline, results, lock, budget))
        for _ in range(max(1, args.concurrency))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    ttfts = [x for r in results for x in r[0]]
    totals = [x for r in results for x in r[1]]
    errs = sum(r[2] for r in results)
    samples = [s for r in results for s in r[3]][:3]
    print(json.dumps({
        "url": args.url,
        "concurrency": args.concurrency,
        "n": len(ttfts),
        "errors": errs,
        "error_samples": samples,
        "elapsed_s": round(elapsed, 3),
        "rps": round(len(ttfts) / elapsed, 1) if elapsed > 0 else 0,
        "ttft_us": summary(ttfts),
        "total_us": summary(totals),
    }))
    return 0 if ttfts and not errs else 1


if __name__ == "__main__":
    sys.exit(main())
