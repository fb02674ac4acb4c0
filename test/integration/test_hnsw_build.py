"""hnsw builds report progress and stop promptly on cancel and statement_timeout."""

import threading
import time

import psycopg2

from pgcluster import Cluster
from hnsw_support import clustered_unit_vectors, load

COUNT, DIMS = 30000, 128

with Cluster("hnsw-build").init() as node:
    node.start()
    conn = node.connect()
    cur = conn.cursor()
    cur.execute("CREATE EXTENSION similarity")
    cur.execute(f"CREATE TABLE items (id int, embedding vector({DIMS}))")
    load(conn, "items", clustered_unit_vectors(COUNT, DIMS))

    # statement_timeout stops a build in the graph phase.
    cur.execute("SET statement_timeout = '1500ms'")
    start = time.time()
    try:
        cur.execute("CREATE INDEX items_timeout ON items USING hnsw (embedding vector_l2_ops) "
                    "WITH (ef_construction = 400)")
        raise AssertionError("the build finished before statement_timeout")
    except psycopg2.errors.QueryCanceled as error:
        elapsed = time.time() - start
        print(f"canceled after {elapsed:.2f}s: {error}".strip())
        assert elapsed < 6, elapsed
    cur.execute("RESET statement_timeout")

    # pg_stat_progress_create_index shows the phases of a running build.
    phases = set()
    done = threading.Event()

    def watch():
        watcher = node.connect()
        with watcher.cursor() as wcur:
            while not done.is_set():
                wcur.execute("SELECT phase, tuples_done, tuples_total "
                             "FROM pg_stat_progress_create_index")
                for phase, _, _ in wcur.fetchall():
                    phases.add(phase)
                time.sleep(0.05)
        watcher.close()

    thread = threading.Thread(target=watch)
    thread.start()
    cur.execute("CREATE INDEX items_l2 ON items USING hnsw (embedding vector_l2_ops)")
    done.set()
    thread.join()
    print("phases seen:", sorted(phases))
    assert "building index: building graph in memory" in phases, phases

    # pg_cancel_backend stops a build too.
    cur.execute("DROP INDEX items_l2")
    cur.execute("SELECT pg_backend_pid()")
    pid = cur.fetchone()[0]
    timer = threading.Timer(1.0, lambda: node.execute("SELECT pg_cancel_backend(%s)", (pid,)))
    timer.start()
    start = time.time()
    try:
        cur.execute("CREATE INDEX items_cancel ON items USING hnsw (embedding vector_l2_ops) "
                    "WITH (ef_construction = 400)")
        raise AssertionError("the build finished before the cancel")
    except psycopg2.errors.QueryCanceled:
        elapsed = time.time() - start
        print(f"canceled after {elapsed:.2f}s")
        assert elapsed < 6, elapsed
    timer.join()

    cur.execute("SELECT count(*) FROM pg_class WHERE relname LIKE 'items_%'")
    assert cur.fetchone()[0] == 0
    conn.close()
