"""Benchmark pca_fit and pca_project against numpy in the same run.

pca_fit over ROWS x DIMS synthetic features is compared with numpy's
covariance plus eigh (float64, the LAPACK that numpy links).  pca_project
(DIMS -> COMPONENTS) is measured per row in a query and through the array
form, both end to end with arrays built by array_agg and on one prebuilt
array, which shows the function's own rate.  Every timing is repeated and
the median reported.  Run it through bench/pca/run, which installs the
extension into a private PostgreSQL.

The numpy peer runs in a child process with OPENBLAS_CORETYPE and
OPENBLAS_L2_SIZE removed from its environment, because a forced core type
slows OpenBLAS; the kernel it used is printed from threadpoolctl.
"""

import argparse
import io
import json
import os
import platform
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np

from pgcluster import Cluster

NUMPY_PEER = r"""
import json, sys, time
import numpy as np
try:
    from threadpoolctl import threadpool_info
    kernels = [f"{i['internal_api']} {i['version']} {i.get('architecture')} "
               f"{i['num_threads']} threads" for i in threadpool_info()]
except ImportError:
    kernels = ["threadpoolctl not installed"]
x = np.load(sys.argv[1]).astype(np.float64)
k = int(sys.argv[2])
times = []
for _ in range(int(sys.argv[3])):
    start = time.perf_counter()
    cov = np.cov(x, rowvar=False)
    values, vectors = np.linalg.eigh(cov)
    top = values[::-1][:k]
    times.append(time.perf_counter() - start)
print(json.dumps({"times": times, "kernels": kernels}))
"""


def make_features(rows, dims, seed=7):
    """Synthetic image-like features: low-rank structure, noise, ReLU zeros."""
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((rows, 64)).astype(np.float32)
    basis = rng.standard_normal((64, dims)).astype(np.float32)
    x = latent @ basis + 0.5 * rng.standard_normal((rows, dims)).astype(np.float32)
    return np.maximum(x, 0.0, dtype=np.float32)


def binary_copy(x):
    """COPY ... (FORMAT binary) stream of one vector column, pgvector layout."""
    rows, dims = x.shape
    out = io.BytesIO()
    out.write(b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0))
    row_header = struct.pack("!hihh", 1, 4 + 4 * dims, dims, 0)
    big_endian = x.astype(">f4")
    for i in range(rows):
        out.write(row_header)
        out.write(big_endian[i].tobytes())
    out.write(struct.pack("!h", -1))
    out.seek(0)
    return out


def timed(cur, sql, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        cur.execute(sql)
        cur.fetchall()
        times.append(time.perf_counter() - start)
    return times


def numpy_peer(path, k, repeat):
    env = {key: value for key, value in os.environ.items()
           if key not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    result = subprocess.run([sys.executable, "-c", NUMPY_PEER, path, str(k), str(repeat)],
                            env=env, check=True, capture_output=True, text=True)
    return json.loads(result.stdout)


def describe(times):
    return f"median {statistics.median(times):.2f} s (runs: " + \
        ", ".join(f"{t:.2f}" for t in times) + ")"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20000, help="rows to fit on")
    parser.add_argument("--dims", type=int, default=4096, help="input dimensions")
    parser.add_argument("--components", type=int, default=256, help="n_components")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement")
    parser.add_argument("--skip-fit", action="store_true", help="measure pca_project only")
    parser.add_argument("--array-size", type=int, default=1000,
                        help="vectors per array in the array form")
    args = parser.parse_args()

    print(f"host: {platform.node()}, {os.cpu_count()} CPUs, "
          f"{platform.processor() or platform.machine()}, "
          f"load average at start {os.getloadavg()[0]:.2f}")
    for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS"):
        print(f"server environment {key}={os.environ.get(key, '(unset)')}")

    x = make_features(args.rows, args.dims)
    workdir = tempfile.mkdtemp(prefix="bench-pca-")
    try:
        benchmark(args, x, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def benchmark(args, x, workdir):
    """Load the rows into a throwaway cluster and print every measurement."""
    npy = os.path.join(workdir, "features.npy")
    np.save(npy, x)

    with Cluster("bench-pca", settings={"shared_buffers": "1GB",
                                        "max_wal_size": "4GB",
                                        "work_mem": "256MB"}).init() as node:
        node.start()
        conn = node.connect()
        cur = conn.cursor()
        cur.execute("CREATE EXTENSION similarity")
        cur.execute(f"CREATE TABLE features (id serial, embedding vector({args.dims}))")
        cur.copy_expert("COPY features (embedding) FROM STDIN WITH (FORMAT binary)",
                        binary_copy(x))
        cur.execute("VACUUM ANALYZE features")
        # Warm the buffer cache so the first timed run does not read from disk.
        cur.execute("SELECT count(vector_dims(embedding)) FROM features")

        fit_sql = f"SELECT pca_fit(embedding, {args.components}) FROM features"
        if not args.skip_fit:
            compare_fit(cur, fit_sql, npy, args)

        cur.execute(f"CREATE TABLE models AS {fit_sql}")
        cur.execute("ALTER TABLE models RENAME COLUMN pca_fit TO model")
        compare_project(cur, args)
        conn.close()
    print(f"\nload average at end {os.getloadavg()[0]:.2f} "
          "(other processes on the machine skew the timings)")


def compare_fit(cur, fit_sql, npy, args):
    print(f"\npca_fit: {args.rows} x {args.dims} -> {args.components}")
    cur.execute("SET max_parallel_workers_per_gather = 0")
    serial = timed(cur, fit_sql, args.repeat)
    print(f"  pca_fit, serial plan:   {describe(serial)}")

    cur.execute("SET parallel_setup_cost = 0")
    cur.execute("SET parallel_tuple_cost = 0")
    cur.execute("SET max_parallel_workers_per_gather = 2")
    parallel = timed(cur, fit_sql, args.repeat)
    print(f"  pca_fit, parallel plan: {describe(parallel)}")
    cur.execute("RESET ALL")

    peer = numpy_peer(npy, args.components, args.repeat)
    print(f"  numpy cov + eigh:       {describe(peer['times'])}")
    print(f"  numpy kernel: {'; '.join(peer['kernels'])}")
    best = min(statistics.median(serial), statistics.median(parallel))
    print(f"  ratio pca_fit / numpy (faster plan): "
          f"{best / statistics.median(peer['times']):.2f}")


def report_rate(label, unit, count, times, baseline):
    """Print and return the end-to-end rate and the rate net of the baseline
    query (the same query without pca_project)."""
    total, base = statistics.median(times), statistics.median(baseline)
    rate = count / total
    net = count / (total - base) if total > base else float("nan")
    print(f"  {label}: {describe(times)}")
    print(f"      {rate:,.0f} {unit}/s end to end; without pca_project {base:.2f} s, "
          f"so {net:,.0f} {unit}/s net of it")
    return rate, net


def format_verdict(rate, target):
    return f"{rate:,.0f} ({'met' if rate >= target else 'not met'})"


def compare_project(cur, args):
    print(f"\npca_project: {args.dims} -> {args.components}, serial plan")
    cur.execute("SET max_parallel_workers_per_gather = 0")
    model = "(SELECT model FROM models)"

    baseline = timed(cur, "SELECT sum(vector_dims(embedding)) FROM features", args.repeat)
    per_row = timed(cur, f"SELECT sum(vector_dims(pca_project({model}, embedding))) "
                         "FROM features", args.repeat)
    per_row_rate, _ = report_rate("per row in a query", "rows", args.rows, per_row, baseline)

    # End to end: the arrays are built in the query from the same rows, so
    # both forms read the same input.  An array of 1000 vectors is 16 MB at
    # 4096 dimensions, and array_agg copies every vector into it.  Without
    # ORDER BY the planner picks a HashAggregate that keeps every array in
    # memory at once.  With it, a sort and a GroupAggregate build one array
    # at a time.
    size = args.array_size
    end_to_end = {}
    for aggregate in ("array_agg(embedding)", "array_agg(embedding ORDER BY id)"):
        arrays = f"(SELECT {aggregate} AS vs FROM features GROUP BY id / {size}) AS a"
        baseline = timed(cur, f"SELECT sum(cardinality(vs)) FROM {arrays}", args.repeat)
        array_form = timed(cur, f"SELECT sum(cardinality(pca_project({model}, vs))) "
                                f"FROM {arrays}", args.repeat)
        end_to_end[aggregate] = report_rate(
            f"array form, end to end, {size} per array from {aggregate}", "vectors",
            args.rows, array_form, baseline)

    # The function alone: one array of the first rows, built once by an
    # InitPlan, projected once per row of generate_series.  The same array
    # is read each time, so it can stay in the CPU cache (16 MB at 1000 x
    # 4096), which the arrays of the query above cannot.
    calls = max(1, args.rows // size)
    prebuilt = (f"WITH a AS MATERIALIZED (SELECT array_agg(embedding) AS vs FROM "
                f"(SELECT embedding FROM features ORDER BY id LIMIT {size}) s) ")
    baseline = timed(cur, f"{prebuilt} SELECT sum(cardinality((SELECT vs FROM a))) "
                          f"FROM generate_series(1, {calls})", args.repeat)
    function = timed(cur, f"{prebuilt} SELECT sum(cardinality(pca_project({model}, "
                          f"(SELECT vs FROM a)))) FROM generate_series(1, {calls})",
                     args.repeat)
    _, function_net = report_rate(
        f"array form, one prebuilt array of {size} projected {calls} times",
        "vectors", calls * size, function, baseline)

    print("  targets: per row >= 10,000 rows/s: " + format_verdict(per_row_rate, 10000))
    print("           array form >= 30,000 vectors/s:")
    for label, (rate, net) in end_to_end.items():
        print(f"             end to end, arrays from {label}: {format_verdict(rate, 30000)}; "
              f"net of building them: {format_verdict(net, 30000)}")
    print("             function only (prebuilt array, net): "
          + format_verdict(function_net, 30000))


if __name__ == "__main__":
    main()
