"""pg_dump and restore recreate hnsw indexes with their options."""

import subprocess

from pgcluster import Cluster
from hnsw_support import clustered_unit_vectors, load, nearest_ids, verify

DIMS = 16
vectors = clustered_unit_vectors(2020, DIMS, seed=7)
queries = vectors[-20:]

with Cluster("hnsw-dump").init() as node:
    node.start()
    node.execute("CREATE EXTENSION similarity")
    node.execute(f"CREATE TABLE items (id int, embedding vector({DIMS}))")
    conn = node.connect()
    load(conn, "items", vectors[:2000])
    conn.close()
    node.execute("CREATE INDEX items_cos ON items USING hnsw (embedding vector_cosine_ops) "
                 "WITH (m = 8, ef_construction = 32)")

    dump = subprocess.run([node.bin("pg_dump"), "-Fc", "-d", node.dsn()], check=True,
                          capture_output=True).stdout
    node.execute("CREATE DATABASE restored")
    subprocess.run([node.bin("pg_restore"), "-d", node.dsn("restored")], input=dump, check=True)

    options = node.execute("SELECT reloptions FROM pg_class WHERE relname = 'items_cos'",
                           dbname="restored")[0][0]
    assert options == ["m=8", "ef_construction=32"], options
    original, restored = node.connect(), node.connect("restored")
    assert verify(restored, "items_cos")
    with original.cursor() as cur:
        cur.execute("SET hnsw.ef_search = 200")
    with restored.cursor() as cur:
        cur.execute("SET hnsw.ef_search = 200")
    for query in queries:
        expected = nearest_ids(original, "items", query, 10, use_index=False)
        assert nearest_ids(restored, "items", query, 10) == expected
    print("restored index answers", len(queries), "queries like the exact scan")
    original.close()
    restored.close()
