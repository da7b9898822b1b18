// End-to-end test of `signal-hub serve --transport stdio` through the official MCP TypeScript SDK.
//
//   node tests/e2e/mcp_stdio.mjs /path/to/signal-hub STORE_DIR
//
// STORE_DIR must already hold an index of the tree built by tests/integration/lib.sh make_tree
// (src/net/url.py defines split_url). Dependencies: scripts/fetch-e2e-deps.sh.
//
// Every check prints "ok: ..."; the first failing check prints "FAIL: ...", stops the server and
// exits 1. Exit status 0 only when every check passed. The whole run is bounded by kOverallTimeoutMs.
import { accessSync, constants as fs_constants } from 'node:fs';
import { inspect } from 'node:util';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';

const kOverallTimeoutMs = 60_000;
const kRequestTimeoutMs = 30_000;
const kExitWaitMs = 5_000;
const kQuery = 'split a url into scheme and host';
const kExpectedFile = 'src/net/url.py';

let child_pid = null;

function KillChild() {
    if (child_pid === null) return;
    try {
        process.kill(child_pid, 'SIGKILL');
    } catch {
        // Already gone.
    }
}

function Fail(message) {
    console.log(`FAIL: ${message}`);
    KillChild();
    process.exit(1);
}

function Ok(message) {
    console.log(`ok: ${message}`);
}

function Check(condition, message, detail) {
    if (!condition) Fail(detail === undefined ? message : `${message} (got ${Show(detail)})`);
    Ok(message);
}

function Show(value) {
    return inspect(value, { depth: 4, breakLength: Infinity, maxStringLength: 300 });
}

function IsObject(value) {
    return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function IsAlive(pid) {
    try {
        process.kill(pid, 0);
        return true;
    } catch (error) {
        return error.code === 'EPERM';
    }
}

// Runs `fn`; returns {result} or {error}. Used where a thrown McpError is an acceptable outcome.
async function Settle(fn) {
    try {
        return { result: await fn() };
    } catch (error) {
        return { error };
    }
}

function ExpectToolError(label, outcome, expected_code) {
    if (outcome.error !== undefined) {
        const error = outcome.error;
        if (!(error instanceof McpError)) Fail(`${label}: threw a non-MCP error: ${Show(error)}`);
        if (expected_code !== undefined && error.code !== expected_code) {
            Fail(`${label}: McpError code ${error.code}, expected ${expected_code} (${error.message})`);
        }
        Ok(`${label}: rejected with JSON-RPC error ${error.code} (${error.message})`);
        return;
    }
    const result = outcome.result;
    if (!IsObject(result) || result.isError !== true) Fail(`${label}: expected an error, got result ${Show(result)}`);
    const text = Array.isArray(result.content) && result.content[0]?.type === 'text' ? result.content[0].text : '';
    Ok(`${label}: returned a tool result with isError=true (${text})`);
}

async function Main() {
    const [binary, store_dir] = process.argv.slice(2);
    if (!binary || !store_dir || process.argv.length !== 4) {
        console.error('usage: node mcp_stdio.mjs /path/to/signal-hub STORE_DIR');
        process.exit(2);
    }
    try {
        accessSync(binary, fs_constants.X_OK);
    } catch (error) {
        Fail(`signal-hub binary ${binary} is not executable: ${error.message}`);
    }

    const transport = new StdioClientTransport({
        command: binary,
        args: ['--store', store_dir, 'serve', '--transport', 'stdio'],
        // The SDK's default passes only a few "safe" variables; the caller's environment (e.g. any
        // SIGNAL_HUB_* settings the test harness exports) must reach the server unchanged.
        env: Object.fromEntries(Object.entries(process.env).filter(([, value]) => value !== undefined)),
        stderr: 'inherit',
    });
    const client = new Client({ name: 'signal-hub-e2e', version: '0.0.0' });
    const request_options = { timeout: kRequestTimeoutMs };

    // Record the server's pid as soon as it is spawned (so a failing or hanging handshake still gets
    // the server killed), and its exit status: the transport keeps the ChildProcess private.
    let exit_status = null;
    const start_transport = transport.start.bind(transport);
    transport.start = async () => {
        await start_transport();
        child_pid = transport.pid;
        const child = transport._process;
        if (child && typeof child.once === 'function') {
            if (child.exitCode !== null || child.signalCode !== null) {
                exit_status = { code: child.exitCode, signal: child.signalCode };
            } else {
                child.once('exit', (code, signal) => {
                    exit_status = { code, signal };
                });
            }
        }
    };
    try {
        await client.connect(transport, request_options);
    } catch (error) {
        Fail(`connect (initialize handshake) to ${binary}: ${error.message}`);
    }
    if (child_pid === null) Fail('connected, but the transport reports no server pid');
    Ok(`connected to server pid ${child_pid}`);

    const server_info = client.getServerVersion();
    Check(server_info?.name === 'signal-hub', 'server info name is "signal-hub"', server_info);
    Check(typeof server_info?.version === 'string' && server_info.version.length > 0, 'server info has a version',
          server_info);
    Check(IsObject(client.getServerCapabilities()?.tools), 'server declares the tools capability',
          client.getServerCapabilities());

    // listTools also makes the client cache each tool's outputSchema validator, so the callTool
    // results below are validated against the server's declared output schema by the SDK.
    const listed = await client.listTools(undefined, request_options).catch((e) => Fail(`tools/list: ${e.message}`));
    const tools = new Map((listed.tools ?? []).map((tool) => [tool.name, tool]));
    for (const name of ['search_code', 'index_status']) {
        const tool = tools.get(name);
        Check(tool !== undefined, `tools/list includes ${name}`, [...tools.keys()]);
        Check(tool.inputSchema?.type === 'object', `${name} inputSchema has type object`, tool.inputSchema);
        Check(IsObject(tool.outputSchema) && tool.outputSchema.type === 'object', `${name} has an outputSchema of type object`,
              tool.outputSchema);
        Check(typeof tool.description === 'string' && tool.description.length > 0, `${name} has a description`,
              tool.description);
    }

    // search_code finds split_url.
    const search = await client
        .callTool({ name: 'search_code', arguments: { query: kQuery, limit: 5 } }, undefined, request_options)
        .catch((e) => Fail(`search_code call threw: ${e.message}`));
    Check(!search.isError, 'search_code isError is falsy', search);
    Check(Array.isArray(search.content) && search.content[0]?.type === 'text', 'search_code content[0] is text',
          search.content);
    const results = search.structuredContent?.results;
    Check(Array.isArray(results) && results.length >= 1, 'search_code structuredContent.results is a non-empty array',
          search.structuredContent);
    Check(results.length <= 5, 'search_code returns at most limit=5 results', results.length);
    const top = results[0];
    Check(top.file_path === kExpectedFile, `search_code top result is ${kExpectedFile}`, top);
    Check(Number.isInteger(top.start_line) && top.start_line >= 1, 'top result start_line is a positive integer',
          top.start_line);
    Check(Number.isInteger(top.end_line) && top.end_line >= top.start_line, 'top result end_line >= start_line',
          top.end_line);
    Check(typeof top.symbol === 'string', 'top result has a string symbol', top.symbol);
    Check(typeof top.kind === 'string' && top.kind.length > 0, 'top result has a kind', top.kind);
    Check(typeof top.score === 'number' && Number.isFinite(top.score), 'top result has a finite numeric score',
          top.score);
    Check(typeof top.text === 'string' && top.text.length > 0, 'top result has non-empty text', top.text);
    Ok(`top result: ${top.file_path}:${top.start_line}-${top.end_line} ${top.kind} ${top.symbol} score=${top.score}`);

    // index_status lists the indexed collections.
    const status = await client
        .callTool({ name: 'index_status', arguments: {} }, undefined, request_options)
        .catch((e) => Fail(`index_status call threw: ${e.message}`));
    Check(!status.isError, 'index_status isError is falsy', status);
    const collections = status.structuredContent?.collections;
    Check(Array.isArray(collections) && collections.length >= 1,
          'index_status structuredContent.collections is a non-empty array', status.structuredContent);
    for (const collection of collections) {
        Check(typeof collection.name === 'string' && collection.name.length > 0 && Number.isInteger(collection.records) &&
                  collection.records >= 0,
              `collection ${collection.name} has name and integer records (${collection.records})`, collection);
    }
    const total_records = collections.reduce((sum, c) => sum + c.records, 0);
    Check(total_records >= 1, 'index_status reports at least one record in total', total_records);

    // Invalid arguments: JSON-RPC -32602 or a tool error result are both conforming.
    const missing_query = await Settle(() =>
        client.callTool({ name: 'search_code', arguments: {} }, undefined, request_options));
    ExpectToolError('search_code without query', missing_query, ErrorCode.InvalidParams);

    const unknown_tool = await Settle(() =>
        client.callTool({ name: 'no_such_tool', arguments: {} }, undefined, request_options));
    ExpectToolError('unknown tool no_such_tool', unknown_tool, undefined);

    // The connection is still usable after the errors.
    await client.ping(request_options).catch((e) => Fail(`ping: ${e.message}`));
    Ok('ping');

    // Close: the SDK ends the server's stdin, then escalates to SIGTERM / SIGKILL after 2 s each.
    await client.close().catch((e) => Fail(`close: ${e.message}`));
    const deadline = Date.now() + kExitWaitMs;
    while (IsAlive(child_pid) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
    }
    if (IsAlive(child_pid)) Fail(`server pid ${child_pid} still running ${kExitWaitMs} ms after close`);
    if (exit_status === null) {
        Ok(`server pid ${child_pid} exited after close`);
    } else if (exit_status.code === 0) {
        Ok(`server exited with status 0 after stdin closed`);
    } else if (exit_status.signal === 'SIGTERM') {
        Ok('server exited after close (it ignored stdin EOF; the SDK sent SIGTERM)');
    } else {
        Fail(`server exited abnormally after close: code=${exit_status.code} signal=${exit_status.signal}`);
    }
    child_pid = null;
}

const watchdog = setTimeout(() => Fail(`timed out after ${kOverallTimeoutMs} ms`), kOverallTimeoutMs);
Main()
    .then(() => {
        clearTimeout(watchdog);
        console.log('ok: all MCP stdio checks passed');
        process.exit(0);
    })
    .catch((error) => Fail(`unexpected error: ${error?.stack ?? error}`));
