"""A parallel pca_fit gives the same model as a serial one.

The parallel plan is forced with zero parallel costs; EXPLAIN must show a
Partial Aggregate and EXPLAIN ANALYZE launched workers.  The partial states
are combined in a different order than the serial stream, so the models
agree to rounding (1e-9 relative), not bit for bit.
"""

import io
import re

import numpy as np

from pgcluster import Cluster

ROWS, DIMS, K = 3000, 24, 8

# Each row sleeps 1 ms, so the leader cannot scan the whole table before
# the workers start and every participant aggregates some rows.
FIT_SQL = f"SELECT pca_fit(v, {K}) FROM rows WHERE pg_sleep(0.001) IS NOT NULL"

FORCE_PARALLEL = [
    "SET parallel_setup_cost = 0",
    "SET parallel_tuple_cost = 0",
    "SET min_parallel_table_scan_size = 0",
    "SET max_parallel_workers_per_gather = 2",
]


def model_values(cur):
    cur.execute("SELECT pca_mean(model)::text, pca_explained_variance(model), "
                "pca_components(model)::text FROM fitted")
    mean, variance, components = cur.fetchone()
    mean = np.array([float(v) for v in mean.strip("[]").split(",")])
    rows = components.strip("{}").replace('"', "").split("],[")
    components = np.array([[float(v) for v in r.strip("[]").split(",")] for r in rows])
    return mean, np.array(variance), components


def fit(cur, settings):
    for statement in settings:
        cur.execute(statement)
    cur.execute("DROP TABLE IF EXISTS fitted")
    cur.execute(f"CREATE TABLE fitted AS {FIT_SQL}")
    cur.execute("ALTER TABLE fitted RENAME COLUMN pca_fit TO model")
    cur.execute("RESET ALL")
    return model_values(cur)


def main():
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((ROWS, DIMS)) * np.linspace(1, 6, DIMS) + 50).astype(np.float32)

    with Cluster("pca-parallel", settings={"max_worker_processes": "8",
                                           "max_parallel_workers": "4"}).init() as node:
        node.start()
        conn = node.connect()
        cur = conn.cursor()
        cur.execute("CREATE EXTENSION similarity")
        cur.execute(f"CREATE TABLE rows (id int, v vector({DIMS}))")
        data = io.StringIO("".join(
            f"{i}\t[{','.join(repr(float(v)) for v in row)}]\n" for i, row in enumerate(x)))
        cur.copy_expert("COPY rows FROM STDIN", data)
        cur.execute("ANALYZE rows")

        for statement in FORCE_PARALLEL:
            cur.execute(statement)
        cur.execute(f"EXPLAIN (COSTS OFF) {FIT_SQL}")
        plan = "\n".join(r[0] for r in cur.fetchall())
        assert "Partial Aggregate" in plan, plan
        assert "Gather" in plan, plan
        cur.execute(f"EXPLAIN (ANALYZE, VERBOSE, COSTS OFF, TIMING OFF) {FIT_SQL}")
        analyzed = "\n".join(r[0] for r in cur.fetchall())
        assert "Workers Launched: 2" in analyzed, analyzed
        # Rows each worker scanned; the leader scanned the rest.
        scan = analyzed[analyzed.index("Parallel Seq Scan"):]
        worker_rows = [int(m) for m in re.findall(r"Worker \d+:  actual rows=(\d+)", scan)]
        participants = [ROWS - sum(worker_rows)] + worker_rows
        assert sum(1 for n in participants if n > 0) >= 2, analyzed
        print("rows per participant (leader first):", participants)
        cur.execute("RESET ALL")
        print(plan)

        serial = fit(cur, ["SET max_parallel_workers_per_gather = 0"])
        parallel = fit(cur, FORCE_PARALLEL)

        names = ("mean", "explained variance", "components")
        for name, a, b in zip(names, serial, parallel):
            assert np.allclose(a, b, rtol=1e-9, atol=1e-6), (name, np.abs(a - b).max())
        cosines = (serial[2] * parallel[2]).sum(axis=1)
        assert (cosines >= 1 - 1e-6).all(), cosines
        print("serial and parallel models agree; variance[0]:", serial[1][0], parallel[1][0])
        conn.close()


if __name__ == "__main__":
    main()
