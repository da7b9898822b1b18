// A bounded MCP load with the official MCP TypeScript SDK (the client an assistant uses): N workers,
// each one an MCP session after another over Streamable HTTP, doing search_code calls until T seconds
// have passed or STOP_FILE exists. The rolling-upgrade drill (tests/integration/rolling_upgrade.sh)
// drives it through a load balancer while it replaces the replicas.
//
//   node tests/e2e/mcp_load.mjs URL [--sessions N] [--seconds T] [--stop-file FILE]
//        [--session-calls K] [--query Q] [--progress FILE] [--events FILE]
//
// A session does K search_code calls (default 20: one conversation of an assistant), then ends with
// DELETE /mcp (terminateSession) and the worker opens the next one; K = 0 keeps one session for the
// whole run (an assistant that stays connected). Every exchange is counted, nothing is retried
// silently: a request is "ok" when the server answered it without an error; anything else — a
// transport error, an HTTP error such as 404 for a session a replica no longer has, a JSON-RPC error,
// a tool result with isError, a timeout — is "failed", with its reason. After a failure the worker
// drops its session and opens a new one (what the MCP specification asks of a client after a 404),
// and that new initialize is counted as a request of its own. Errors the SDK reports outside a
// request (its GET /mcp notification stream failing to reconnect) are counted as failed too.
//
// Output: with --progress, FILE is rewritten about once a second with the running counts; at the end
// one JSON object on stdout: {"requests","ok","failed","failures":{reason:count},"calls","sessions",
// "latency_ms":{"p50","p99","max"},"duration_s"} (latencies of the successful search_code calls).
// With --events, FILE gets one line per counted request at the end: "UNIX_MS ok|failed" (when it was
// counted), for the failover drill's RTO (tests/integration/failover.sh).
// Exit 0 when the run completed (whatever the counts: the caller judges them), 2 on bad arguments.
import { existsSync, writeFileSync, renameSync } from 'node:fs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const kCallTimeoutMs = 15_000;

function Usage(message) {
    console.error(`mcp_load.mjs: ${message}`);
    console.error('usage: mcp_load.mjs URL [--sessions N] [--seconds T] [--stop-file FILE] [--session-calls K] ' +
                  '[--query Q] [--progress FILE] [--events FILE]');
    process.exit(2);
}

const args = process.argv.slice(2);
if (args.length === 0 || args[0].startsWith('--')) Usage('the first argument is the MCP URL');
const url = new URL(args[0]);
const opt = { sessions: 4, seconds: 60, 'stop-file': '', 'session-calls': 20, query: 'split a URL', progress: '', events: '' };
for (let i = 1; i < args.length; i += 2) {
    const name = args[i].replace(/^--/, '');
    if (!(name in opt) || i + 1 >= args.length) Usage(`unknown option or missing value: ${args[i]}`);
    opt[name] = typeof opt[name] === 'number' ? Number(args[i + 1]) : args[i + 1];
    if (typeof opt[name] === 'number' && !(Number.isInteger(opt[name]) && opt[name] >= 0))
        Usage(`--${name} wants a whole number >= 0, got ${args[i + 1]}`);
}
if (opt.sessions < 1 || opt.seconds < 1) Usage('--sessions and --seconds must be at least 1');

const counts = { requests: 0, ok: 0, failed: 0, calls: 0, sessions: 0 };
const failures = {};
const latencies = [];
const events = [];  // [unix ms, ok] per counted request (--events)
const started = Date.now();
const deadline = started + opt.seconds * 1000;
const stopping = () => Date.now() >= deadline || (opt['stop-file'] && existsSync(opt['stop-file']));

// A short, stable reason: the HTTP status or error class, without ids or addresses.
function Reason(what, error) {
    let text = error instanceof Error ? error.message : String(error);
    text = text.replace(/[0-9a-f]{32}/g, '<session>').replace(/127\.0\.0\.1:\d+/g, '<addr>').replace(/\s+/g, ' ');
    return `${what}: ${text.slice(0, 160)}`;
}
// The SDK hands a failing request's error both to onerror and to the caller, and a failing GET stream's
// error to onerror twice: each error object is counted once.
const counted = new WeakSet();
function Failed(what, error) {
    if (error instanceof Object) {
        if (counted.has(error)) return;
        counted.add(error);
    }
    counts.requests++;
    counts.failed++;
    events.push(`${Date.now()} failed`);
    const reason = Reason(what, error);
    failures[reason] = (failures[reason] ?? 0) + 1;
}
function Ok() {
    counts.requests++;
    counts.ok++;
    events.push(`${Date.now()} ok`);
}

async function Open() {
    const transport = new StreamableHTTPClientTransport(url);
    const client = new Client({ name: 'signal-hub-load', version: '1.0.0' });
    // Errors outside a request: the GET /mcp stream of the session failing (after the SDK's own
    // reconnection attempts). A session that this client ends itself stops listening first, so its
    // stream's end is not reported.
    // Deferred: a request's own error reaches its caller's catch (and is counted there) first.
    client.onerror = (error) => setTimeout(() => Failed('notification stream', error), 50);
    await client.connect(transport, { timeout: kCallTimeoutMs });
    counts.sessions++;
    return { client, transport };
}

async function Close(session, terminate) {
    if (!session) return;
    session.client.onerror = () => {};
    if (terminate) {
        try {
            await session.transport.terminateSession();
            Ok();
        } catch (error) {
            Failed('DELETE /mcp', error);
        }
    }
    await session.client.close().catch(() => {});
}

async function Worker() {
    let session = null;
    let calls = 0;
    while (!stopping()) {
        if (!session) {
            try {
                session = await Open();
                Ok();
                calls = 0;
            } catch (error) {
                Failed('initialize', error);
                await new Promise((r) => setTimeout(r, 100));
                continue;
            }
        }
        const t0 = performance.now();
        try {
            counts.calls++;
            const reply = await session.client.callTool(
                { name: 'search_code', arguments: { query: opt.query, limit: 3 } }, undefined,
                { timeout: kCallTimeoutMs });
            if (reply.isError) throw new Error(`tool error ${JSON.stringify(reply.content).slice(0, 120)}`);
            if (!Array.isArray(reply.structuredContent?.results) || reply.structuredContent.results.length === 0)
                throw new Error('search_code returned no results');
            latencies.push(performance.now() - t0);
            Ok();
        } catch (error) {
            Failed('tools/call search_code', error);
            await Close(session, false);  // the session is suspect: a new one, as a client must after 404
            session = null;
            continue;
        }
        if (opt['session-calls'] > 0 && ++calls >= opt['session-calls']) {
            await Close(session, true);
            session = null;
        }
    }
    await Close(session, true);
}

function Percentile(sorted, p) {
    if (sorted.length === 0) return null;
    const i = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
    return Math.round(sorted[Math.max(0, i)] * 10) / 10;
}
function Summary() {
    const sorted = [...latencies].sort((a, b) => a - b);
    return {
        ...counts,
        failures,
        latency_ms: { p50: Percentile(sorted, 50), p99: Percentile(sorted, 99), max: Percentile(sorted, 100) },
        duration_s: Math.round((Date.now() - started) / 100) / 10,
    };
}

let progress = null;
if (opt.progress) {
    const write = () => {
        writeFileSync(`${opt.progress}.tmp`, JSON.stringify(Summary()) + '\n');
        renameSync(`${opt.progress}.tmp`, opt.progress);
    };
    write();
    progress = setInterval(write, 1000);
}
await Promise.all(Array.from({ length: opt.sessions }, () => Worker()));
if (progress) clearInterval(progress);
const summary = Summary();
if (opt.progress) writeFileSync(opt.progress, JSON.stringify(summary) + '\n');
if (opt.events) writeFileSync(opt.events, events.join('\n') + (events.length ? '\n' : ''));
console.log(JSON.stringify(summary));
process.exit(0);
