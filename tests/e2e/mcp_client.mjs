// End-to-end test of `signal-hub serve` through the official MCP TypeScript SDK, over either
// transport:
//
//   node tests/e2e/mcp_client.mjs stdio /path/to/signal-hub STORE_DIR
//   node tests/e2e/mcp_client.mjs http  /path/to/signal-hub STORE_DIR
//
// stdio: the SDK spawns `signal-hub serve --transport stdio`. http: this script starts
// `signal-hub serve --transport http --port 0`, reads the address it prints, and connects the SDK's
// Streamable HTTP client to it; at the end it sends SIGTERM and expects exit status 0.
//
// STORE_DIR must already hold an index of the tree built by tests/integration/lib.sh make_tree
// (src/net/url.py defines split_url and UrlBuilder.build). Dependencies: scripts/fetch-e2e-deps.sh.
//
// Every check prints "ok: ..."; the first failing check prints "FAIL: ...", stops the server and
// exits 1. Exit status 0 only when every check passed. The whole run is bounded by kOverallTimeoutMs.
import { spawn } from 'node:child_process';
import { accessSync, constants as fs_constants } from 'node:fs';
import { inspect } from 'node:util';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';

const kOverallTimeoutMs = 90_000;
const kRequestTimeoutMs = 30_000;
const kExitWaitMs = 10_000;
const kStartWaitMs = 30_000;
const kQuery = 'split a url into scheme and host';
const kExpectedFile = 'src/net/url.py';
const kTools = ['search_code', 'find_similar', 'get_context', 'explain_code', 'find_references', 'index_status'];

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

// Starts `serve --transport http --port 0`; resolves with the /mcp URL it prints on stderr.
function StartHttpServer(binary, store_dir, on_exit) {
    return new Promise((resolve, reject) => {
        const child = spawn(binary, ['--store', store_dir, 'serve', '--transport', 'http', '--port', '0'], {
            stdio: ['ignore', 'inherit', 'pipe'],
        });
        child_pid = child.pid;
        let seen = '';
        let done = false;
        const timer = setTimeout(() => {
            if (!done) reject(new Error(`the server printed no address within ${kStartWaitMs} ms`));
        }, kStartWaitMs);
        child.stderr.on('data', (chunk) => {
            process.stderr.write(chunk);
            if (done) return;
            seen += chunk.toString();
            const match = seen.match(/(http:\/\/\S+\/mcp)\b/);
            if (match) {
                done = true;
                clearTimeout(timer);
                resolve(match[1]);
            }
        });
        child.once('exit', (code, signal) => {
            on_exit({ code, signal });
            if (!done) {
                done = true;
                clearTimeout(timer);
                reject(new Error(`the server exited before listening: code=${code} signal=${signal}`));
            }
        });
    });
}

function Structured(result, label) {
    Check(!result.isError, `${label}: isError is falsy`, result);
    Check(Array.isArray(result.content) && result.content[0]?.type === 'text' && result.content[0].text.length > 0,
          `${label}: content[0] is non-empty text`, result.content);
    Check(IsObject(result.structuredContent), `${label}: has structuredContent`, result);
    return result.structuredContent;
}

async function CallTool(client, name, args, request_options) {
    return client.callTool({ name, arguments: args }, undefined, request_options)
        .catch((e) => Fail(`${name} call threw: ${e.message}`));
}

async function CheckTools(client, request_options) {
    // listTools also makes the client cache each tool's outputSchema validator, so the callTool
    // results below are validated against the server's declared output schema by the SDK.
    const listed = await client.listTools(undefined, request_options).catch((e) => Fail(`tools/list: ${e.message}`));
    const tools = new Map((listed.tools ?? []).map((tool) => [tool.name, tool]));
    Check(tools.size === kTools.length, `tools/list lists ${kTools.length} tools`, [...tools.keys()]);
    for (const name of kTools) {
        const tool = tools.get(name);
        Check(tool !== undefined, `tools/list includes ${name}`, [...tools.keys()]);
        Check(tool.inputSchema?.type === 'object', `${name} inputSchema has type object`, tool.inputSchema);
        Check(IsObject(tool.outputSchema) && tool.outputSchema.type === 'object', `${name} has an outputSchema of type object`,
              tool.outputSchema);
        Check(typeof tool.description === 'string' && tool.description.length > 0, `${name} has a description`,
              tool.description);
    }

    // search_code finds split_url.
    const search = Structured(await CallTool(client, 'search_code', { query: kQuery, limit: 5 }, request_options),
                              'search_code');
    const results = search.results;
    Check(Array.isArray(results) && results.length >= 1, 'search_code structuredContent.results is a non-empty array',
          search);
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

    // find_similar: a near copy of split_url finds the original.
    const similar = Structured(await CallTool(client, 'find_similar', {
        code_snippet: 'def split(u):\n    scheme, _, rest = u.partition("://")\n    host, _, path = rest.partition("/")\n',
        limit: 3,
    }, request_options), 'find_similar');
    Check(Array.isArray(similar.results) && similar.results[0]?.file_path === kExpectedFile,
          `find_similar top result is ${kExpectedFile}`, similar.results);

    // get_context: a task about URLs brings in url.py within the token budget.
    const context = Structured(await CallTool(client, 'get_context', {
        task_description: 'add a port to the url builder', current_file: kExpectedFile, max_tokens: 400,
    }, request_options), 'get_context');
    Check(JSON.stringify(context).includes(kExpectedFile), `get_context includes ${kExpectedFile}`, context);
    Check(Number.isInteger(context.tokens_used) && context.tokens_used <= 400, 'get_context stays within max_tokens',
          context.tokens_used);

    // explain_code: the function itself.
    const explained = Structured(await CallTool(client, 'explain_code', {
        file_path: kExpectedFile, function_name: 'split_url',
    }, request_options), 'explain_code');
    Check(JSON.stringify(explained).includes('def split_url'), 'explain_code returns the code of split_url', explained);
    const outside = await Settle(() => client.callTool({
        name: 'explain_code', arguments: { file_path: '../../etc/passwd', function_name: 'x' },
    }, undefined, request_options));
    ExpectToolError('explain_code outside the indexed root', outside, undefined);

    // find_references: the definition of UrlBuilder comes first.
    const references = Structured(await CallTool(client, 'find_references', { symbol: 'UrlBuilder' }, request_options),
                                  'find_references');
    Check(Array.isArray(references.definitions) && references.definitions[0]?.file_path === kExpectedFile,
          `find_references defines UrlBuilder in ${kExpectedFile}`, references);

    // index_status lists the indexed collections.
    const status = Structured(await CallTool(client, 'index_status', {}, request_options), 'index_status');
    const collections = status.collections;
    Check(Array.isArray(collections) && collections.length >= 1,
          'index_status structuredContent.collections is a non-empty array', status);
    for (const collection of collections) {
        Check(typeof collection.name === 'string' && collection.name.length > 0 && Number.isInteger(collection.records) &&
                  collection.records >= 0,
              `collection ${collection.name} has name and integer records (${collection.records})`, collection);
    }
    const total_records = collections.reduce((sum, c) => sum + c.records, 0);
    Check(total_records >= 1, 'index_status reports at least one record in total', total_records);
    // The store sits at repo/.signal-hub, so the server knows the tree and reports its freshness.
    const served = collections.find((c) => c.tree !== null);
    Check(served !== undefined && served.tree.up_to_date === true && served.tree.files_scanned >= 1 &&
              Number.isInteger(served.age_seconds),
          'index_status reports the served tree as up to date, with the index age', collections);
    Check(status.watching === false, 'index_status says the server is not watching (no --watch)', status);

    // Invalid arguments: JSON-RPC -32602 or a tool error result are both conforming.
    const missing_query = await Settle(() =>
        client.callTool({ name: 'search_code', arguments: {} }, undefined, request_options));
    ExpectToolError('search_code without query', missing_query, ErrorCode.InvalidParams);
    const bad_limit = await Settle(() =>
        client.callTool({ name: 'find_similar', arguments: { code_snippet: 'x', limit: 0 } }, undefined, request_options));
    ExpectToolError('find_similar with limit 0', bad_limit, ErrorCode.InvalidParams);

    const unknown_tool = await Settle(() =>
        client.callTool({ name: 'no_such_tool', arguments: {} }, undefined, request_options));
    ExpectToolError('unknown tool no_such_tool', unknown_tool, undefined);

    // The connection is still usable after the errors.
    await client.ping(request_options).catch((e) => Fail(`ping: ${e.message}`));
    Ok('ping');
}

async function WaitForExit(get_status) {
    const deadline = Date.now() + kExitWaitMs;
    while (IsAlive(child_pid) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
    }
    if (IsAlive(child_pid)) Fail(`server pid ${child_pid} still running ${kExitWaitMs} ms after the client finished`);
    for (let i = 0; i < 100 && get_status() === null; ++i) await new Promise((resolve) => setTimeout(resolve, 20));
    return get_status();
}

async function Main() {
    const [mode, binary, store_dir] = process.argv.slice(2);
    if (!['stdio', 'http'].includes(mode) || !binary || !store_dir || process.argv.length !== 5) {
        console.error('usage: node mcp_client.mjs stdio|http /path/to/signal-hub STORE_DIR');
        process.exit(2);
    }
    try {
        accessSync(binary, fs_constants.X_OK);
    } catch (error) {
        Fail(`signal-hub binary ${binary} is not executable: ${error.message}`);
    }
    const client = new Client({ name: 'signal-hub-e2e', version: '0.0.0' });
    const request_options = { timeout: kRequestTimeoutMs };
    let exit_status = null;

    if (mode === 'stdio') {
        const transport = new StdioClientTransport({
            command: binary,
            args: ['--store', store_dir, 'serve', '--transport', 'stdio'],
            // The SDK's default passes only a few "safe" variables; the caller's environment (e.g. any
            // SIGNAL_HUB_* settings the test harness exports) must reach the server unchanged.
            env: Object.fromEntries(Object.entries(process.env).filter(([, value]) => value !== undefined)),
            stderr: 'inherit',
        });
        // Record the server's pid as soon as it is spawned (so a failing or hanging handshake still
        // gets the server killed), and its exit status: the transport keeps the ChildProcess private.
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
        Ok(`connected over stdio to server pid ${child_pid}`);
    } else {
        let url;
        try {
            url = await StartHttpServer(binary, store_dir, (status) => {
                exit_status = status;
            });
        } catch (error) {
            Fail(`start ${binary} serve --transport http: ${error.message}`);
        }
        const transport = new StreamableHTTPClientTransport(new URL(url));
        try {
            await client.connect(transport, request_options);
        } catch (error) {
            Fail(`connect (initialize handshake) to ${url}: ${error.message}`);
        }
        Check(typeof transport.sessionId === 'string' && transport.sessionId.length >= 32,
              'the server assigned an Mcp-Session-Id of at least 128 bits', transport.sessionId);
        Ok(`connected over Streamable HTTP to ${url} (server pid ${child_pid})`);
    }

    const server_info = client.getServerVersion();
    Check(server_info?.name === 'signal-hub', 'server info name is "signal-hub"', server_info);
    Check(typeof server_info?.version === 'string' && server_info.version.length > 0, 'server info has a version',
          server_info);
    Check(IsObject(client.getServerCapabilities()?.tools), 'server declares the tools capability',
          client.getServerCapabilities());

    await CheckTools(client, request_options);

    if (mode === 'stdio') {
        // Close: the SDK ends the server's stdin, then escalates to SIGTERM / SIGKILL after 2 s each.
        await client.close().catch((e) => Fail(`close: ${e.message}`));
        const status = await WaitForExit(() => exit_status);
        if (status === null) {
            Ok(`server pid ${child_pid} exited after close`);
        } else if (status.code === 0) {
            Ok('server exited with status 0 after stdin closed');
        } else {
            Fail(`server exited abnormally after close: code=${status.code} signal=${status.signal}`);
        }
    } else {
        // End the session (DELETE /mcp), then SIGTERM: a graceful shutdown exits 0.
        await client.transport.terminateSession().catch((e) => Fail(`DELETE /mcp (end the session): ${e.message}`));
        Ok('session terminated with DELETE /mcp');
        await client.close().catch((e) => Fail(`close: ${e.message}`));
        process.kill(child_pid, 'SIGTERM');
        const status = await WaitForExit(() => exit_status);
        Check(status !== null && status.code === 0, 'server exited with status 0 after SIGTERM', status);
    }
    child_pid = null;
}

const watchdog = setTimeout(() => Fail(`timed out after ${kOverallTimeoutMs} ms`), kOverallTimeoutMs);
Main()
    .then(() => {
        clearTimeout(watchdog);
        console.log('ok: all MCP checks passed');
        process.exit(0);
    })
    .catch((error) => Fail(`unexpected error: ${error?.stack ?? error}`));
