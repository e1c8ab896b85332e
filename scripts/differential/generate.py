#!/usr/bin/env python3
"""Builds the differential corpus of HTTP requests: generated and mutated byte sequences with the verdicts of two
independent strict parsers, Python's h11 and Node's llhttp.

    python3 scripts/differential/generate.py [--seed N] [--mutations N] [--output FILE]

Needs `pip install h11` (0.16 was used) and `node` (20 was used) on PATH. Writes
Tests/SocketProxyCoreTests/Fixtures/http-differential.json, which HTTPDifferentialTests.swift reads: `swift test`
then compares socket-proxy's parsers with the recorded verdicts without Python or Node. The output depends only on
the seed and the reference versions, so regenerating with the same ones gives the same file.

Each case is a byte sequence holding one or more requests (pipelined). For each reference the file records the
requests it read completely (method, target, header names and values, body length, length in bytes) and how the
bytes ended:
"accept" (every byte is part of a complete request), "reject" (with the reference's error), "incomplete" (the last
request needs more bytes) or "opaque" (a request switched protocols, e.g. Upgrade or CONNECT; the rest is a tunnel).
The Swift test fails when a reference rejects what socket-proxy accepts, or when both read a request and disagree
on anything about it, or on where it ends. Being stricter than a reference is allowed; the known, intended
differences are listed in HTTPDifferentialTests.KnownDifference.
"""

import argparse
import base64
import json
import os
import random
import subprocess
import sys

import h11

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUTPUT = os.path.join(ROOT, "Tests", "SocketProxyCoreTests", "Fixtures", "http-differential.json")
LLHTTP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "llhttp.js")

CRLF = b"\r\n"
HOST = b"Host: docker\r\n"


def request(method=b"GET", target=b"/_ping", version=b"HTTP/1.1", fields=(HOST,), body=b""):
    return method + b" " + target + b" " + version + CRLF + b"".join(fields) + CRLF + body


def chunked(*pieces, trailers=b"", last=b"0"):
    out = b""
    for piece in pieces:
        out += b"%x" % len(piece) + CRLF + piece + CRLF
    return out + last + CRLF + trailers + CRLF


# A request hidden after a body: a parser that frames the body differently reads it as a second request.
SMUGGLED = request(b"GET", b"/secrets", fields=(HOST,))


def generated():
    """Hand-built families: valid requests of every shape, then each framing and syntax trick on its own."""
    cases = []

    def add(family, data):
        cases.append(("gen/%s/%d" % (family, sum(1 for c in cases if c[0].startswith("gen/%s/" % family))), data))

    methods = [b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"OPTIONS", b"PATCH", b"PROPFIND", b"M-SEARCH", b"get",
               b"X~!#$%&'*+.^_`|"]
    targets = [b"/", b"/_ping", b"/v1.41/containers/json?all=1&filters=%7B%7D", b"/containers/a%2Fb/start", b"*",
               b"http://docker/v1.41/_ping", b"/{x}|^`\"<>\\", b"/a/../b//c/./d", b"docker:2375"]
    field_sets = [
        (HOST,),
        (b"host: docker\r\n", b"User-Agent: Docker-Client/28.0.0 (linux)\r\n", b"Accept: */*\r\n"),
        (HOST, b"X-Empty:\r\n", b"X-Spaces:   \t \r\n", b"X-Inner: a  b\t\tc\r\n"),
        (HOST, b"X-Obs-Text: caf\xe9 \x80\xff\r\n"),
        (HOST, b"Connection: keep-alive\r\n", b"Keep-Alive: timeout=5\r\n"),
        (HOST, b"Connection: close\r\n"),
        (HOST, b"Expect: 100-continue\r\n", b"Content-Type: application/json\r\n"),
    ]
    for index, (method, target) in enumerate((m, t) for m in methods for t in targets):
        for version in (b"HTTP/1.1", b"HTTP/1.0"):
            add("valid", request(method, target, version, field_sets[index % len(field_sets)]))
    for fields in field_sets:
        add("valid", request(b"GET", b"/_ping", b"HTTP/1.1", fields))

    bodies = [b"", b"x", b"hello", b'{"Image":"alpine","HostConfig":{"Privileged":true}}', bytes(range(256)),
              b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"]
    for body in bodies:
        for method in (b"POST", b"PUT", b"GET"):
            add("length-body", request(method, b"/containers/create", fields=(
                HOST, b"Content-Type: application/json\r\n", b"Content-Length: %d\r\n" % len(body)), body=body))
            add("chunked-body", request(method, b"/containers/create", fields=(
                HOST, b"Transfer-Encoding: chunked\r\n"), body=chunked(body) if body else chunked()))
            add("chunked-split", request(method, b"/containers/create", fields=(
                HOST, b"Transfer-Encoding: chunked\r\n"), body=chunked(*[body[i:i + 3] for i in range(0, len(body), 3)])))

    # Content-Length values, each followed by "hello" and a hidden request.
    lengths = [b"0", b"5", b"05", b"000000000000000005", b"0000000000000000005", b"+5", b"-5", b" 5", b"5 ", b"\t5\t",
               b"5,5", b"5, 5", b"5,6", b"5 5", b"0x5", b"5.0", b"", b"1e1", b"5\x00", b"\xff", b"99999999999999999",
               b"999999999999999999", b"9999999999999999999", b"18446744073709551616", b"\"5\"", b"5;x"]
    for value in lengths:
        for version in (b"HTTP/1.1", b"HTTP/1.0"):
            add("content-length", request(b"POST", b"/containers/create", version,
                                          (HOST, b"Content-Length: " + value + CRLF), b"hello" + SMUGGLED))
    add("content-length", request(b"POST", b"/", fields=(HOST, b"Content-Length: 5\r\n", b"Content-Length: 5\r\n"),
                                  body=b"hello"))
    add("content-length", request(b"POST", b"/", fields=(HOST, b"Content-Length: 5\r\n", b"Content-Length: 6\r\n"),
                                  body=b"hello!"))
    add("content-length", request(b"POST", b"/", fields=(HOST, b"Content-Length: 5\r\n", b"content-length: 5\r\n"),
                                  body=b"hello"))

    # Transfer-Encoding values and spellings of the name, with and without a Content-Length.
    codings = [b"chunked", b"Chunked", b"CHUNKED", b"chunked ", b"chunked\t", b"chunked, chunked", b"gzip, chunked",
               b"chunked, gzip", b"identity", b"xchunked", b"chunkedx", b"chunked;q=1", b"\"chunked\"", b"chunk",
               b"chunked\x00", b"chunked\x0b", b"chunked\x0c", b"ch\x00unked", b",chunked", b"chunked,", b"",
               b"\xffchunked", b"cHuNkEd"]
    names = [b"Transfer-Encoding", b"transfer-encoding", b"TRANSFER-ENCODING", b"Transfer-Encoding ",
             b"Transfer_Encoding", b"X-Transfer-Encoding", b"Transfer-Encoding\t"]
    body = chunked(b"hello") + SMUGGLED
    for coding in codings:
        for name in names[:3]:
            add("transfer-encoding", request(b"POST", b"/", fields=(HOST, name + b": " + coding + CRLF), body=body))
        add("transfer-encoding", request(b"POST", b"/", b"HTTP/1.0", (name + b": " + coding + CRLF,), body=body))
    for name in names:
        add("te-name", request(b"POST", b"/", fields=(HOST, name + b": chunked\r\n"), body=body))
        add("cl-te", request(b"POST", b"/", fields=(HOST, b"Content-Length: 4\r\n", name + b": chunked\r\n"),
                             body=body))
        add("te-cl", request(b"POST", b"/", fields=(HOST, name + b": chunked\r\n", b"Content-Length: 40\r\n"),
                             body=body))
    for first, second in ((b"chunked", b"chunked"), (b"chunked", b"identity"), (b"identity", b"chunked"),
                          (b"gzip", b"chunked")):
        add("te-te", request(b"POST", b"/", fields=(HOST, b"Transfer-Encoding: " + first + CRLF,
                                                   b"Transfer-Encoding: " + second + CRLF), body=body))
    add("te-te", request(b"POST", b"/", fields=(HOST, b"Transfer-Encoding: chunked\r\n", b" identity\r\n"), body=body))
    add("te-te", request(b"POST", b"/", fields=(HOST, b"Transfer-Encoding:\r\n", b" chunked\r\n"), body=body))
    add("te-te", request(b"POST", b"/", fields=(HOST, b"Transfer-Encoding: identity\r\n", b"\tchunked\r\n"), body=body))

    # Chunk-size lines, extensions, data delimiters and trailers.
    size_lines = [b"5", b"05", b"0000000000000005", b"00000000000000005", b"5;a", b"5;a=b", b"5;a=\"b c\"",
                  b"5;a=\"b\\\"c\"", b"5 ;a", b"5\t;a", b"5; a", b"5;a ", b"5;a =b", b"5;a= b", b"5;", b"5;=b",
                  b"5;a=\"b", b"5;a=b;c", b"5 ", b" 5", b"+5", b"-5", b"0x5", b"5x", b"5\x00", b"5;a\x00",
                  b"5;a=\"\x7f\"", b"5;a=\"\xff\"", b"ffffffffffffffff", b"10000000000000000", b"A", b"a", b"F", b"5\r"]
    for line in size_lines:
        data = b"hello" if line not in (b"A", b"a", b"F") else b"x" * int(line, 16)
        add("chunk-size", request(b"POST", b"/", fields=(HOST, b"Transfer-Encoding: chunked\r\n"),
                                  body=line + CRLF + data + CRLF + b"0\r\n\r\n"))
    delimiters = [b"\r\n", b"\n", b"\r", b"", b"\r\r\n", b" \r\n", b"XX"]
    for delimiter in delimiters:
        add("chunk-delimiter", request(b"POST", b"/", fields=(HOST, b"Transfer-Encoding: chunked\r\n"),
                                       body=b"5\r\nhello" + delimiter + b"0\r\n\r\n"))
        add("chunk-line-end", request(b"POST", b"/", fields=(HOST, b"Transfer-Encoding: chunked\r\n"),
                                      body=b"5" + delimiter + b"hello\r\n0" + delimiter + b"\r\n"))
    trailers = [b"X-Sum: 1\r\n", b"X-Sum: 1\r\nX-Other: 2\r\n", b"Content-Length: 5\r\n", b"Transfer-Encoding: chunked\r\n",
                b"Host: other\r\n", b"Trailer: X\r\n", b"X-Sum 1\r\n", b"X-Sum : 1\r\n", b" X: 1\r\n", b"X: 1\r\n 2\r\n",
                b"X: \x00\r\n", b"X: 1\n", b":x\r\n"]
    for trailer in trailers:
        add("trailers", request(b"POST", b"/", fields=(HOST, b"Transfer-Encoding: chunked\r\n"),
                                body=chunked(b"hello", trailers=trailer)))

    # Line endings and the request line.
    valid = request(b"GET", b"/_ping", fields=(HOST, b"Accept: */*\r\n"))
    for old, new in ((b"\r\n", b"\n"), (b"\r\n", b"\r"), (b"\r\n", b"\r\r\n"), (b"\r\n", b"\n\r"), (b"\r\n", b" \r\n")):
        add("line-endings", valid.replace(old, new))
        add("line-endings", valid.replace(old, new, 1))
        add("line-endings", valid[:-4] + valid[-4:].replace(old, new))
    request_lines = [b"GET  /_ping HTTP/1.1", b"GET /_ping  HTTP/1.1", b" GET /_ping HTTP/1.1", b"GET /_ping HTTP/1.1 ",
                     b"GET\t/_ping HTTP/1.1", b"GET /_ping\tHTTP/1.1", b"GET /_ping", b"GET", b"GET /_ping HTTP/1.1 x",
                     b"GET /_ping http/1.1", b"GET /_ping HTTP/1.2", b"GET /_ping HTTP/2.0", b"GET /_ping HTTP/0.9",
                     b"GET /_ping HTTP/01.1", b"GET /_ping HTTP/1.10", b"GET /_ping HTTP/1", b"GET /_ping HTTP/1.",
                     b"GET /_ping HTTP/a.b", b"GET /_p ing HTTP/1.1", b"GET /_p\x00ing HTTP/1.1", b"GET /_p\x7fing HTTP/1.1",
                     b"GET /_p\xffing HTTP/1.1", b"G\x00ET /_ping HTTP/1.1", b"GE(T /_ping HTTP/1.1", b"GET? /_ping HTTP/1.1",
                     b"\r\nGET /_ping HTTP/1.1", b"\nGET /_ping HTTP/1.1", b"GET / HTTP/1.1", b"GET /#frag HTTP/1.1"]
    for line in request_lines:
        add("request-line", line + CRLF + HOST + CRLF)

    # Field lines: names, colons, values, folding, NULs and other controls.
    field_lines = [b"X: y", b"X:y", b"X :y", b"X\t: y", b" X: y", b"\tX: y", b"X: y\x00z", b"X: y\x01", b"X: \x7f",
                   b"X: y\x0bz", b"X: y\x0cz", b"X: y\rz", b"X\x00: y", b"X(: y", b"X y: z", b": y", b"X", b"X;y: z",
                   b"X: \"quoted, value\"", b"X: y\r\n z", b"X: y\r\n\tz", b"X:\r\n z", b"\xffX: y", b"X\xff: y",
                   b"X: " + b"v" * 5000, b"Content-Type: application/json; charset=utf-8"]
    for line in field_lines:
        add("field-line", request(fields=(HOST, line + CRLF)))
    hosts = [(), (b"Host: a\r\n", b"Host: b\r\n"), (b"Host: a\r\n", b"Host: a\r\n"), (b"Host:\r\n",),
             (b"Host: a b\r\n",), (b"HOST: a\r\n",), (b"Host : a\r\n",)]
    for fields in hosts:
        for version in (b"HTTP/1.1", b"HTTP/1.0"):
            add("host", request(version=version, fields=fields))

    # Upgrades and CONNECT: everything after the switch is tunnel bytes.
    after = SMUGGLED
    add("upgrade", request(b"POST", b"/containers/a/attach", fields=(HOST, b"Connection: Upgrade\r\n",
                                                                      b"Upgrade: tcp\r\n")) + after)
    add("upgrade", request(b"GET", b"/", fields=(HOST, b"Upgrade: tcp\r\n")) + after)
    add("upgrade", request(b"GET", b"/", fields=(HOST, b"Connection: upgrade\r\n")) + after)
    add("upgrade", request(b"CONNECT", b"docker:2375", fields=(HOST,)) + after)

    # Pipelines and requests inside bodies.
    simple = [request(), request(b"POST", b"/containers/create", fields=(HOST, b"Content-Length: 2\r\n"), body=b"{}"),
              request(b"POST", b"/containers/create", fields=(HOST, b"Transfer-Encoding: chunked\r\n"),
                      body=chunked(b"{}")),
              request(b"GET", b"/_ping", b"HTTP/1.0"), request(fields=(HOST, b"Connection: close\r\n"))]
    for first in simple:
        for second in simple:
            add("pipeline", first + second)
        add("pipeline", first + simple[0] + simple[1] + simple[2])
        add("pipeline", first + b"\r\n" + simple[0])

    # Limits: socket-proxy refuses these (431); the references have theirs raised out of the way.
    add("limits", request(fields=(HOST,) + tuple(b"X-%d: %d\r\n" % (i, i) for i in range(101))))
    add("limits", request(fields=(HOST,) + tuple(b"X-%d: %d\r\n" % (i, i) for i in range(99))))
    add("limits", request(target=b"/" + b"a" * 8200))
    add("limits", request(target=b"/" + b"a" * 8000))
    add("limits", request(fields=(HOST, b"X: " + b"v" * 65536 + CRLF)))
    return cases


SPECIAL = b"\r\n\x00 \t:;,\"\\/%#?=\x7f\x80\xff0159aAfFzZ-+"
HOSTILE = [b"Transfer-Encoding: chunked", b"Content-Length: 0", b"Content-Length: 10", b"Transfer-Encoding : chunked",
           b"Host: other", b"Connection: close", b"Upgrade: tcp\r\nConnection: upgrade", b"X: y\r\n z",
           b"Transfer-Encoding: identity", b"Content-Length: 5", b"Expect: 100-continue"]


def mutate(rng, data):
    """One to three random edits: a byte changed, inserted or deleted, a line doubled or moved, a field added, a
    line ending changed, case changed, a cut, or another request appended."""
    data = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        kind = rng.randrange(11)
        position = rng.randrange(len(data) + 1)
        if kind == 0 and data:
            data[min(position, len(data) - 1)] = rng.choice(SPECIAL) if rng.random() < 0.7 else rng.randrange(256)
        elif kind == 1:
            data[position:position] = bytes([rng.choice(SPECIAL)])
        elif kind == 2 and data:
            del data[position:position + rng.randint(1, 4)]
        elif kind in (3, 4):
            lines = bytes(data).split(CRLF)
            if len(lines) > 2:
                index = rng.randrange(1, len(lines) - 1)
                if kind == 3:
                    lines.insert(index, lines[index])
                else:
                    other = rng.randrange(1, len(lines) - 1)
                    lines[index], lines[other] = lines[other], lines[index]
                data = bytearray(CRLF.join(lines))
        elif kind == 5:
            end = bytes(data).find(CRLF)
            if end >= 0:
                data[end + 2:end + 2] = rng.choice(HOSTILE) + CRLF
        elif kind == 6:
            occurrences = [i for i in range(len(data) - 1) if data[i:i + 2] == CRLF]
            if occurrences:
                at = rng.choice(occurrences)
                data[at:at + 2] = rng.choice([b"\n", b"\r", b"\r\r\n", b"\n\r", b" \r\n"])
        elif kind == 7 and data:
            end = min(len(data), position + rng.randint(1, 8))
            data[position:end] = bytes(data[position:end]).swapcase()
        elif kind == 8:
            del data[position:]
        elif kind == 9:
            data += SMUGGLED
        else:
            digits = [i for i, byte in enumerate(data) if 0x30 <= byte <= 0x39]
            if digits:
                data[rng.choice(digits)] = rng.choice(b"0123456789")
    return bytes(data)


def h11_verdict(data):
    """How h11 (server side) reads the bytes, one connection per request so that each is read on its own."""
    messages = []
    rest = data
    while rest:
        connection = h11.Connection(h11.SERVER, max_incomplete_event_size=1 << 20)
        connection.receive_data(rest)
        message = None
        body = 0
        try:
            while True:
                event = connection.next_event()
                if event is h11.NEED_DATA:
                    return {"messages": messages, "end": "incomplete"}
                if isinstance(event, h11.Request):
                    message = {"method": event.method.decode("latin-1"), "target": event.target.decode("latin-1"),
                               "headers": [[name.decode("latin-1"), value.decode("latin-1")]
                                           for name, value in event.headers.raw_items()]}
                elif isinstance(event, h11.Data):
                    body += len(event.data)
                elif isinstance(event, h11.EndOfMessage):
                    message["body"] = body
                    messages.append(message)
                    break
        except h11.ProtocolError as error:
            return {"messages": messages, "end": "reject", "error": str(error)[:80]}
        left = connection.trailing_data[0]
        message["length"] = len(rest) - len(left)
        if connection.their_state is h11.MIGHT_SWITCH_PROTOCOL:
            return {"messages": messages, "end": "opaque"}
        rest = left
    return {"messages": messages, "end": "accept"}


def llhttp_verdicts(datas):
    encoded = json.dumps([base64.b64encode(data).decode("ascii") for data in datas])
    result = subprocess.run(["node", LLHTTP], input=encoded.encode(), capture_output=True, check=True)
    return json.loads(result.stdout)


def node_version():
    result = subprocess.run(["node", "-p", "process.version + ' llhttp ' + process.versions.llhttp"],
                            capture_output=True, check=True, text=True)
    return result.stdout.strip()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=9112)
    parser.add_argument("--mutations", type=int, default=3000)
    parser.add_argument("--output", default=OUTPUT)
    arguments = parser.parse_args()

    rng = random.Random(arguments.seed)
    cases = generated()
    bases = [data for _, data in cases if len(data) < 600]
    for index in range(arguments.mutations):
        cases.append(("mut/%d" % index, mutate(rng, rng.choice(bases))))
    # Identical bytes are one case.
    unique = {}
    for name, data in cases:
        unique.setdefault(data, name)
    cases = [(name, data) for data, name in unique.items()]

    references = llhttp_verdicts([data for _, data in cases])
    output = {
        "generator": "scripts/differential/generate.py --seed %d --mutations %d" % (arguments.seed,
                                                                                      arguments.mutations),
        "references": {"h11": h11.__version__, "llhttp": node_version()},
        "cases": [],
    }
    for (name, data), llhttp in zip(cases, references):
        h11_result = h11_verdict(data)
        case = {"name": name, "bytes": data.decode("latin-1"), "h11": h11_result}
        case["llhttp"] = "same" if llhttp == h11_result else llhttp
        output["cases"].append(case)

    with open(arguments.output, "w") as file:
        json.dump(output, file, indent=None, separators=(",", ":"), ensure_ascii=True)
        file.write("\n")
    counts = {}
    for case in output["cases"]:
        for reference in ("h11", "llhttp"):
            verdict = case[reference] if case[reference] != "same" else case["h11"]
            key = (reference, verdict["end"])
            counts[key] = counts.get(key, 0) + 1
    print("%d cases (%d generated, %d mutated) -> %s" % (
        len(output["cases"]), sum(1 for c in output["cases"] if c["name"].startswith("gen/")),
        sum(1 for c in output["cases"] if c["name"].startswith("mut/")), os.path.relpath(arguments.output, ROOT)))
    for (reference, end), count in sorted(counts.items()):
        print("  %-7s %-10s %5d" % (reference, end, count))


if __name__ == "__main__":
    sys.exit(main())
