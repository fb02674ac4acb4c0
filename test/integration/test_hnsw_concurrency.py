"""Concurrent inserts and searches on one hnsw index from several sessions."""

import threading

from pgcluster import Cluster
from hnsw_support import clustered_unit_vectors, load, nearest_ids, recall, vector_text, verify

DIMS = 32
WRITERS, ROWS_PER_WRITER = 4, 400
vectors = clustered_unit_vectors(3000 + WRITERS * ROWS_PER_WRITER + 50, DIMS, seed=5)
queries = vectors[-50:]

with Cluster("hnsw-concurrency").init() as node:
    node.start()
    node.execute("CREATE EXTENSION similarity")
    node.execute(f"CREATE TABLE items (id int, embedding vector({DIMS}))")
    conn = node.connect()
    load(conn, "items", vectors[:3000])
    conn.close()
    node.execute("CREATE INDEX items_cos ON items USING hnsw (embedding vector_cosine_ops)")

    errors = []
    stop = threading.Event()

    def writer(number):
        try:
            conn = node.connect()
            with conn.cursor() as cur:
                first = 3000 + number * ROWS_PER_WRITER
                for i in range(first, first + ROWS_PER_WRITER):
                    cur.execute("INSERT INTO items VALUES (%s, %s)", (i + 1, vector_text(vectors[i])))
            conn.close()
        except Exception as error:  # reported by the main thread
            errors.append(error)

    searches = [0]

    def searcher():
        try:
            conn = node.connect()
            while not stop.is_set():
                for query in queries[:10]:
                    ids = nearest_ids(conn, "items", query, 10)
                    assert len(ids) == 10, ids
                    searches[0] += 1
            conn.close()
        except Exception as error:
            errors.append(error)

    writers = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    searchers = [threading.Thread(target=searcher) for _ in range(2)]
    for thread in writers + searchers:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    for thread in searchers:
        thread.join()
    assert not errors, errors
    print(f"{searches[0]} searches ran during {WRITERS * ROWS_PER_WRITER} inserts")

    conn = node.connect()
    assert verify(conn, "items_cos")
    total = 3000 + WRITERS * ROWS_PER_WRITER
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM items")
        assert cur.fetchone()[0] == total
        cur.execute("SET hnsw.max_scan_tuples = 1000000")
        ids = nearest_ids(conn, "items", queries[0], total + 10)
    assert len(ids) == total, len(ids)
    assert len(set(ids)) == total, len(set(ids))
    value = recall(conn, "items", queries)
    print(f"recall@10 after concurrent inserts: {value:.3f}")
    assert value >= 0.95, value
    conn.close()
