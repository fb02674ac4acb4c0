"""SQL-level benchmark of the distance operators: similarity against pgvector.

Starts a throwaway cluster from SIM_PG_BINDIR (a private installation that
contains both extensions, see bench/vector/run), creates one database per
extension, loads the same random vectors into both with binary COPY, and
times full-table distance scans and an exact nearest-neighbour query.  The
two databases are measured alternately, and each figure is the median of
the repeats.  Time is the backend's time on a CPU, read from
/proc/PID/schedstat, because wall-clock time on a shared machine mostly
measures the other processes.  The wall-clock ratio is printed beside it.
Prints a Markdown table of distances per CPU second and the ratios
similarity / pgvector.

Usage: sql_bench.py [repeats]
"""

import io
import statistics
import sys
import time

import numpy as np

from pgcluster import Cluster

# (dimensions, rows): about 50 to 80 MB of vectors per table.
SIZES = [(128, 100_000), (1024, 20_000), (4096, 5_000)]

# Distances between two constant vectors, once per generated row: no table
# access or detoasting, so these measure the function call and the kernel.
# OFFSET 0 keeps the planner from folding the constant expression.
CONSTANT_QUERY = ("SELECT sum(a.v {op} b.v) FROM (SELECT %(q)s::vector AS v OFFSET 0) AS a, "
                  "(SELECT %(p)s::vector AS v OFFSET 0) AS b, generate_series(1, %(n)s)")
KERNEL_QUERIES = [
    ("constant <-> (L2)", CONSTANT_QUERY.replace("{op}", "<->")),
    ("constant <#> (inner product)", CONSTANT_QUERY.replace("{op}", "<#>")),
    ("constant <=> (cosine)", CONSTANT_QUERY.replace("{op}", "<=>")),
    ("constant <+> (L1)", CONSTANT_QUERY.replace("{op}", "<+>")),
]

QUERIES = [
    ("sum of <-> (L2)", "SELECT sum(embedding <-> %(q)s) FROM items"),
    ("sum of <#> (inner product)", "SELECT sum(embedding <#> %(q)s) FROM items"),
    ("sum of <=> (cosine)", "SELECT sum(embedding <=> %(q)s) FROM items"),
    ("sum of <+> (L1)", "SELECT sum(embedding <+> %(q)s) FROM items"),
    ("ORDER BY <=> LIMIT 10", "SELECT id FROM items ORDER BY embedding <=> %(q)s LIMIT 10"),
]

DATABASES = [("similarity", "similarity"), ("pgvector", "vector")]


def binary_copy(vectors):
    """Return a binary COPY stream of (id integer, embedding vector) rows."""
    count, dims = vectors.shape
    row = np.dtype([("fields", ">i2"), ("id_length", ">i4"), ("id", ">i4"),
                    ("vector_length", ">i4"), ("dims", ">i2"), ("unused", ">i2"),
                    ("values", ">f4", (dims,))])
    rows = np.zeros(count, dtype=row)
    rows["fields"] = 2
    rows["id_length"] = 4
    rows["id"] = np.arange(1, count + 1)
    rows["vector_length"] = 4 + 4 * dims
    rows["dims"] = dims
    rows["values"] = vectors
    header = b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8
    return header + rows.tobytes() + b"\xff\xff"


def vector_literal(values):
    return "[" + ",".join(repr(float(x)) for x in values) + "]"


def load(node, dbname, dims, data):
    conn = node.connect(dbname)
    with conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS items")
        cur.execute(f"CREATE TABLE items (id integer, embedding vector({dims}))")
        cur.copy_expert("COPY items FROM STDIN (FORMAT binary)", io.BytesIO(data))
        cur.execute("VACUUM ANALYZE items")
    return conn


def backend_cpu_seconds(pid):
    """Return the time the backend process pid has spent on a CPU."""
    with open(f"/proc/{pid}/schedstat") as schedstat:
        return int(schedstat.read().split()[0]) / 1e9


def timed(cur, sql, parameters, pid):
    """Run sql and return (backend CPU seconds, wall-clock seconds)."""
    cpu_start = backend_cpu_seconds(pid)
    start = time.perf_counter()
    cur.execute(sql, parameters)
    cur.fetchall()
    wall = time.perf_counter() - start
    return backend_cpu_seconds(pid) - cpu_start, wall


def main():
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    settings = {"shared_buffers": "512MB", "max_parallel_workers_per_gather": "0",
                "jit": "off", "work_mem": "64MB"}
    with Cluster("vector-bench", settings=settings).init() as node:
        node.start()
        for dbname, extension in DATABASES:
            node.execute(f"CREATE DATABASE {dbname}")
            node.execute(f"CREATE EXTENSION {extension}", dbname=dbname)
        versions = {dbname: node.execute(
            "SELECT extversion FROM pg_extension WHERE extname = %s", (extension,),
            dbname=dbname)[0][0] for dbname, extension in DATABASES}

        print(f"Distances per CPU second of the backend (from /proc/PID/schedstat), median of "
              f"{repeats} runs; ratios are similarity / pgvector, so above 1 means faster. "
              f"similarity {versions['similarity']}, pgvector {versions['pgvector']}.\n")
        print("| dims | distances | query | similarity | pgvector | ratio (CPU) | ratio (wall) |")
        print("|---|---|---|---|---|---|---|")
        for dims, count in SIZES:
            rng = np.random.default_rng(dims)
            vectors = rng.uniform(-1.0, 1.0, size=(count, dims)).astype(np.float32)
            query_vector = vector_literal(rng.uniform(-1.0, 1.0, size=dims).astype(np.float32))
            other_vector = vector_literal(rng.uniform(-1.0, 1.0, size=dims).astype(np.float32))
            data = binary_copy(vectors)
            connections = {dbname: load(node, dbname, dims, data) for dbname, _ in DATABASES}
            pids = {dbname: conn.get_backend_pid() for dbname, conn in connections.items()}

            # The constant queries evaluate 10 times as many distances as
            # the table has rows.
            parameters = {"q": query_vector, "p": other_vector, "n": 10 * count}
            workload = [(label, sql, 10 * count) for label, sql in KERNEL_QUERIES]
            workload += [(label, sql, count) for label, sql in QUERIES]
            for label, sql, evaluations in workload:
                cpu = {dbname: [] for dbname, _ in DATABASES}
                wall = {dbname: [] for dbname, _ in DATABASES}
                for repeat in range(repeats + 1):
                    for dbname, _ in DATABASES:
                        with connections[dbname].cursor() as cur:
                            cpu_seconds, wall_seconds = timed(cur, sql, parameters, pids[dbname])
                        if repeat > 0:  # the first round warms the caches
                            cpu[dbname].append(cpu_seconds)
                            wall[dbname].append(wall_seconds)
                rates = {dbname: evaluations / statistics.median(values)
                         for dbname, values in cpu.items()}
                wall_ratio = statistics.median(wall["pgvector"]) / statistics.median(wall["similarity"])
                print(f"| {dims} | {evaluations} | {label} | {rates['similarity']:,.0f} | "
                      f"{rates['pgvector']:,.0f} | {rates['similarity'] / rates['pgvector']:.2f} | "
                      f"{wall_ratio:.2f} |", flush=True)

            for conn in connections.values():
                conn.close()


if __name__ == "__main__":
    main()
