#!/usr/bin/env python3
# Issue 16, goal 4 (PostgreSQL part): server time (EXPLAIN ANALYZE execution time) of the lexical SQL
# before ADR-30a (BM25 over every row matching the OR of the terms) against the bounded sequence the
# store runs now (document-frequency counts on the GIN index, then MaxScore candidate rounds), on the
# same terms, for the first N queries of bench/make_docstring_corpus.py's queries.jsonl; checks that
# both return the same top-10 ids. Terms: lowercased words minus common stop words (an approximation
# of LexicalQueryTerms; both variants get the same terms).
# Usage: bench/pg_lexical_bound.py DB_URL RECORDS_TABLE QUERIES.jsonl N [JSON_OUT]
import json, math, re, subprocess, sys, statistics
if len(sys.argv) < 5:
    sys.exit("usage: pg_lexical_bound.py DB_URL RECORDS_TABLE QUERIES.jsonl N [JSON_OUT]")
url, table, queries, n, k = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), 10
STOP = set("a an and are as at be but by for from has have he in is it its of on or that the this to was were will with which not can if into than then there these they".split())
def psql(sql):
    return subprocess.run(["/usr/lib/postgresql/15/bin/psql", url, "-qAtX", "-c", sql], capture_output=True, text=True, check=True).stdout
def ex(sql):
    out = psql("SET enable_seqscan = off; EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
    return json.loads(out)[0]["Execution Time"]
def q(s): return "'" + s.replace("'", "''") + "'"
def lq(s): return q("'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'")
st = psql(f"SELECT records, total_tokens::float8/greatest(records,1) FROM signal_hub_collections").split("|")
N, avgdl = float(st[0]), float(st[1])
old_t, new_t, rounds, same = [], [], [], []
for line in list(open(queries))[:n]:
    words = sorted(set(w for w in re.findall(r"[a-z0-9]+", json.loads(line)["query"].lower()) if w not in STOP and len(w) > 1))
    if not words: continue
    tsq = " | ".join("'" + w + "'" for w in words)
    arr = "ARRAY[" + ",".join(q(w) for w in words) + "]::text[]"
    old = f"""WITH hits AS MATERIALIZED (SELECT r.id, r.lexeme_count, x.lexeme, greatest(cardinality(x.positions),1)::float8 AS tf, true AS keep
      FROM {table} r CROSS JOIN LATERAL unnest(r.lexemes) AS x(lexeme, positions, weights) WHERE r.lexemes @@ {q(tsq)}::tsquery AND x.lexeme = ANY({arr})),
      st AS (SELECT {N}::float8 AS n, {avgdl}::float8 AS avgdl),
      df AS (SELECT lexeme, count(*)::float8 AS n FROM hits GROUP BY lexeme),
      idf AS (SELECT df.lexeme, CASE WHEN (st.n - df.n + 0.5)/(df.n+0.5) <= 1 THEN 1e-6 ELSE ln((st.n - df.n + 0.5)/(df.n+0.5)) END AS w FROM df CROSS JOIN st),
      scored AS (SELECT h.id, sum(idf.w*(h.tf*2.2)/(h.tf+1.2*(0.25+0.75*h.lexeme_count/st.avgdl))) AS score FROM hits h JOIN idf ON idf.lexeme=h.lexeme CROSS JOIN st WHERE h.keep GROUP BY h.id)
      SELECT s.score, r.id, r.document, r.metadata FROM scored s JOIN {table} r ON r.id = s.id ORDER BY s.score DESC, r.id LIMIT {k}"""
    old_t.append(ex(old))
    old_ids = [l.split("|")[1] for l in psql("SET enable_seqscan = off; " + old).strip().split("\n") if l]
    dfq = f"SELECT (SELECT count(*) FROM {table} r WHERE r.lexemes @@ q.q::tsquery)::int8 FROM unnest(ARRAY[" + ",".join(lq(w) for w in words) + "]::text[]) WITH ORDINALITY q(q,i) ORDER BY q.i"
    t = ex(dfq)
    dfs = [int(x) for x in psql("SET enable_seqscan = off; " + dfq).split()]
    terms = []
    for w, f in zip(words, dfs):
        if f == 0: continue
        r = (N - f + 0.5) / (f + 0.5)
        terms.append((w, 1e-6 if r <= 1 else math.log(r), f))
    terms.sort(key=lambda x: -x[1])
    if terms:
        first, tot = 1, terms[0][2]
        while first < len(terms) and tot < k: tot += terms[first][2]; first += 1
        warr = "ARRAY[" + ",".join(q(w) for w, _, _ in terms) + "]::text[]"
        iarr = "ARRAY[" + ",".join(repr(i) for _, i, _ in terms) + "]::float8[]"
        for j in range(first, len(terms) + 1):
            tq = " | ".join("'" + w + "'" for w, _, _ in terms[:j])
            rest = sum(i * 2.2 for _, i, _ in terms[j:])
            sql = f"""WITH cand AS MATERIALIZED (SELECT r.id, r.lexeme_count, r.lexemes FROM {table} r WHERE r.lexemes @@ {q(tq)}::tsquery),
              w AS (SELECT * FROM unnest({warr}, {iarr}) AS w(lexeme, idf)),
              scored AS (SELECT c.id, sum(w.idf*(tf.tf*2.2)/(tf.tf+1.2*(0.25+0.75*c.lexeme_count/{avgdl}))) AS score FROM cand c
                CROSS JOIN LATERAL unnest(ts_filter(setweight(c.lexemes, 'A', {warr}), '{{a}}')) AS x(lexeme, positions, weights) JOIN w ON w.lexeme = x.lexeme
                CROSS JOIN LATERAL (SELECT greatest(cardinality(x.positions),1)::float8 AS tf) tf GROUP BY c.id)
              SELECT s.score, r.id, r.document, r.metadata FROM scored s JOIN {table} r ON r.id = s.id ORDER BY s.score DESC, r.id LIMIT {k}"""
            t += ex(sql)
            res = psql("SET enable_seqscan = off; " + sql).strip().split("\n")
            if j == len(terms) or (len(res) == k and float(res[-1].split("|")[0]) >= rest):
                rounds.append(j - first + 1)
                new_ids = [l.split("|")[1] for l in res if l]
                same.append(new_ids == old_ids)
                break
    new_t.append(t)
p50 = lambda v: statistics.median(v)
out = ({"queries": len(old_t), "rows": N, "old_full_scoring_ms_p50": p50(old_t), "old_ms_mean": statistics.mean(old_t),
                  "bounded_ms_p50": p50(new_t), "bounded_ms_mean": statistics.mean(new_t), "rounds_mean": statistics.mean(rounds) if rounds else 0, "same_top10_ids": sum(same), "compared": len(same)})
ratio = out["bounded_ms_p50"] / out["old_full_scoring_ms_p50"]
out["goals"] = [{"goal": "4", "name": "PostgreSQL lexical server ms p50, bounded (MaxScore) / every match scored (%d rows)" % N,
                 "value": round(ratio, 3), "target": 1.0, "compare": "<=", "ok": ratio <= 1.0,
                 "peer": "the pre-ADR-30a SQL on the same terms, same run"}]
print(f"{out['queries']} queries, {N:.0f} rows: every match scored p50 {out['old_full_scoring_ms_p50']:.1f} ms, "
      f"bounded p50 {out['bounded_ms_p50']:.1f} ms (ratio {ratio:.2f}, target <= 1.0), mean rounds {out['rounds_mean']:.1f}, "
      f"same top-10 ids {out['same_top10_ids']}/{out['compared']}")
if len(sys.argv) > 5:
    json.dump(out, open(sys.argv[5], "w"), indent=1)

