// The data of an existing Chroma user's application, written and read back through the official
// `chromadb` JS client (tests/integration/chroma_rollback_exact.sh).
//   node rollback_fixture.mjs seed --url http://HOST:PORT --database NAME
//       three collections: collection metadata of every scalar type and legacy "hnsw:space",
//       a non-default HNSW configuration, records with str/int/float/bool metadata, documents,
//       records without a document or without metadata, unicode and odd ids.
//   node rollback_fixture.mjs dump --url http://HOST:PORT --database NAME
//       prints JSON: every collection of the database (name, metadata, configuration, and its
//       records sorted by id: id, document, metadata, embedding), as the client returns them.
import { AdminClient, ChromaClient } from "chromadb";

const [command, ...rest] = process.argv.slice(2);
const args = {};
for (let i = 0; i < rest.length; i += 2) args[rest[i].replace(/^--/, "")] = rest[i + 1];
if (!["seed", "dump"].includes(command) || !args.url || !args.database) {
    throw new Error("usage: node rollback_fixture.mjs seed|dump --url http://HOST:PORT --database NAME");
}
const u = new URL(args.url);
const conn = { host: u.hostname, port: Number(u.port), ssl: u.protocol === "https:" };
const client = new ChromaClient({ ...conn, tenant: "default_tenant", database: args.database });

function vector(i, dim) {
    const v = [];
    for (let d = 0; d < dim; d++) v.push(Math.fround(Math.sin(i * 1.7 + d * 0.31) * (1 + (i % 5)) + 0.01 * d));
    return v;
}

async function seed() {
    const admin = new AdminClient(conn);
    await admin.createDatabase({ name: args.database, tenant: "default_tenant" });
    const orders = await client.createCollection({
        name: "orders.v2",
        metadata: { "hnsw:space": "cosine", owner: "team-a", version: 3, ratio: 0.5, public: true },
        embeddingFunction: null,
    });
    const ids = [], docs = [], metas = [], embs = [];
    for (let i = 0; i < 40; i++) {
        ids.push(`order/${String(i).padStart(3, "0")}`);
        docs.push(i === 7 ? "Grüße — 東京 🚀" : `order ${i} text`);
        metas.push({ customer: `c${i % 4}`, qty: i, price: i + 0.25, paid: i % 2 === 0, ratio: i / 3 });
        embs.push(vector(i, 16));
    }
    await orders.add({ ids, documents: docs, metadatas: metas, embeddings: embs });
    await orders.add({ ids: ["no doc", "no-meta"], embeddings: [vector(100, 16), vector(101, 16)],
                       metadatas: [{ kind: "nodoc", n: -7 }, null] });
    const tuned = await client.createCollection({
        name: "tuned_l2",
        configuration: { hnsw: { space: "l2", ef_construction: 150, max_neighbors: 20 } },
        embeddingFunction: null,
    });
    await tuned.add({ ids: ["a", "b", "c"], documents: ["alpha", "", "gamma"],
                      metadatas: [{ x: 1 }, { x: 2.5, flag: false }, { s: "ünï" }],
                      embeddings: [vector(1, 4), vector(2, 4), vector(3, 4)] });
    const notes = await client.createCollection({
        name: "notes_ip", metadata: { "hnsw:space": "ip", description: "team notes" }, embeddingFunction: null,
    });
    await notes.add({ ids: ["n1", "n 2"], documents: ["first", "second"],
                      metadatas: [{ tag: "a", big: 9007199254740991 }, { tag: "b", neg: -0.125 }],
                      embeddings: [vector(5, 8), vector(6, 8)] });
    console.log(JSON.stringify({ database: args.database, collections: 3 }));
}

async function dump() {
    const out = [];
    for (const c of await client.listCollections()) {
        const col = await client.getCollection({ name: c.name, embeddingFunction: null });
        const got = await col.get({ include: ["documents", "metadatas", "embeddings"] });
        const records = got.ids.map((id, i) => ({
            id, document: got.documents[i], metadata: got.metadatas[i], embedding: Array.from(got.embeddings[i]),
        }));
        records.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
        out.push({ name: col.name, metadata: col.metadata ?? null, configuration: col.configuration ?? null, records });
    }
    out.sort((a, b) => (a.name < b.name ? -1 : 1));
    console.log(JSON.stringify(out));
}

await (command === "seed" ? seed() : dump());
