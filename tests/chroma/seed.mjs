// Seeds a ChromaDB 1.0 server through the official `chromadb` JS client, as an existing
// Chroma user's application would, with the varied data the migration tests need:
//   code_384   cosine, 384 dimensions, RECORDS records (default 3000)
//   docs_1536  l2, 1536 dimensions, 200 records
//   notes_ip   ip, 384 dimensions: unicode documents, ids with spaces and slashes, every scalar
//              metadata type (string, int, float, bool), records without a document or metadata
// Vectors come from a seeded generator (same arguments, same data). Records are added in
// batches the server accepts (its max_batch_size).
// Usage: node seed.mjs --url http://HOST:PORT --database NAME [--records N] [--seed S]
// Prints one JSON line: {"database": ..., "collections": {"code_384": N, ...}}.
import { AdminClient, ChromaClient } from "chromadb";

function parseArgs(argv) {
    const args = { records: 3000, seed: 7 };
    for (let i = 0; i < argv.length; i += 2) {
        const key = argv[i], value = argv[i + 1];
        if (value === undefined) throw new Error(`missing value for ${key}`);
        if (key === "--url") args.url = value;
        else if (key === "--database") args.database = value;
        else if (key === "--records") args.records = Number(value);
        else if (key === "--seed") args.seed = Number(value);
        else throw new Error(`unknown option ${key}`);
    }
    if (!args.url || !args.database) throw new Error("usage: node seed.mjs --url http://HOST:PORT --database NAME [--records N] [--seed S]");
    if (!Number.isInteger(args.records) || args.records < 1) throw new Error("--records must be a positive integer");
    return args;
}

// mulberry32: small, seeded, deterministic.
function generator(seed) {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

function vector(random, dim) {
    // Clustered around a few centres, so nearest neighbours are meaningful; float32 values.
    const v = new Array(dim);
    const centre = Math.floor(random() * 8);
    for (let i = 0; i < dim; i++) v[i] = Math.fround(Math.sin(centre * 7.1 + i * 0.37) + (random() - 0.5) * 0.6);
    return v;
}

async function addAll(collection, batch, records) {
    for (let i = 0; i < records.length; i += batch) {
        const part = records.slice(i, i + batch);
        const withDoc = part.filter((r) => r.document !== undefined);
        const withoutDoc = part.filter((r) => r.document === undefined);
        for (const group of [withDoc, withoutDoc]) {
            if (group.length === 0) continue;
            const req = { ids: group.map((r) => r.id), embeddings: group.map((r) => r.embedding) };
            if (group[0].document !== undefined) req.documents = group.map((r) => r.document);
            if (group.some((r) => r.metadata !== undefined)) req.metadatas = group.map((r) => r.metadata ?? null);
            await collection.add(req);
        }
    }
}

async function main() {
    const args = parseArgs(process.argv.slice(2));
    const url = new URL(args.url);
    const conn = { host: url.hostname, port: Number(url.port || (url.protocol === "https:" ? 443 : 80)), ssl: url.protocol === "https:" };
    const admin = new AdminClient(conn);
    await admin.createDatabase({ name: args.database, tenant: "default_tenant" });
    const client = new ChromaClient({ ...conn, tenant: "default_tenant", database: args.database });
    const checks = await client.getPreflightChecks?.() ?? client.preflightChecks;
    const batch = Math.min(500, checks?.max_batch_size ?? 500);
    const random = generator(args.seed);
    const counts = {};

    const make = async (name, space, dim, records) => {
        const collection = await client.createCollection({
            name, embeddingFunction: null, configuration: { hnsw: { space } }, metadata: { owner: "seed.mjs", dim },
        });
        await addAll(collection, batch, records);
        counts[name] = records.length;
    };

    const langs = ["python", "cpp", "rust", "go", "typescript"];
    const code = [];
    for (let i = 0; i < args.records; i++) {
        code.push({
            id: `src/module_${Math.floor(i / 40)}/file_${i % 40}.py:${i}`,
            document: `def function_${i}(value):\n    return value * ${i}  # chunk ${i}\n`,
            metadata: { path: `src/module_${Math.floor(i / 40)}/file_${i % 40}.py`, language: langs[i % langs.length],
                        start_line: 1 + (i % 200), end_line: 3 + (i % 200), score: (i % 17) / 4 + 0.125,
                        generated: i % 3 === 0 },
            embedding: vector(random, 384),
        });
    }
    await make("code_384", "cosine", 384, code);

    const docs = [];
    for (let i = 0; i < 200; i++) {
        docs.push({ id: `doc-${String(i).padStart(4, "0")}`, document: `Design note ${i}: the store keeps ${i} replicas.`,
                    metadata: { chapter: i % 12, title: `Note ${i}` }, embedding: vector(random, 1536) });
    }
    await make("docs_1536", "l2", 1536, docs);

    const notes = [
        { id: "notes/with slash/and space", document: "Grüße aus Köln — naïve café, 東京, emoji 🚀", metadata: { s: "ünïcödé ✓", i: -42, f: 3.25, b: true } },
        { id: "id with  two spaces", document: "tabs\tand\nnewlines \"quoted\" \\ backslash", metadata: { s: "", i: 0, f: -0.5, b: false } },
        { id: "no-document-1", metadata: { kind: "vector only", i: 9007199254740991 } },
        { id: "no-document-2" },
        { id: "/leading/slash", document: "", metadata: { f: 1e-30, big: 1.7976931348623157e308 } },
        { id: "über/ℕ/∑", document: "mathematics: ∑ ℕ → ℝ", metadata: { b: true, s: "x" } },
    ];
    for (let i = 0; i < 40; i++) {
        notes.push({ id: `note ${i}/part ${i % 3}`, document: `Notiz Nummer ${i} — ${"äöü".repeat(i % 4)}`,
                     metadata: { n: i, half: i / 2 + 0.25, even: i % 2 === 0, tag: `t${i % 5}` } });
    }
    for (const n of notes) n.embedding = vector(random, 384);
    await make("notes_ip", "ip", 384, notes);

    console.log(JSON.stringify({ database: args.database, collections: counts }));
}

main().catch((e) => {
    console.error(`seed.mjs: ${e?.stack ?? e}`);
    process.exit(1);
});
