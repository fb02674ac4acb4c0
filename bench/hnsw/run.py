#!/usr/bin/python3
"""Benchmark the hnsw index against pgvector's hnsw and hnswlib in memory.

Runs the same workload on this project's index and on an already-built
pgvector (PGVECTOR_DIR, default /work/peers/pgvector), each in its own
database of one throwaway cluster (both extensions define the type vector),
with the same m, ef_construction, ef_search and maintenance_work_mem:

  * clustered unit vectors, cosine distance, 1,000 held-out queries, exact
    ground truth computed with numpy;
  * CREATE INDEX time (median of --build-repeats builds, the engines
    alternating build by build), index size, recall@10 and queries per
    second (one client, prepared statement, median of three passes, the two
    engines alternating pass by pass) for each ef_search, and the rate of
    single-row INSERTs into the indexed table (alternating in batches);
  * hnswlib alone, in memory, on the same vectors and threads, as the
    reference for speed (build/hnsw_memory_bench).  Its graph lacks the
    level-0 fill that CREATE INDEX adds, so its recall is lower.

Where pgvector cannot index the dimensions (more than 2,000) its exact scan
is measured instead.  Run as root or as a user that can run initdb; the
build (make) must have run first.  Prints a Markdown report and writes
results as JSON.

Usage: bench/hnsw/run.py [--sets 100000x128,50000x1024,20000x4096]
                         [--queries 1000] [--build-repeats 3] [--output FILE]
"""

import argparse
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EF_SEARCH = [10, 20, 40, 80, 160, 320]
K = 10
PGVECTOR_MAX_DIMS = 2000


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="100000x128,50000x1024,20000x4096",
                        help="comma-separated ROWSxDIMS data sets")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--m", type=int, default=16)
    parser.add_argument("--ef-construction", type=int, default=64)
    parser.add_argument("--maintenance-work-mem", default="4GB")
    parser.add_argument("--workers", type=int, default=1,
                        help="max_parallel_maintenance_workers for both builds")
    parser.add_argument("--inserts", type=int, default=1000)
    parser.add_argument("--build-repeats", type=int, default=3,
                        help="index builds per engine (alternating), of which the median is reported")
    parser.add_argument("--output", default=os.path.join(ROOT, "build", "hnsw-bench.json"))
    parser.add_argument("--measure", metavar="INSTALL", help=argparse.SUPPRESS)
    return parser.parse_args()


# ---- private installation ---------------------------------------------------

def prepare_installation():
    """Copy the server, install both extensions into the copy, return its root."""
    pgvector = os.environ.get("PGVECTOR_DIR", "/work/peers/pgvector")
    if not os.path.exists(os.path.join(pgvector, "vector.so")):
        sys.exit(f"pgvector is not built in {pgvector}; set PGVECTOR_DIR")
    stage = tempfile.mkdtemp(prefix="sim-hnsw-bench-")
    os.chmod(stage, 0o755)
    install = os.path.join(stage, "install")
    subprocess.run([os.path.join(ROOT, "scripts", "private-install"), install], check=True)
    # pgvector: copy the built module, control file and install script.
    libdir = os.path.join(install, "usr/lib/postgresql/15/lib")
    extdir = os.path.join(install, "usr/share/postgresql/15/extension")
    shutil.copy(os.path.join(pgvector, "vector.so"), libdir)
    shutil.copy(os.path.join(pgvector, "vector.control"), extdir)
    for name in os.listdir(os.path.join(pgvector, "sql")):
        if name.startswith("vector--"):
            shutil.copy(os.path.join(pgvector, "sql", name), extdir)
    return stage


# ---- data -------------------------------------------------------------------------

def clustered_unit_vectors(np, count, dims, seed, clusters=100, spread=0.6):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dims)).astype(np.float32)
    labels = rng.integers(0, clusters, size=count)
    points = centres[labels] + spread * rng.normal(size=(count, dims)).astype(np.float32)
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    return points.astype(np.float32)


def exact_neighbours(np, data, queries):
    """Indexes of the K most similar rows (largest dot product) per query."""
    truth = np.empty((len(queries), K), dtype=np.int32)
    for start in range(0, len(queries), 100):
        scores = queries[start:start + 100] @ data.T
        top = np.argpartition(-scores, K, axis=1)[:, :K]
        order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1)
        truth[start:start + 100] = np.take_along_axis(top, order, axis=1)
    return truth


def binary_copy(np, conn, table, vectors, first_id):
    """COPY rows (id, vector) in binary form; ids start at first_id."""
    count, dims = vectors.shape
    out = io.BytesIO()
    out.write(b"PGCOPY\n\xff\r\n\0" + struct.pack("!ii", 0, 0))
    big_endian = vectors.astype(">f4")
    row_header = struct.Struct("!hii")
    vector_header = struct.Struct("!ihh")
    for i in range(count):
        out.write(row_header.pack(2, 4, first_id + i))
        out.write(vector_header.pack(4 + 4 * dims, dims, 0))
        out.write(big_endian[i].tobytes())
    out.write(struct.pack("!h", -1))
    out.seek(0)
    with conn.cursor() as cur:
        cur.copy_expert(f"COPY {table} (id, embedding) FROM STDIN WITH (FORMAT binary)", out)


def vector_text(vector):
    return "[" + ",".join(f"{x:.7g}" for x in vector) + "]"


# ---- measurements -------------------------------------------------------------

def search_pass(conn, queries, truth):
    """Run every query once; return (recall@10, queries per second)."""
    found = 0
    texts = [vector_text(q) for q in queries]
    with conn.cursor() as cur:
        start = time.perf_counter()
        for i, text in enumerate(texts):
            cur.execute("EXECUTE nearest(%s)", (text,))
            ids = {row[0] - 1 for row in cur.fetchall()}
            found += len(ids & set(truth[i].tolist()))
        elapsed = time.perf_counter() - start
    return found / (K * len(queries)), len(queries) / elapsed


def prepare_table(np, node, dbname, extension, data, args, use_index):
    """Load data into items in dbname.

    Returns the open connection and the engine's result record.
    """
    conn = node.connect(dbname)
    cur = conn.cursor()
    dims = data.shape[1]
    cur.execute(f"CREATE EXTENSION IF NOT EXISTS {extension}")
    cur.execute("DROP TABLE IF EXISTS items")
    cur.execute(f"CREATE TABLE items (id int, embedding vector({dims}))")
    binary_copy(np, conn, "items", data, 1)
    cur.execute("VACUUM ANALYZE items")
    cur.execute("CHECKPOINT")
    return conn, {"extension": extension, "indexed": use_index, "search": []}


def measure_builds(engines, args):
    """Build every engine's index args.build_repeats times, the engines
    alternating build by build, and keep the median time.  The last build
    stays for the searches."""
    times = {id(result): [] for _, result in engines}
    for _ in range(args.build_repeats):
        for conn, result in engines:
            if not result["indexed"]:
                continue
            with conn.cursor() as cur:
                cur.execute("DROP INDEX IF EXISTS items_embedding")
                cur.execute("CHECKPOINT")
                cur.execute(f"SET maintenance_work_mem = '{args.maintenance_work_mem}'")
                cur.execute(f"SET max_parallel_maintenance_workers = {args.workers}")
                start = time.perf_counter()
                cur.execute(f"CREATE INDEX items_embedding ON items USING hnsw "
                            f"(embedding vector_cosine_ops) "
                            f"WITH (m = {args.m}, ef_construction = {args.ef_construction})")
                elapsed = time.perf_counter() - start
            times[id(result)].append(elapsed)
            print(f"  {result['extension']}: build {elapsed:.1f}s "
                  f"(load average {os.getloadavg()[0]:.1f})", flush=True)
    for conn, result in engines:
        if not result["indexed"]:
            continue
        runs = times[id(result)]
        result["build_runs"] = runs
        result["build_seconds"] = sorted(runs)[len(runs) // 2]
        with conn.cursor() as cur:
            cur.execute("SELECT pg_relation_size('items_embedding')")
            result["index_bytes"] = cur.fetchone()[0]
            cur.execute("ANALYZE items")
        print(f"  {result['extension']}: median build {result['build_seconds']:.1f}s, "
              f"index {result['index_bytes'] / 2**20:.1f} MiB", flush=True)


def prepare_queries(conn, result, data):
    """Prepare the nearest-neighbour query and check its plan."""
    cur = conn.cursor()
    use_index = result["indexed"]
    cur.execute(f"PREPARE nearest(vector) AS SELECT id FROM items ORDER BY embedding <=> $1 LIMIT {K}")
    cur.execute("SET jit = off")
    if use_index:
        cur.execute("EXPLAIN EXECUTE nearest(%s)", (vector_text(data[0]),))
        result["plan_uses_index"] = "Index Scan" in "".join(row[0] for row in cur.fetchall())
        # Measure the index even where the planner would not choose it.
        cur.execute("SET enable_seqscan = off")


def measure_searches(engines, queries, truth):
    """Run every ef_search on every indexed engine and keep the median of
    three passes.  Engines alternate pass by pass, so both see the same
    background load.  Engines without an index get an exact-scan sample."""
    for ef in EF_SEARCH:
        runs = {id(result): [] for _, result in engines}
        for _ in range(3):
            for conn, result in engines:
                if not result["indexed"]:
                    continue
                with conn.cursor() as cur:
                    cur.execute(f"SET hnsw.ef_search = {ef}")
                runs[id(result)].append(search_pass(conn, queries, truth))
        for _, result in engines:
            if not result["indexed"]:
                continue
            passes = runs[id(result)]
            qps = sorted(run[1] for run in passes)[1]
            result["search"].append({"ef_search": ef, "recall": passes[-1][0], "qps": qps})
            print(f"  {result['extension']} ef_search {ef}: recall {passes[-1][0]:.4f}, "
                  f"{qps:.1f} QPS", flush=True)

    for conn, result in engines:
        if result["indexed"]:
            continue
        sample = min(len(queries), 50)
        recall, qps = search_pass(conn, queries[:sample], truth[:sample])
        result["search"].append({"ef_search": None, "recall": recall, "qps": qps,
                                 "queries": sample})
        print(f"  {result['extension']} exact scan: recall {recall:.4f}, {qps:.2f} QPS", flush=True)


def measure_inserts(np, engines, data, count):
    """Single-row autocommit INSERTs into the indexed tables, alternating
    engines in batches of 100."""
    rng = np.random.default_rng(99)
    texts = [vector_text(v) for v in data[rng.integers(0, len(data), size=count)]]
    elapsed = {id(result): 0.0 for _, result in engines}
    for first in range(0, count, 100):
        for conn, result in engines:
            with conn.cursor() as cur:
                start = time.perf_counter()
                for i, text in enumerate(texts[first:first + 100]):
                    cur.execute("INSERT INTO items VALUES (%s, %s)", (len(data) + 1 + first + i, text))
                elapsed[id(result)] += time.perf_counter() - start
    for _, result in engines:
        result["inserts_per_second"] = count / elapsed[id(result)]
        print(f"  {result['extension']}: {result['inserts_per_second']:.0f} inserts/s", flush=True)


def measure_hnswlib(np, stage, data, queries, truth, args):
    paths = {name: os.path.join(stage, f"{name}.bin") for name in ("data", "queries", "truth")}
    data.tofile(paths["data"])
    queries.tofile(paths["queries"])
    truth.tofile(paths["truth"])
    tool = os.path.join(ROOT, "build", "hnsw_memory_bench")
    output = subprocess.run([tool, paths["data"], paths["queries"], paths["truth"],
                             str(data.shape[1]), str(args.m), str(args.ef_construction),
                             str(args.workers + 1)] + [str(ef) for ef in EF_SEARCH],
                            check=True, capture_output=True, text=True).stdout
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    result = {"extension": "hnswlib", "build_seconds": lines[0]["build_seconds"],
              "search": lines[1:]}
    print(f"  hnswlib build {result['build_seconds']:.1f}s", flush=True)
    return result


def measure(stage, args):
    import numpy as np

    sys.path.insert(0, os.path.join(ROOT, "test", "integration"))
    os.environ["SIM_PG_BINDIR"] = os.path.join(stage, "install/usr/lib/postgresql/15/bin")
    from pgcluster import Cluster

    settings = {"shared_buffers": "2GB", "max_parallel_maintenance_workers": str(args.workers),
                "max_parallel_workers": "8", "jit": "off", "max_wal_size": "8GB",
                "checkpoint_timeout": "30min"}
    report = {"settings": vars(args), "sets": []}
    with Cluster("hnsw-bench", settings=settings).init() as node:
        node.start()
        node.execute("CREATE DATABASE sim")
        node.execute("CREATE DATABASE pgv")
        for spec in args.sets.split(","):
            rows, dims = (int(x) for x in spec.split("x"))
            print(f"== {rows} x {dims}", flush=True)
            vectors = clustered_unit_vectors(np, rows + args.queries, dims, seed=dims)
            data, queries = vectors[:rows], vectors[rows:]
            truth = exact_neighbours(np, data, queries)
            entry = {"rows": rows, "dims": dims, "results": []}
            engines = [prepare_table(np, node, "sim", "similarity", data, args, True),
                       prepare_table(np, node, "pgv", "vector", data, args,
                                     dims <= PGVECTOR_MAX_DIMS)]
            measure_builds(engines, args)
            for conn, result in engines:
                prepare_queries(conn, result, data)
            measure_searches(engines, queries, truth)
            measure_inserts(np, engines, data, args.inserts)
            for conn, result in engines:
                with conn.cursor() as cur:
                    cur.execute("DROP TABLE items")
                conn.close()
                entry["results"].append(result)
            entry["results"].append(measure_hnswlib(np, stage, data, queries, truth, args))
            report["sets"].append(entry)
            with open(os.path.join(stage, "partial.json"), "w") as out:
                json.dump(report, out, indent=1)
    return report


# ---- report ---------------------------------------------------------------------------

def markdown(report):
    lines = []
    for entry in report["sets"]:
        lines.append(f"### {entry['rows']:,} x {entry['dims']}")
        lines.append("")
        lines.append("| engine | build s | index MB | inserts/s | " +
                     " | ".join(f"ef {ef}" for ef in EF_SEARCH) + " |")
        lines.append("|---|---|---|---|" + "---|" * len(EF_SEARCH))
        for result in entry["results"]:
            build = f"{result['build_seconds']:.1f}" if "build_seconds" in result else "-"
            size = f"{result['index_bytes'] / 2**20:.0f}" if "index_bytes" in result else "-"
            inserts = f"{result['inserts_per_second']:.0f}" if "inserts_per_second" in result else "-"
            cells = []
            by_ef = {s["ef_search"]: s for s in result["search"]}
            for ef in EF_SEARCH:
                if ef in by_ef:
                    cells.append(f"{by_ef[ef]['recall']:.3f} / {by_ef[ef]['qps']:.0f}")
                elif None in by_ef:
                    cells.append(f"exact {by_ef[None]['qps']:.1f} QPS" if ef == EF_SEARCH[0] else "")
                else:
                    cells.append("-")
            lines.append(f"| {result['extension']} | {build} | {size} | {inserts} | " +
                         " | ".join(cells) + " |")
        lines.append("")
        builds = {r["extension"]: r for r in entry["results"] if "build_runs" in r}
        for name, result in builds.items():
            runs = ", ".join(f"{t:.1f}" for t in result["build_runs"])
            lines.append(f"- {name} builds: {runs} s")
        if "similarity" in builds and "vector" in builds:
            ratio = builds["similarity"]["build_seconds"] / builds["vector"]["build_seconds"]
            lines.append(f"- median build time ratio similarity / pgvector: {ratio:.2f}")
        if builds:
            lines.append("")
    lines.append("Cells under ef_search: recall@10 / queries per second.")
    return "\n".join(lines)


def main():
    args = parse_args()
    if args.measure:
        report = measure(args.measure, args)
        with open(os.path.join(args.measure, "report.json"), "w") as out:
            json.dump(report, out, indent=1)
        return

    stage = prepare_installation()
    try:
        command = [sys.executable, os.path.abspath(__file__), "--measure", stage] + sys.argv[1:]
        if os.getuid() == 0:
            # initdb refuses to run as root.
            subprocess.run(["chown", "-R", "postgres", stage], check=True)
            command = ["runuser", "-u", "postgres", "--"] + command
        subprocess.run(command, check=True)
        with open(os.path.join(stage, "report.json")) as source:
            report = json.load(source)
        os.makedirs(os.path.dirname(args.output), exist_ok=True)
        with open(args.output, "w") as out:
            json.dump(report, out, indent=1)
        print(markdown(report))
    finally:
        shutil.rmtree(stage, ignore_errors=True)


if __name__ == "__main__":
    main()
