"""hnsw recall against exact search: in-memory build, on-disk build, 4096 dimensions."""

import time

from pgcluster import Cluster
from hnsw_support import clustered_unit_vectors, load, recall, vector_text, verify

COUNT, DIMS = 5000, 64

with Cluster("hnsw-recall").init() as node:
    node.start()
    conn = node.connect()
    cur = conn.cursor()
    cur.execute("CREATE EXTENSION similarity")

    vectors = clustered_unit_vectors(COUNT + 100, DIMS)
    data, queries = vectors[:COUNT], vectors[COUNT:]
    cur.execute(f"CREATE TABLE items (id int, embedding vector({DIMS}))")
    load(conn, "items", data)

    # In-memory build with several threads.
    start = time.time()
    cur.execute("CREATE INDEX items_cos ON items USING hnsw (embedding vector_cosine_ops)")
    print(f"in-memory build: {time.time() - start:.2f}s")
    assert verify(conn, "items_cos")
    cur.execute("ANALYZE items")
    cur.execute("EXPLAIN SELECT id FROM items ORDER BY embedding <=> %s LIMIT 10",
                (vector_text(queries[0]),))
    plan = "\n".join(row[0] for row in cur.fetchall())
    assert "Index Scan using items_cos" in plan, plan
    cosine_recall = recall(conn, "items", queries)
    print(f"cosine recall@10 at ef_search 40: {cosine_recall:.3f}")
    assert cosine_recall >= 0.95, cosine_recall
    cur.execute("DROP INDEX items_cos")

    cur.execute("CREATE INDEX items_l2 ON items USING hnsw (embedding vector_l2_ops)")
    l2_recall = recall(conn, "items", queries[:50], operator="<->")
    print(f"l2 recall@10: {l2_recall:.3f}")
    assert l2_recall >= 0.95, l2_recall
    cur.execute("DROP INDEX items_l2")

    # A small maintenance_work_mem switches to on-disk inserts with a NOTICE.
    cur.execute("SET maintenance_work_mem = '1MB'")
    conn.notices.clear()
    cur.execute("CREATE INDEX items_disk ON items USING hnsw (embedding vector_cosine_ops)")
    cur.execute("RESET maintenance_work_mem")
    notices = "".join(conn.notices)
    assert "no longer fits into maintenance_work_mem" in notices, notices
    assert verify(conn, "items_disk")
    disk_recall = recall(conn, "items", queries[:50])
    print(f"recall@10 after the on-disk build: {disk_recall:.3f}")
    assert disk_recall >= 0.95, disk_recall
    cur.execute("DROP INDEX items_disk")

    # 4096-dimensional vectors, stored out of line.
    wide = clustered_unit_vectors(400, 4096, clusters=10, seed=2)
    cur.execute("CREATE TABLE wide (id int, embedding vector(4096))")
    load(conn, "wide", wide[:380])
    cur.execute("CREATE INDEX wide_cos ON wide USING hnsw (embedding vector_cosine_ops)")
    load(conn, "wide", wide[380:390], first_id=381)
    assert verify(conn, "wide_cos")

    wide_recall = recall(conn, "wide", wide[390:])
    print(f"4096-d recall@10: {wide_recall:.3f}")
    assert wide_recall >= 0.9, wide_recall

    # 640-d vectors (2.5 KiB) live in TOAST, which a sequential scan's cost
    # leaves out; the planner must still pick the index.
    toasted = clustered_unit_vectors(3001, 640, seed=3)
    cur.execute("CREATE TABLE toasted (id int, embedding vector(640))")
    load(conn, "toasted", toasted[:3000])
    cur.execute("CREATE INDEX toasted_cos ON toasted USING hnsw (embedding vector_cosine_ops)")
    cur.execute("ANALYZE toasted")
    cur.execute("EXPLAIN SELECT id FROM toasted ORDER BY embedding <=> %s LIMIT 10",
                (vector_text(toasted[3000]),))
    plan = "\n".join(row[0] for row in cur.fetchall())
    assert "Index Scan using toasted_cos" in plan, plan
    conn.close()
