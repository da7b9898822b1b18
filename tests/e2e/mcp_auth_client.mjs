// The official MCP TypeScript SDK against a `signal-hub serve --transport http` with API keys and rate
// limits (started by tests/e2e/mcp_auth.sh):
//
//   node mcp_auth_client.mjs URL LIMITED_KEY INDEX_ONLY_KEY OTHER_ONLY_KEY SIGNAL_DIR
//
// LIMITED_KEY has the search scope and its own limit of 0.5 request/s with a burst of 6. The SDK
// reports a refused POST as StreamableHTTPError whose `code` is the HTTP status; that is what an
// assistant's MCP client sees, so these checks hold the server to it. Every check prints "ok: ...";
// the first failure prints "FAIL: ..." and exits 1. Bounded by kOverallTimeoutMs.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const kOverallTimeoutMs = 60_000;
const [url, limited_key, index_only_key, other_only_key, signal_dir] = process.argv.slice(2);
if (!signal_dir) {
    console.log('usage: mcp_auth_client.mjs URL LIMITED_KEY INDEX_ONLY_KEY OTHER_ONLY_KEY SIGNAL_DIR');
    process.exit(2);
}
setTimeout(() => Fail(`not finished within ${kOverallTimeoutMs} ms`), kOverallTimeoutMs).unref();

function Fail(message) {
    console.log(`FAIL: ${message}`);
    process.exit(1);
}
function Ok(message) {
    console.log(`ok: ${message}`);
}
function Show(value) {
    return inspect(value, { depth: 4, breakLength: Infinity, maxStringLength: 300 });
}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function NewClient(key) {
    const headers = key === undefined ? {} : { Authorization: `Bearer ${key}` };
    const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
    return { client: new Client({ name: 'signal-hub-auth-e2e', version: '1.0.0' }), transport };
}

// Runs fn; expects it to throw the SDK's StreamableHTTPError with HTTP status `status`. Returns the error.
async function ExpectHttpError(label, status, fn) {
    let result;
    try {
        result = await fn();
    } catch (error) {
        if (!(error instanceof StreamableHTTPError)) Fail(`${label}: threw ${Show(error)}, not a StreamableHTTPError`);
        if (error.code !== status) Fail(`${label}: HTTP ${error.code}, expected ${status} (${error.message})`);
        Ok(`${label}: StreamableHTTPError ${error.code} (${error.message})`);
        return error;
    }
    Fail(`${label}: expected HTTP ${status}, got ${Show(result)}`);
}

async function Search(client, args = {}) {
    const result = await client.callTool({ name: 'search_code', arguments: { query: 'split a url', ...args } });
    if (result.isError) Fail(`search_code returned isError: ${Show(result)}`);
    return result;
}

// 1. No key: the very first request (initialize) is refused with 401.
{
    const { client, transport } = NewClient(undefined);
    const error = await ExpectHttpError('no API key', 401, () => client.connect(transport));
    if (!/API key is required/.test(error.message)) Fail(`401 without the reason: ${error.message}`);
}

// 2. A key without the tool's scope (index only): the session opens, the tool call is 403.
{
    const { client, transport } = NewClient(index_only_key);
    await client.connect(transport);
    Ok('a key with the index scope opens a session');
    const error = await ExpectHttpError('search_code without the search scope', 403, () => Search(client));
    if (!/search/.test(error.message)) Fail(`403 does not name the missing scope: ${error.message}`);
    await client.close();
}

// 3. A key restricted to collection "other": its own collection works, "repo" is 403.
{
    const { client, transport } = NewClient(other_only_key);
    await client.connect(transport);
    const own = await Search(client, { query: 'secret other function', collection: 'other' });
    if (!JSON.stringify(own.structuredContent ?? own.content).includes('secret_other_function')) {
        Fail(`the allowed collection did not answer: ${Show(own)}`);
    }
    Ok('a collection-restricted key searches its collection');
    await ExpectHttpError('search_code in a collection outside the allow-list', 403, () =>
        Search(client, { collection: 'repo' }));
    await client.close();
}

// 4. The limited key (burst 6): initialize, notifications/initialized and the SDK's GET /mcp event
// stream each take one request of the burst, search calls the rest; the next call is 429.
{
    const { client, transport } = NewClient(limited_key);
    await client.connect(transport);
    let admitted = 0;
    let error;
    while (admitted < 10 && error === undefined) {
        try {
            await Search(client);
            ++admitted;
        } catch (e) {
            error = e;
        }
    }
    if (!(error instanceof StreamableHTTPError) || error.code !== 429) Fail(`expected a 429, got ${Show(error)}`);
    // 6 - 3 when the GET stream was counted before the third call, 6 - 2 when it came later.
    if (admitted < 3 || admitted > 4) Fail(`${admitted} calls admitted within a burst of 6 (expected 3 or 4)`);
    Ok(`the key's own burst of 6 admitted the session set-up and ${admitted} calls, then 429 (${error.message})`);
    const match = /retry after (\d+) s/.exec(error.message);
    if (!match) Fail(`429 without the retry delay: ${error.message}`);
    const retry_after = Number(match[1]);
    if (!(retry_after >= 1 && retry_after <= 2)) Fail(`retry delay ${retry_after} s; 0.5 request/s means 2 s`);
    Ok(`the 429 tells the client to retry after ${retry_after} s`);
    await sleep(retry_after * 1000 + 200);
    await Search(client);
    Ok('after the retry delay the same client and session work again');
    await ExpectHttpError('immediately again', 429, () => Search(client));

    // `keys set-rate-limit limited 1000:1000` while the server runs (tests/e2e/mcp_auth.sh does it).
    writeFileSync(join(signal_dir, 'lift'), '');
    for (let i = 0; i < 200 && !existsSync(join(signal_dir, 'lifted')); ++i) await sleep(50);
    if (!existsSync(join(signal_dir, 'lifted'))) Fail('keys set-rate-limit did not run');
    // The server re-reads the key file when it changes (checked on each request); the bucket keeps its
    // state, so the first admitted request may need the old spacing: allow up to 3 s.
    let lifted = false;
    for (let i = 0; i < 30 && !lifted; ++i) {
        try {
            await Search(client);
            lifted = true;
        } catch (error) {
            if (!(error instanceof StreamableHTTPError) || error.code !== 429) throw error;
            await sleep(100);
        }
    }
    if (!lifted) Fail('the raised limit never took effect');
    for (let i = 0; i < 10; ++i) await Search(client);
    Ok('after keys set-rate-limit 1000:1000 ten quick calls pass');
    await client.close();
}
console.log('all checks passed');
process.exit(0);
