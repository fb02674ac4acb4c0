"""Interrupts that are not a cancel do not stop pca_fit.

PostgreSQL sets the same pending-interrupt flag for a cancel and for
requests that only ask the backend to do something on the side, such as
pg_log_backend_memory_contexts or a message from a parallel worker.  A fit
that receives many such requests while the eigensolver runs must finish
with the same model, bit for bit, as an undisturbed fit.
"""

import threading
import time

from pgcluster import Cluster

DIMS = 2048
ROWS = 600

with Cluster("pca-interrupts").init() as node:
    node.start()
    node.execute("CREATE EXTENSION similarity")
    node.execute(f"CREATE TABLE features (v vector({DIMS}))")
    node.execute(f"INSERT INTO features SELECT (SELECT array_agg(random()) "
                 f"FROM generate_series(1, {DIMS}) WHERE g > 0)::vector({DIMS}) "
                 f"FROM generate_series(1, {ROWS}) g")

    fit = "SELECT pca_fit(v, 128)::text FROM features"
    conn = node.connect()
    cur = conn.cursor()
    cur.execute("SET max_parallel_workers_per_gather = 0")
    start = time.time()
    cur.execute(fit)
    reference = cur.fetchone()[0]
    undisturbed_seconds = time.time() - start

    cur.execute("SELECT pg_backend_pid()")
    pid = cur.fetchone()[0]
    outcome = {}

    def run():
        try:
            cur.execute(fit)
            outcome["model"] = cur.fetchone()[0]
        except Exception as error:  # reported below, in the main thread
            outcome["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    requests = 0
    while thread.is_alive():
        node.execute("SELECT pg_log_backend_memory_contexts(%s)", (pid,))
        requests += 1
        time.sleep(0.02)
    thread.join()
    conn.close()

    print(f"RESULT: pca_fit {ROWS} x {DIMS} -> 128 took {undisturbed_seconds:.2f}s "
          f"undisturbed and received {requests} memory-context log requests")
    assert "error" not in outcome, f"pca_fit failed: {outcome.get('error')}"
    assert requests >= 5, f"only {requests} requests reached the fit; it proves little"
    assert outcome["model"] == reference, "the interrupted fit returned another model"
