// The official MCP TypeScript SDK's Streamable HTTP client against an https:// server whose
// certificate comes from a private CA (tests/integration/tls.sh; the CA is trusted only through
// NODE_EXTRA_CA_CERTS, as docs/production/security/network-security.md shows):
//
//   NODE_EXTRA_CA_CERTS=ca.crt node tests/e2e/tls_client.mjs https://127.0.0.1:PORT/mcp
//
// Lists the tools and calls search_code; prints "ok: ..." and exits 0, or prints "FAIL: ..." (the
// error, e.g. "self-signed certificate in certificate chain" without the CA) and exits 1.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const url = process.argv[2];
const timer = setTimeout(() => {
    console.log('FAIL: timed out');
    process.exit(1);
}, 60_000);
try {
    const client = new Client({ name: 'tls-client', version: '0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(url)));
    const { tools } = await client.listTools();
    const result = await client.callTool({ name: 'search_code', arguments: { query: 'split a url' } });
    if (result.isError) throw new Error(`search_code: ${JSON.stringify(result.content)}`);
    console.log(`ok: ${tools.length} tools over ${url}; search_code answered`);
    await client.close();
    clearTimeout(timer);
} catch (e) {
    const cause = e?.cause?.message ?? e?.cause?.code ?? '';
    console.log(`FAIL: ${e?.message ?? e}${cause ? ` (${cause})` : ''}`);
    process.exit(1);
}
