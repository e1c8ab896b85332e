#!/usr/bin/env python3
"""The load generator of scripts/soak.sh: mixed requests through a running socket-proxy, every answer checked.

    soak-load.py --port PORT --pid PID --container ID --api-version 1.41 --requests N [--concurrency C]

Each worker keeps one keep-alive connection and draws operations by weight:

    allowed     GET /_ping, /version, /containers/json, /containers/{id}/json           (200, via the daemon)
    denied      GET /images/json, /secrets, /networks; a privileged container create    (403, by the proxy;
                (its body is read and inspected)                                          the connection stays)
    pipelined   ten of the above in one write on the keep-alive connection              (each counted)
    streaming   logs with tail (chunked), events between two past instants (chunked)     (200, read to the end)
    hijacked    attach with Upgrade: tcp (101, read some output, hang up); now and then
                exec create + exec start with Upgrade: tcp (101, read "soak" until the daemon hangs up)

The run has a warm-up (a tenth of the requests, at least 20 000 and at most 50 000, never more than half), after
which every connection is closed and the proxy's resident memory and open descriptors are read from /proc: that is
the baseline. After the rest, the connections are closed again and the same readings are taken once they settle. One JSON object on stdout says what
happened; progress goes to stderr. The exit status is 0 whatever the findings: soak.sh judges them.
"""

import argparse
import asyncio
import json
import os
import random
import sys
import time


class Unexpected(Exception):
    """An answer that is not what the request must get."""


def proc_status(pid, field):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


def proc_fds(pid):
    kinds = {}
    for entry in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{entry}")
        except OSError:
            continue
        if target.startswith("anon_inode:"):
            kind = target  # anon_inode:[eventpoll] (one per event loop), anon_inode:[eventfd], ...
        elif ":" in target and not target.startswith("/"):
            kind = target.split(":")[0]
        else:
            kind = "file"
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def proc_cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def read_head(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    status = int(parts[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return status, headers


async def read_body(reader, headers, method):
    """The body of a response: by Content-Length, chunked, or (without either) until the connection ends."""
    if method == "HEAD":
        return b""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = bytearray()
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0].strip(), 16)
            if size == 0:
                # Trailers, then the empty line.
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass
                return bytes(body)
            body += await reader.readexactly(size)
            await reader.readexactly(2)
    if "content-length" in headers:
        return await reader.readexactly(int(headers["content-length"]))
    return await reader.read()


class Connection:
    def __init__(self, port):
        self.port = port
        self.reader = None
        self.writer = None

    async def ensure(self, stats):
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
            stats["connections"] += 1

    def close(self):
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


class Load:
    def __init__(self, args):
        self.args = args
        self.port = args.port
        v = f"/v{args.api_version}"
        cid = args.container
        self.allowed = [
            ("GET", "/_ping", None, 200, b"OK"),
            ("GET", "/version", None, 200, None),
            ("GET", f"{v}/containers/json", None, 200, None),
            ("GET", f"{v}/containers/{cid}/json", None, 200, None),
        ]
        privileged = json.dumps({"Image": args.image, "Cmd": ["true"], "HostConfig": {"Privileged": True}})
        self.denied = [
            ("GET", f"{v}/images/json", None, 403, None),
            ("GET", f"{v}/secrets", None, 403, None),
            ("GET", f"{v}/networks", None, 403, None),
            ("POST", f"{v}/containers/create", privileged, 403, None),
        ]
        self.v = v
        self.cid = cid
        self.stats = {
            "requests": 0, "allowed": 0, "denied": 0, "pipelined": 0, "streaming": 0, "hijacked": 0,
            "exec": 0, "connections": 0, "errors": 0, "error_samples": [], "latency_ms": [],
        }
        self.remaining = 0
        self.operations_done = 0
        self.operations = [
            (38, self.op_allowed), (27, self.op_denied), (20, self.op_pipelined), (10, self.op_streaming),
            (4.8, self.op_attach), (0.2, self.op_exec),
        ]
        self.weights = [weight for weight, _ in self.operations]

    @staticmethod
    def request(method, path, body=None, extra=""):
        head = f"{method} {path} HTTP/1.1\r\nHost: docker\r\n{extra}"
        if body is not None:
            data = body.encode()
            return (head + f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n").encode() + data
        return (head + "\r\n").encode()

    def record_latency(self, milliseconds):
        """Keeps a uniform sample of 100 000 operation latencies (reservoir sampling)."""
        self.operations_done += 1
        sample = self.stats["latency_ms"]
        if len(sample) < 100_000:
            sample.append(milliseconds)
        else:
            slot = random.randrange(self.operations_done)
            if slot < len(sample):
                sample[slot] = milliseconds

    def error(self, text):
        self.stats["errors"] += 1
        if len(self.stats["error_samples"]) < 20:
            self.stats["error_samples"].append(text[:500])

    async def exchange(self, conn, items):
        """Sends `items` (method, path, body, status, body-must-equal) in one write; checks each answer."""
        await conn.ensure(self.stats)
        conn.writer.write(b"".join(self.request(m, p, b) for m, p, b, _, _ in items))
        await conn.writer.drain()
        for method, path, _, want, want_body in items:
            status, headers = await read_head(conn.reader)
            body = await read_body(conn.reader, headers, method)
            if status != want:
                raise Unexpected(f"{method} {path}: {status}, wanted {want}: {body[:200]!r}")
            if want_body is not None and body != want_body:
                raise Unexpected(f"{method} {path}: body {body[:200]!r}, wanted {want_body!r}")
            if "close" in headers.get("connection", "").lower():
                conn.close()
                if (method, path) != items[-1][:2]:
                    raise Unexpected(f"{method} {path}: Connection: close in the middle of a pipeline")
            self.stats["requests"] += 1
            self.stats["denied" if want == 403 else "allowed"] += 1

    async def op_allowed(self, conn):
        await self.exchange(conn, [random.choice(self.allowed)])
        return 1

    async def op_denied(self, conn):
        await self.exchange(conn, [random.choice(self.denied)])
        return 1

    async def op_pipelined(self, conn):
        batch = [random.choice(self.allowed + self.denied) for _ in range(10)]
        await self.exchange(conn, batch)
        self.stats["pipelined"] += len(batch)
        return len(batch)

    async def op_streaming(self, conn):
        if random.random() < 0.5:
            path = f"{self.v}/containers/{self.cid}/logs?stdout=1&tail=50"
        else:
            now = int(time.time())
            path = f"{self.v}/events?since={now - 30}&until={now - 1}"
        await conn.ensure(self.stats)
        conn.writer.write(self.request("GET", path))
        await conn.writer.drain()
        status, headers = await read_head(conn.reader)
        body = await read_body(conn.reader, headers, "GET")
        if status != 200:
            raise Unexpected(f"GET {path}: {status}: {body[:200]!r}")
        if "/logs" in path and len(body) == 0:
            raise Unexpected(f"GET {path}: empty log")
        self.stats["requests"] += 1
        self.stats["streaming"] += 1
        self.stats["allowed"] += 1
        return 1

    async def upgrade(self, path, body, expect):
        """A fresh connection upgraded to a raw stream; reads until `expect` appears (attach) or the daemon hangs
        up (exec)."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.stats["connections"] += 1
        try:
            extra = "Connection: Upgrade\r\nUpgrade: tcp\r\n"
            writer.write(self.request("POST", path, body, extra))
            await writer.drain()
            status, headers = await read_head(reader)
            if status != 101:
                rest = await read_body(reader, headers, "POST")
                raise Unexpected(f"POST {path}: {status}, wanted 101: {rest[:200]!r}")
            seen = bytearray()
            while expect not in seen:
                chunk = await asyncio.wait_for(reader.read(65536), 10)
                if not chunk:
                    break
                seen += chunk
            if expect not in seen:
                raise Unexpected(f"POST {path}: the stream ended without {expect!r}: {bytes(seen[:200])!r}")
            return seen
        finally:
            writer.close()

    async def op_attach(self, conn):
        await self.upgrade(f"{self.v}/containers/{self.cid}/attach?stream=1&stdout=1", None, b"tick")
        self.stats["requests"] += 1
        self.stats["hijacked"] += 1
        self.stats["allowed"] += 1
        return 1

    async def op_exec(self, conn):
        body = json.dumps({"Cmd": ["echo", "soak-exec"], "AttachStdout": True, "AttachStderr": True})
        await conn.ensure(self.stats)
        conn.writer.write(self.request("POST", f"{self.v}/containers/{self.cid}/exec", body))
        await conn.writer.drain()
        status, headers = await read_head(conn.reader)
        answer = await read_body(conn.reader, headers, "POST")
        if status != 201:
            raise Unexpected(f"exec create: {status}: {answer[:200]!r}")
        exec_id = json.loads(answer)["Id"]
        await self.upgrade(f"{self.v}/exec/{exec_id}/start", json.dumps({"Detach": False, "Tty": False}),
                           b"soak-exec")
        self.stats["requests"] += 2
        self.stats["hijacked"] += 1
        self.stats["exec"] += 1
        self.stats["allowed"] += 2
        return 2

    async def worker(self):
        conn = Connection(self.port)
        try:
            while self.remaining > 0:
                operation = random.choices(self.operations, weights=self.weights)[0][1]
                started = time.monotonic()
                try:
                    count = await asyncio.wait_for(operation(conn), 60)
                    self.remaining -= count
                    self.record_latency((time.monotonic() - started) * 1000)
                except (Unexpected, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                        asyncio.TimeoutError, ValueError) as failure:
                    self.error(f"{operation.__name__}: {type(failure).__name__}: {failure}")
                    self.remaining -= 1
                    conn.close()
        finally:
            conn.close()

    async def phase(self, count):
        self.remaining = count
        await asyncio.gather(*(self.worker() for _ in range(self.args.concurrency)))


async def settle(pid, at_most, timeout):
    """Waits until the proxy has at most `at_most` descriptors open, or `timeout` seconds; returns the last count."""
    deadline = time.monotonic() + timeout
    while True:
        count = sum(proc_fds(pid).values())
        if count <= at_most or time.monotonic() >= deadline:
            return count
        await asyncio.sleep(0.1)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--container", required=True)
    parser.add_argument("--image", required=True)
    parser.add_argument("--api-version", required=True)
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    load = Load(args)
    pid = args.pid
    result = {"requested": args.requests, "concurrency": args.concurrency}
    result["rss_kb_start"] = proc_status(pid, "VmRSS")
    result["fds_start"] = proc_fds(pid)
    cpu_start = proc_cpu_seconds(pid)

    samples = []
    stop = asyncio.Event()

    async def sample():
        while not stop.is_set():
            samples.append((time.monotonic(), proc_status(pid, "VmRSS"), sum(proc_fds(pid).values())))
            await asyncio.sleep(5)

    sampler = asyncio.create_task(sample())
    # Long enough for the allocator and the proxy's caches to reach their working size (a short warm-up makes a
    # quick run report growth that a long one does not have), and never more than half the run.
    warmup = min(max(args.requests // 10, 20_000), args.requests // 2, 50_000)
    started = time.monotonic()
    last_report = [started, 0]

    async def progress():
        while not stop.is_set():
            await asyncio.sleep(10)
            now = time.monotonic()
            done = load.stats["requests"]
            rate = (done - last_report[1]) / (now - last_report[0])
            last_report[:] = [now, done]
            print(f"soak: {done} requests, {load.stats['errors']} errors, {rate:.0f}/s, "
                  f"RSS {proc_status(pid, 'VmRSS')} kB, {sum(proc_fds(pid).values())} fds", file=sys.stderr,
                  flush=True)

    reporter = asyncio.create_task(progress())
    await load.phase(warmup)
    # Baseline: every client gone, the proxy's pools as the load left them.
    await asyncio.sleep(2)
    result["rss_kb_warm"] = proc_status(pid, "VmRSS")
    result["fds_warm"] = proc_fds(pid)
    result["warmup_requests"] = load.stats["requests"]
    warm_total = sum(result["fds_warm"].values())

    await load.phase(args.requests - warmup)
    result["duration_s"] = time.monotonic() - started
    await asyncio.sleep(2)
    result["fds_end_settled"] = await settle(pid, warm_total, 30)
    result["rss_kb_end"] = proc_status(pid, "VmRSS")
    result["fds_end"] = proc_fds(pid)
    result["cpu_s"] = proc_cpu_seconds(pid) - cpu_start
    stop.set()
    sampler.cancel()
    reporter.cancel()

    stats = load.stats
    latencies = sorted(stats.pop("latency_ms"))
    if latencies:
        result["latency_ms"] = {q: round(latencies[min(len(latencies) - 1, int(len(latencies) * f))], 2)
                                for q, f in (("p50", 0.5), ("p99", 0.99), ("p999", 0.999))}
        result["latency_ms"]["max"] = round(latencies[-1], 2)
    result.update(stats)
    result["requests_per_s"] = round(stats["requests"] / result["duration_s"], 1)
    result["rss_kb_peak"] = max([s[1] for s in samples] + [result["rss_kb_end"]])
    result["rss_kb_samples"] = [s[1] for s in samples][-50:]
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
