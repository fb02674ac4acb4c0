"""hnsw indexes survive kill -9 of the server during build, inserts and VACUUM."""

import os
import signal
import threading
import time

import psycopg2

from pgcluster import Cluster
from hnsw_support import clustered_unit_vectors, load, nearest_ids, recall, verify

DIMS = 32
vectors = clustered_unit_vectors(12000, DIMS, seed=3)
queries = vectors[-30:]


def kill_server(node):
    """SIGKILL the postmaster and all its children at once, as a power loss
    would stop them.  Killing only the postmaster would let a busy backend
    run on and commit."""
    with open(os.path.join(node.datadir, "postmaster.pid")) as pidfile:
        postmaster = int(pidfile.readline())
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == postmaster:
            children.append(int(entry))
    os.kill(postmaster, signal.SIGSTOP)
    for pid in children:
        os.kill(pid, signal.SIGKILL)
    os.kill(postmaster, signal.SIGKILL)
    for pid in children + [postmaster]:
        deadline = time.time() + 30
        while time.time() < deadline and os.path.exists(f"/proc/{pid}"):
            time.sleep(0.05)


def wait_for_build_phase(node, phase, timeout=30):
    """Wait until a CREATE INDEX reports phase in pg_stat_progress_create_index."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        rows = node.execute("SELECT phase FROM pg_stat_progress_create_index")
        if any(phase in row[0] for row in rows):
            return True
        time.sleep(0.02)
    return False


def run_and_kill(node, statements, delay, phase=None):
    """Run statements in a thread and kill -9 the server after delay seconds
    (counted from when a build reports phase, if given)."""
    errors = []

    def work():
        try:
            conn = node.connect()
            with conn.cursor() as cur:
                for sql in statements:
                    cur.execute(sql)
            conn.close()
        except psycopg2.Error as error:
            errors.append(error)

    thread = threading.Thread(target=work)
    thread.start()
    if phase is not None:
        assert wait_for_build_phase(node, phase), f"the build never reached {phase}"
    time.sleep(delay)
    kill_server(node)
    thread.join()
    node.start()
    return errors


def check_index(node, index):
    """The index is valid and returns what an exact scan returns."""
    conn = node.connect()
    assert verify(conn, index), f"{index} failed hnsw_verify"
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM items")
        rows = cur.fetchone()[0]
        cur.execute("SET hnsw.ef_search = 1000")
        cur.execute("SET hnsw.max_scan_tuples = 10000000")
        cur.execute("SET enable_seqscan = off")
        cur.execute("SELECT count(*) FROM (SELECT id FROM items ORDER BY embedding <=> %s LIMIT 100000) s",
                    ("[" + ",".join(["1"] * DIMS) + "]",))
        scanned = cur.fetchone()[0]
    assert scanned == rows, (scanned, rows)
    value = recall(conn, "items", queries)
    print(f"{index}: {rows} rows, recall@10 {value:.3f}")
    assert value >= 0.95, value
    conn.close()


with Cluster("hnsw-crash").init() as node:
    node.start()
    node.execute("CREATE EXTENSION similarity")
    node.execute(f"CREATE TABLE items (id int, embedding vector({DIMS}))")
    conn = node.connect()
    load(conn, "items", vectors[:8000])
    conn.close()

    # Kill during CREATE INDEX: the index must not exist afterwards.
    # m = 48 and ef_construction = 1000 make the graph phase last seconds.
    run_and_kill(node, ["CREATE INDEX items_cos ON items USING hnsw (embedding vector_cosine_ops) "
                        "WITH (m = 48, ef_construction = 1000)"], 0.05,
                 phase="building graph in memory")
    rows = node.execute("SELECT count(*) FROM pg_class WHERE relname = 'items_cos'")
    assert rows[0][0] == 0, "a killed build left its index behind"
    node.execute("CREATE INDEX items_cos ON items USING hnsw (embedding vector_cosine_ops)")
    check_index(node, "items_cos")

    # Kill during a stream of single-row inserts: committed rows are indexed.
    inserts = [f"INSERT INTO items VALUES ({8001 + i}, '[" + ",".join(f"{x:.6g}" for x in vectors[8000 + i]) + "]')"
               for i in range(2000)]
    run_and_kill(node, inserts, 0.5)
    check_index(node, "items_cos")

    # Kill during VACUUM after a large delete.
    node.execute("DELETE FROM items WHERE id % 3 = 0")
    run_and_kill(node, ["VACUUM items"], 0.3)
    check_index(node, "items_cos")
    node.execute("VACUUM items")
    check_index(node, "items_cos")
    deleted = node.execute("SELECT count(*) FROM items WHERE id % 3 = 0")[0][0]
    assert deleted == 0
    conn = node.connect()
    ids = nearest_ids(conn, "items", queries[0], 1000)
    assert all(i % 3 != 0 for i in ids), "a deleted row came back"
    conn.close()

    # Kill during inserts that reuse the slots VACUUM freed, mixed with rows
    # of one placeholder vector that fill its element's overflow chain.
    placeholder = "[" + ",".join(f"{x:.6g}" for x in vectors[5]) + "]"
    node.execute(f"INSERT INTO items SELECT 20000 + i, '{placeholder}' FROM generate_series(1, 1500) i")
    inserts = []
    for i in range(1500):
        inserts.append(f"INSERT INTO items VALUES ({30001 + i}, '"
                       + "[" + ",".join(f"{x:.6g}" for x in vectors[10000 + i]) + "]')")
        inserts.append(f"INSERT INTO items VALUES ({40001 + i}, '{placeholder}')")
    run_and_kill(node, inserts, 0.5)
    check_index(node, "items_cos")

    def check_placeholder():
        conn = node.connect()
        with conn.cursor() as cur:
            cur.execute("SELECT array_agg(id) FROM items WHERE embedding = %s", (placeholder,))
            exact = set(cur.fetchone()[0] or [])
            cur.execute("SET hnsw.max_scan_tuples = 10000000")
        found = nearest_ids(conn, "items", vectors[5], len(exact))
        assert set(found) == exact, (len(exact), len(set(found) & exact))
        print(f"{len(exact)} placeholder rows found")
        conn.close()

    check_placeholder()

    # Kill during a VACUUM that empties most of the overflow chain.
    node.execute("DELETE FROM items WHERE id > 20000 AND id % 5 <> 0")
    run_and_kill(node, ["VACUUM items"], 0.2)
    check_index(node, "items_cos")
    node.execute("VACUUM items")
    check_index(node, "items_cos")
    check_placeholder()
