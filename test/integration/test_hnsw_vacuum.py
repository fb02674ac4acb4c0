"""Recall stays high and deleted rows never return after heavy churn and VACUUM."""

from pgcluster import Cluster
from hnsw_support import clustered_unit_vectors, load, nearest_ids, recall, verify

DIMS, COUNT, ROUNDS = 32, 4000, 5
vectors = clustered_unit_vectors(COUNT + ROUNDS * 1000 + 50, DIMS, seed=6)
queries = vectors[-50:]

with Cluster("hnsw-vacuum").init() as node:
    node.start()
    node.execute("CREATE EXTENSION similarity")
    node.execute(f"CREATE TABLE items (id int, embedding vector({DIMS}))")
    conn = node.connect()
    load(conn, "items", vectors[:COUNT])
    node.execute("CREATE INDEX items_cos ON items USING hnsw (embedding vector_cosine_ops)")

    next_vector = COUNT
    for round_number in range(ROUNDS):
        # Delete a quarter of the rows, vacuum, and insert about as many.
        node.execute("DELETE FROM items WHERE (id * 7 + %s) %% 4 = 0", (round_number,))
        node.execute("VACUUM items")
        added = 1000
        load(conn, "items", vectors[next_vector:next_vector + added], first_id=next_vector + 1)
        next_vector += added
        assert verify(conn, "items_cos"), f"round {round_number}"
        value = recall(conn, "items", queries[:25])
        print(f"round {round_number}: recall@10 {value:.3f}")
        assert value >= 0.9, value

    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM items")
        total = cur.fetchone()[0]
        cur.execute("SET hnsw.max_scan_tuples = 1000000")
    ids = nearest_ids(conn, "items", queries[0], total + 100)
    with conn.cursor() as cur:
        cur.execute("SELECT array_agg(id) FROM items")
        live = set(cur.fetchone()[0])
    assert set(ids) <= live, "a deleted row came back"
    assert len(ids) == total, (len(ids), total)
    print(f"{total} rows after churn, all reachable")
    conn.close()
