#!/usr/bin/env python3
"""The peer of `signal-hub migrate export --source chromadb`: Chroma's own paginated read.

Reads every record of one collection through Chroma's HTTP API v2 (POST .../collections/ID/get,
limit/offset pages, include documents, metadatas and embeddings), parses each reply's JSON and
keeps nothing: the floor a Chroma client pays to get the data out, without sorting by id,
validation, checksums or writing a file. Standard library only (urllib, one keep-alive-less
request per page).

Usage: chroma_get_peer.py --url http://HOST:PORT --collection NAME [--database DB] [--tenant T]
                          [--page-size N] [--json OUT]
"""
import argparse
import json
import sys
import time
import urllib.request


def call(method, url, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True, help="http://HOST:PORT of the Chroma server")
    ap.add_argument("--collection", required=True)
    ap.add_argument("--database", default="default_database")
    ap.add_argument("--tenant", default="default_tenant")
    ap.add_argument("--page-size", type=int, default=0, help="records per page (default: the server's max_batch_size, at most 1000)")
    ap.add_argument("--json", help="write the result as JSON")
    a = ap.parse_args()
    base = a.url.rstrip("/") + "/api/v2"
    page = a.page_size or min(1000, call("GET", f"{base}/pre-flight-checks").get("max_batch_size", 1000))
    coll = call("GET", f"{base}/tenants/{a.tenant}/databases/{a.database}/collections/{a.collection}")
    get_url = f"{base}/tenants/{a.tenant}/databases/{a.database}/collections/{coll['id']}/get"
    t0 = time.monotonic()
    rows = 0
    while True:
        reply = call("POST", get_url, {"limit": page, "offset": rows,
                                       "include": ["documents", "metadatas", "embeddings"]})
        n = len(reply["ids"])
        rows += n
        if n < page:
            break
    secs = time.monotonic() - t0
    result = {"collection": a.collection, "records": rows, "page_size": page, "seconds": secs,
              "rows_per_s": rows / secs if secs > 0 else 0.0}
    print(f"chroma GET {a.collection}: {rows} records in {secs:.2f} s ({result['rows_per_s']:.0f} rows/s, pages of {page})")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
