// The llhttp side of the differential corpus: Node's own HTTP parser (llhttp, strict mode) run over each case.
//
//   node scripts/differential/llhttp.js < cases.json > verdicts.json
//
// Input: a JSON array of base64 strings, one per case. Output: a JSON array of verdicts, in the same order:
//   { messages: [{ method, target, headers: [[name, value], ...], body, length }], end: "accept" | "reject" | "incomplete"
//     | "opaque", error?: "HPE_... reason" }
// Names, values and targets are latin-1 strings of the exact bytes. Each message is parsed by a fresh parser fed
// one byte at a time, so that the offset where a message ends is known and connection-level rules (no data after
// `Connection: close`) do not mask how the next message parses; after an upgrade or CONNECT the rest is a tunnel
// ("opaque"). The parser gets a 1 MiB header limit so that only socket-proxy's own limits can refuse a large head.
'use strict';

const { HTTPParser, methods } = require('_http_common');

function parseOne(bytes, start) {
    const parser = new HTTPParser();
    parser.initialize(HTTPParser.REQUEST, {}, 1 << 20, 0);
    let headers = [];
    let url = '';
    let message = null;
    let body = 0;
    let complete = false;
    let upgrade = false;
    parser[HTTPParser.kOnHeaders] = (more, moreUrl) => {
        headers = headers.concat(more);
        url += moreUrl;
    };
    parser[HTTPParser.kOnHeadersComplete] = (major, minor, list, method, target, status, reason, isUpgrade) => {
        if (list) headers = headers.concat(list);
        if (target) url += target;
        const pairs = [];
        for (let i = 0; i + 1 < headers.length; i += 2) pairs.push([headers[i], headers[i + 1]]);
        message = { method: methods[method], target: url, headers: pairs, body: 0 };
        upgrade = isUpgrade;
    };
    parser[HTTPParser.kOnBody] = (chunk) => {
        body += chunk.length;
    };
    parser[HTTPParser.kOnMessageComplete] = () => {
        complete = true;
    };
    for (let offset = start; offset < bytes.length; offset++) {
        const result = parser.execute(bytes.subarray(offset, offset + 1));
        if (result instanceof Error) {
            return { error: `${result.code} ${result.reason}` };
        }
        if (complete) {
            message.body = body;
            message.length = offset + 1 - start;
            return { message, next: offset + 1, upgrade };
        }
    }
    return { incomplete: true };
}

function verdict(bytes) {
    const messages = [];
    let offset = 0;
    while (offset < bytes.length) {
        const one = parseOne(bytes, offset);
        if (one.error) return { messages, end: 'reject', error: one.error };
        if (one.incomplete) return { messages, end: 'incomplete' };
        messages.push(one.message);
        if (one.upgrade) return { messages, end: 'opaque' };
        offset = one.next;
    }
    return { messages, end: 'accept' };
}

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (text) => {
    input += text;
});
process.stdin.on('end', () => {
    const cases = JSON.parse(input);
    const verdicts = cases.map((encoded) => verdict(Buffer.from(encoded, 'base64')));
    process.stdout.write(JSON.stringify(verdicts));
});
