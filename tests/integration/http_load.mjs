// Bounded loopback load against `signal-hub serve --transport http`, optionally sending SIGTERM to the
// server part-way through, and accounting for every request (node built-ins only).
//
//   node http_load.mjs --url http://127.0.0.1:PORT/mcp [--connections 8] [--requests 400]
//                      [--sigterm PID --after K] [--timeout-ms 60000]
//
// One MCP session is initialized, then `connections` workers, each on its own keep-alive connection,
// send search_code calls back to back until `requests` have been sent in total. With --sigterm, the
// server gets SIGTERM once K responses have arrived; from then on a worker whose new connection is
// refused (ECONNREFUSED: the server stopped accepting) stops.
//
// Outcome of each request: "ok" (200 with a JSON-RPC result), "refused" (never accepted: the
// connection was refused), or "failed" (anything else: an error status, a reset or hang-up after the
// request was sent, a malformed reply). One case is not a failure: a request written to an idle
// keep-alive connection just as the server closed it (reused socket, ECONNRESET, no response) was
// never read by the server; it is counted in "closed_unread" and sent again on a new connection,
// as Node's documentation advises. Prints one JSON summary line; exits 1 if any request failed,
// if no request succeeded, or (with --sigterm) if fewer than K succeeded. Bounded by --timeout-ms.
import http from 'node:http';

function Args() {
    const args = { connections: 8, requests: 400, sigterm: 0, after: 0, 'timeout-ms': 60000, url: '' };
    const argv = process.argv.slice(2);
    for (let i = 0; i < argv.length; i += 2) {
        const key = argv[i].replace(/^--/, '');
        if (!(key in args) || i + 1 >= argv.length) {
            console.error(`http_load: unknown or incomplete option ${argv[i]}`);
            process.exit(2);
        }
        args[key] = key === 'url' ? argv[i + 1] : Number(argv[i + 1]);
    }
    if (!args.url) {
        console.error('http_load: --url is required');
        process.exit(2);
    }
    return args;
}

const args = Args();
const url = new URL(args.url);
const counts = { ok: 0, refused: 0, failed: 0, closed_unread: 0, in_flight_at_sigterm: 0 };
const failures = [];
let sent = 0;
let in_flight = 0;
let signalled = false;

function Post(agent, body, session) {
    return new Promise((resolve) => {
        const headers = {
            'Content-Type': 'application/json',
            Accept: 'application/json, text/event-stream',
            'Content-Length': Buffer.byteLength(body),
        };
        if (session) headers['Mcp-Session-Id'] = session;
        let responded = false;
        const request = http.request(
            { host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent, headers },
            (response) => {
                responded = true;
                let data = '';
                response.setEncoding('utf8');
                response.on('data', (chunk) => (data += chunk));
                response.on('end', () => resolve({ status: response.statusCode, headers: response.headers, data }));
                response.on('error', (error) => resolve({ error }));
            });
        // A keep-alive connection the server closed while idle (as it does at shutdown), crossing
        // our request on the wire: the server never read it (it answers every request it reads
        // before closing). Node's documented case for a retry: reusedSocket + ECONNRESET.
        request.on('error', (error) =>
            resolve({ error, unread: !responded && request.reusedSocket && error.code === 'ECONNRESET' }));
        request.end(body);
    });
}

function Classify(reply) {
    if (reply.error) {
        if (reply.error.code === 'ECONNREFUSED') return ['refused', ''];
        return ['failed', `${reply.error.code ?? ''} ${reply.error.message}`];
    }
    if (reply.status !== 200) return ['failed', `HTTP ${reply.status}: ${reply.data.slice(0, 200)}`];
    try {
        const message = JSON.parse(reply.data);
        if (message.result && Array.isArray(message.result.structuredContent?.results)) return ['ok', ''];
        return ['failed', `no result: ${reply.data.slice(0, 200)}`];
    } catch {
        return ['failed', `not JSON: ${reply.data.slice(0, 200)}`];
    }
}

async function Worker(session, queries) {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    for (;;) {
        if (sent >= args.requests) break;
        const n = sent++;
        const body = JSON.stringify({
            jsonrpc: '2.0', id: n + 10, method: 'tools/call',
            params: { name: 'search_code', arguments: { query: queries[n % queries.length], limit: 5 } },
        });
        ++in_flight;
        let reply = await Post(agent, body, session);
        // Never read by the server: send it again on a new connection (refused once it stopped
        // accepting). Bounded: a new connection is not a reused one.
        for (let retry = 0; reply.unread && retry < 3; ++retry) {
            ++counts.closed_unread;
            reply = await Post(agent, body, session);
        }
        --in_flight;
        const [outcome, detail] = Classify(reply);
        ++counts[outcome];
        if (outcome === 'failed' && failures.length < 10) failures.push(`request ${n}: ${detail}`);
        if (args.sigterm && !signalled && counts.ok >= args.after) {
            signalled = true;
            counts.in_flight_at_sigterm = in_flight;
            process.kill(args.sigterm, 'SIGTERM');
        }
        if (outcome === 'refused') break;
    }
    agent.destroy();
}

async function Main() {
    const agent = new http.Agent({ keepAlive: false });
    const init = await Post(agent, JSON.stringify({
        jsonrpc: '2.0', id: 1, method: 'initialize',
        params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'http_load', version: '0' } },
    }));
    const session = init.headers?.['mcp-session-id'];
    if (init.error || init.status !== 200 || !session) {
        console.log(`FAIL: initialize: ${init.error?.message ?? `HTTP ${init.status} ${init.data}`}`);
        process.exit(1);
    }
    const note = await Post(agent, JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }), session);
    if (note.status !== 202) {
        console.log(`FAIL: notifications/initialized: expected 202, got ${note.status ?? note.error?.message}`);
        process.exit(1);
    }
    const queries = ['split a url into scheme and host', 'adler checksum', 'bounded queue push', 'rollback release',
                     'build url from host and path', 'queue capacity'];
    const started = Date.now();
    await Promise.all(Array.from({ length: args.connections }, () => Worker(session, queries)));
    const seconds = (Date.now() - started) / 1000;
    const summary = { ...counts, sent, seconds, failures };
    console.log(JSON.stringify(summary));
    const enough = args.sigterm ? counts.ok >= args.after : counts.ok > 0;
    process.exit(counts.failed === 0 && enough ? 0 : 1);
}

setTimeout(() => {
    console.log(`FAIL: load did not finish within ${args['timeout-ms']} ms: ${JSON.stringify({ ...counts, sent })}`);
    process.exit(1);
}, args['timeout-ms']).unref();
Main();
