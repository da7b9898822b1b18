// What an assistant does with a server registered by `claude mcp add` (or a JSON server list): connect
// with the official MCP TypeScript SDK, list the tools and run one search. The docs walkthrough
// (tests/e2e/docs_walkthrough.sh) uses it in place of the assistant:
//
//   node tests/e2e/mcp_connect.mjs QUERY EXPECTED_FILE stdio COMMAND [ARG...]
//   node tests/e2e/mcp_connect.mjs QUERY EXPECTED_FILE http URL
//
// stdio: the SDK spawns COMMAND ARG... (exactly the command line that was registered); http: the SDK's
// Streamable HTTP client connects to URL (a server the caller started). Passes when the server lists
// the six tools and the first search_code result for QUERY is EXPECTED_FILE; prints "ok: ..." per
// check, or "FAIL: ..." and exits 1. Bounded by kOverallTimeoutMs. http: an API key in the environment
// variable MCP_API_KEY is sent as `Authorization: Bearer KEY`.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const kOverallTimeoutMs = 60_000;
const kTools = ['search_code', 'find_similar', 'get_context', 'explain_code', 'find_references', 'index_status'];

function Fail(message) {
    console.log(`FAIL: ${message}`);
    process.exit(1);
}

const [query, expected, transport, ...rest] = process.argv.slice(2);
if (!query || !expected || !['stdio', 'http'].includes(transport) || rest.length === 0)
    Fail('usage: mcp_connect.mjs QUERY EXPECTED_FILE stdio COMMAND [ARG...] | http URL');
setTimeout(() => Fail(`no answer within ${kOverallTimeoutMs} ms`), kOverallTimeoutMs).unref();

const client = new Client({ name: 'signal-hub-docs-walkthrough', version: '1.0.0' });
const channel = transport === 'stdio'
    ? new StdioClientTransport({ command: rest[0], args: rest.slice(1), stderr: 'inherit' })
    : new StreamableHTTPClientTransport(new URL(rest[0]), process.env.MCP_API_KEY
        ? { requestInit: { headers: { Authorization: `Bearer ${process.env.MCP_API_KEY}` } } }
        : undefined);
try {
    await client.connect(channel);
    const listed = (await client.listTools()).tools.map((t) => t.name).sort();
    if (JSON.stringify(listed) !== JSON.stringify([...kTools].sort()))
        Fail(`tools/list: expected ${kTools.join(', ')}, got ${listed.join(', ')}`);
    console.log(`ok: ${transport} server lists the ${listed.length} tools`);
    const reply = await client.callTool({ name: 'search_code', arguments: { query, limit: 3 } });
    if (reply.isError) Fail(`search_code failed: ${JSON.stringify(reply.content)}`);
    const results = reply.structuredContent?.results ?? [];
    const first = results[0]?.file_path;
    if (first !== expected) Fail(`search_code "${query}": expected ${expected} first, got ${JSON.stringify(results[0])}`);
    console.log(`ok: search_code "${query}" answers ${first} first`);
    await client.close();
} catch (error) {
    Fail(`${transport} ${rest.join(' ')}: ${error?.stack ?? error}`);
}
process.exit(0);
