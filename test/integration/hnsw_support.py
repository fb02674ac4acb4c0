"""Data and checks shared by the hnsw integration tests."""

import io

import numpy as np


def clustered_unit_vectors(count, dims, clusters=50, spread=0.6, seed=1):
    """Return count unit vectors (float32) scattered around random centres.

    Each point is a centre plus Gaussian noise whose norm is about spread
    times the centre's, then normalised.
    """
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dims))
    labels = rng.integers(0, clusters, size=count)
    points = centres[labels] + spread * rng.normal(size=(count, dims))
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    return points.astype(np.float32)


def vector_text(vector):
    return "[" + ",".join(f"{x:.7g}" for x in vector) + "]"


def load(conn, table, vectors, first_id=1):
    """COPY vectors into table(id, embedding) with ids from first_id."""
    buffer = io.StringIO()
    for offset, vector in enumerate(vectors):
        buffer.write(f"{first_id + offset}\t{vector_text(vector)}\n")
    buffer.seek(0)
    with conn.cursor() as cur:
        cur.copy_from(buffer, table, columns=("id", "embedding"))


def nearest_ids(conn, table, query, k, operator="<=>", where="", use_index=True):
    """Return the ids of the k nearest rows, by index scan or exact scan."""
    with conn.cursor() as cur:
        if use_index:
            cur.execute("SET enable_seqscan = off")
        else:
            cur.execute("SET enable_indexscan = off")
        cur.execute(f"SELECT id FROM {table} {where} ORDER BY embedding {operator} %s LIMIT %s",
                    (vector_text(query), k))
        ids = [row[0] for row in cur.fetchall()]
        cur.execute("RESET enable_seqscan")
        cur.execute("RESET enable_indexscan")
    return ids


def recall(conn, table, queries, k=10, operator="<=>", where=""):
    """Mean fraction of the exact k nearest rows that the index scan returns."""
    found = 0
    for query in queries:
        exact = set(nearest_ids(conn, table, query, k, operator, where, use_index=False))
        approximate = set(nearest_ids(conn, table, query, k, operator, where, use_index=True))
        found += len(exact & approximate)
    return found / (k * len(queries))


def verify(conn, index):
    with conn.cursor() as cur:
        cur.execute("SELECT similarity.hnsw_verify(%s)", (index,))
        return cur.fetchone()[0]


def explain_uses_index(conn, sql, index):
    with conn.cursor() as cur:
        cur.execute("SET enable_seqscan = off")
        cur.execute("EXPLAIN " + sql)
        plan = "\n".join(row[0] for row in cur.fetchall())
        cur.execute("RESET enable_seqscan")
    return f"Index Scan using {index}" in plan
