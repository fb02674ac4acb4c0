"""A pgbench mix of searches, inserts, deletes, updates and VACUUM.

Eight or more clients run against an hnsw-indexed table for
SIM_LOAD_SECONDS (default 45; `make load-test` runs the long version).
Afterwards: no client aborted, the server log has no crash, the index
passes similarity.hnsw_verify, and its recall@10 is within 0.02 of a
freshly built index on the same rows.
"""

import os
import re
import subprocess
import tempfile

from pgcluster import Cluster

DIMS = 32
INITIAL_ROWS = 5000
QUERIES = 200
CLIENTS = int(os.environ.get("SIM_LOAD_CLIENTS", "8"))
SECONDS = int(os.environ.get("SIM_LOAD_SECONDS", "45"))
K = 10

RANDOM_VECTOR = f"(SELECT array_agg(random() - 0.5)::vector({DIMS}) FROM generate_series(1, {DIMS}))"
# Referencing the outer row makes the subquery run once per row; an
# uncorrelated one runs once per statement and gives every row one vector.
RANDOM_VECTOR_PER_ROW = (f"(SELECT array_agg(random() - 0.5)::vector({DIMS}) "
                         f"FROM generate_series(1, {DIMS}) WHERE g > 0)")

SCRIPTS = {
    "search": (60, f"""\\set qid random(1, {QUERIES})
SELECT id FROM items ORDER BY embedding <=> (SELECT q FROM queries WHERE id = :qid) LIMIT {K};
"""),
    "insert": (15, f"INSERT INTO items (embedding) SELECT {RANDOM_VECTOR};\n"),
    "delete": (10, f"""\\set rid random(1, {INITIAL_ROWS * 2})
DELETE FROM items WHERE id = :rid;
"""),
    "update": (14, f"""\\set rid random(1, {INITIAL_ROWS * 2})
UPDATE items SET embedding = {RANDOM_VECTOR} WHERE id = :rid;
"""),
    "vacuum": (1, "VACUUM items;\n"),
}


def recall_at_k(conn, ef_search=40):
    """Mean overlap of the index's top-k with the exact top-k.

    A small ef_search keeps recall below 1, so a damaged graph shows.
    """
    search = f"SELECT id FROM items ORDER BY embedding <=> %s::vector LIMIT {K}"
    total = 0.0
    with conn.cursor() as cur:
        cur.execute(f"SET hnsw.ef_search = {ef_search}")
        cur.execute("SELECT id, q FROM queries ORDER BY id")
        queries = cur.fetchall()
        for _, query in queries:
            cur.execute("SET enable_seqscan = off")
            cur.execute("SET enable_indexscan = on")
            cur.execute("EXPLAIN (COSTS OFF) " + search, (query,))
            plan = "\n".join(row[0] for row in cur.fetchall())
            assert "Index Scan using items_embedding_idx" in plan, plan
            cur.execute(search, (query,))
            approximate = {row[0] for row in cur.fetchall()}

            cur.execute("SET enable_seqscan = on")
            cur.execute("SET enable_indexscan = off")
            cur.execute(search, (query,))
            exact = {row[0] for row in cur.fetchall()}
            total += len(approximate & exact) / K
        cur.execute("RESET enable_seqscan")
        cur.execute("RESET enable_indexscan")
    return total / len(queries)


with Cluster("load", settings={"max_connections": "40", "autovacuum_naptime": "5s"}).init() as node:
    node.start()
    node.execute("CREATE EXTENSION similarity")
    node.execute(f"CREATE TABLE items (id bigserial PRIMARY KEY, embedding vector({DIMS}))")
    node.execute(f"CREATE TABLE queries (id int PRIMARY KEY, q vector({DIMS}))")
    node.execute(f"INSERT INTO items (embedding) SELECT {RANDOM_VECTOR_PER_ROW} "
                 f"FROM generate_series(1, {INITIAL_ROWS}) g")
    node.execute(f"INSERT INTO queries SELECT g, {RANDOM_VECTOR_PER_ROW} "
                 f"FROM generate_series(1, {QUERIES}) g")
    distinct = node.execute("SELECT count(DISTINCT embedding::text) FROM items")[0][0]
    assert distinct == INITIAL_ROWS, f"only {distinct} distinct vectors"
    node.execute("CREATE INDEX items_embedding_idx ON items USING hnsw (embedding vector_cosine_ops)")

    with tempfile.TemporaryDirectory() as scripts_dir:
        args = [node.bin("pgbench"), "-n", "-c", str(CLIENTS), "-j", "2", "-T", str(SECONDS),
                "-h", node.socketdir, "-p", str(node.port), "-U", "postgres"]
        for name, (weight, body) in SCRIPTS.items():
            path = os.path.join(scripts_dir, f"{name}.sql")
            with open(path, "w") as script:
                script.write(body)
            args += ["-f", f"{path}@{weight}"]
        args.append("postgres")
        bench = subprocess.run(args, capture_output=True, text=True)
    print(bench.stdout[-3000:])
    print(bench.stderr[-3000:])
    assert bench.returncode == 0, f"pgbench exited with {bench.returncode}"
    assert "aborted" not in bench.stderr, "a pgbench client aborted"
    tps = re.search(r"tps = ([0-9.]+)", bench.stdout)
    failed = re.search(r"number of failed transactions: (\d+)", bench.stdout)
    assert failed is None or int(failed.group(1)) == 0, failed.group(0)

    log = node.log()
    for marker in ("terminated by signal", "PANIC", "server process (PID"):
        assert marker not in log, f"server log shows a crash: {marker}"

    verified = node.execute("SELECT similarity.hnsw_verify('items_embedding_idx')")[0][0]
    assert verified, "hnsw_verify failed after the load"

    conn = node.connect()
    rows = node.execute("SELECT count(*) FROM items")[0][0]
    recall_after_load = recall_at_k(conn)
    node.execute("REINDEX INDEX items_embedding_idx")
    recall_fresh = recall_at_k(conn)
    conn.close()
    print(f"RESULT: {CLIENTS} clients x {SECONDS}s: {tps.group(1) if tps else '?'} tps, "
          f"{rows} rows after; recall@{K} after load {recall_after_load:.3f}, "
          f"fresh build {recall_fresh:.3f}")
    assert recall_after_load >= recall_fresh - 0.02, \
        f"recall after load {recall_after_load:.3f} < fresh {recall_fresh:.3f} - 0.02"
