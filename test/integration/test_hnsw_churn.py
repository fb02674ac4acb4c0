"""The index stays bounded under steady delete/insert churn with VACUUM.

Ten rounds delete a fifth of the rows, VACUUM, and insert as many new
ones.  Inserts reuse the slots of elements VACUUM has marked dead, so the
index grows by little more than one round's worth of pages, and recall
stays close to that of a fresh build.  A second index with 4,096-dimension
vectors checks that reused slots take over the dead elements' vector pages.  Last, the same churn runs while other sessions search, so
scans meet slots that are being reused.
"""

import threading

from pgcluster import Cluster
from hnsw_support import clustered_unit_vectors, load, nearest_ids, recall, verify

DIMS, COUNT, ROUNDS = 32, 5000, 10
CHURN = COUNT // 5
vectors = clustered_unit_vectors(COUNT + ROUNDS * CHURN + 40, DIMS, seed=21)
queries = vectors[-40:]


def pages(conn, index):
    with conn.cursor() as cur:
        cur.execute("SELECT pg_relation_size(%s) / current_setting('block_size')::int", (index,))
        return cur.fetchone()[0]


def churn(conn, node, table, index, vectors, rounds, churn_count, first_new):
    """Run rounds of delete / VACUUM / insert; return the page counts."""
    sizes = []
    next_vector = first_new
    for round_number in range(rounds):
        # The oldest churn_count rows go (ids are assigned in insert order).
        node.execute(f"DELETE FROM {table} WHERE id IN "
                     f"(SELECT id FROM {table} ORDER BY id LIMIT {churn_count})")
        node.execute(f"VACUUM {table}")
        load(conn, table, vectors[next_vector:next_vector + churn_count], first_id=next_vector + 1)
        next_vector += churn_count
        assert verify(conn, index), f"{index} round {round_number}"
        sizes.append(pages(conn, index))
    return sizes


def concurrent_churn(node, table, fresh_rows, first_id, per_round, queries, operator):
    """Delete, VACUUM and insert fresh_rows in rounds of per_round while two
    sessions search.  Every search must return 10 distinct rows and no
    error, whatever slot a VACUUM frees or an insert reuses meanwhile.
    Returns the number of searches run."""
    errors = []
    stop = threading.Event()
    searches = [0]

    def churner():
        try:
            session = node.connect()
            session.autocommit = True
            for start in range(0, len(fresh_rows), per_round):
                with session.cursor() as cur:
                    cur.execute(f"DELETE FROM {table} WHERE id IN "
                                f"(SELECT id FROM {table} ORDER BY id LIMIT {per_round})")
                    cur.execute(f"VACUUM {table}")
                load(session, table, fresh_rows[start:start + per_round], first_id=first_id + start)
            session.close()
        except Exception as error:  # reported by the main thread
            errors.append(error)
        finally:
            stop.set()

    def searcher():
        try:
            session = node.connect()
            while not stop.is_set():
                for query in queries:
                    ids = nearest_ids(session, table, query, 10, operator)
                    assert len(ids) == 10, ids
                    assert len(set(ids)) == 10, ids
                    searches[0] += 1
            session.close()
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=churner)]
    threads += [threading.Thread(target=searcher) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return searches[0]


with Cluster("hnsw-churn").init() as node:
    node.start()
    node.execute("CREATE EXTENSION similarity")
    node.execute(f"CREATE TABLE items (id int, embedding vector({DIMS}))")
    conn = node.connect()
    conn.autocommit = True
    load(conn, "items", vectors[:COUNT])
    node.execute("CREATE INDEX items_cos ON items USING hnsw (embedding vector_cosine_ops)")
    fresh_pages = pages(conn, "items_cos")
    fresh_recall = recall(conn, "items", queries)
    print(f"fresh build: {fresh_pages} pages, recall@10 {fresh_recall:.3f}")

    sizes = churn(conn, node, "items", "items_cos", vectors, ROUNDS, CHURN, COUNT)
    value = recall(conn, "items", queries)
    print(f"pages after each round: {sizes}")
    print(f"after {ROUNDS} rounds: recall@10 {value:.3f}")

    # Without reuse every round would add a fifth of the fresh size; with it
    # the index settles after the first round or two.
    assert sizes[-1] <= fresh_pages * 1.5, (fresh_pages, sizes)
    assert sizes[-1] <= sizes[1] + fresh_pages * 0.1, sizes
    assert value >= fresh_recall - 0.05, (value, fresh_recall)

    # Deleted rows never come back and every live row is reachable.
    with conn.cursor() as cur:
        cur.execute("SET hnsw.max_scan_tuples = 1000000")
        cur.execute("SELECT array_agg(id) FROM items")
        live = set(cur.fetchone()[0])
    ids = nearest_ids(conn, "items", queries[0], len(live) + 100)
    assert set(ids) == live, (len(set(ids)), len(live))
    assert len(ids) == len(live), (len(ids), len(live))

    # Large vectors: a reused slot rewrites the dead element's vector pages.
    big = clustered_unit_vectors(360, 4096, seed=22)
    node.execute("CREATE TABLE big (id int, embedding vector(4096))")
    load(conn, "big", big[:200])
    node.execute("CREATE INDEX big_l2 ON big USING hnsw (embedding vector_l2_ops)")
    big_fresh = pages(conn, "big_l2")
    big_sizes = churn(conn, node, "big", "big_l2", big, 4, 40, 200)
    print(f"4096 dimensions: fresh {big_fresh} pages, after each round {big_sizes}")
    assert big_sizes[-1] <= big_fresh * 1.3, (big_fresh, big_sizes)
    for i in range(200, 360, 40):
        # The newest rows are found by their own vector, first.
        assert nearest_ids(conn, "big", big[i], 1, "<->")[0] == i + 1

    # The same churn while two sessions search, so scans meet reused slots
    # and vector pages being rewritten.
    extra = clustered_unit_vectors(1800, DIMS, seed=23)
    count = concurrent_churn(node, "items", extra, COUNT + ROUNDS * CHURN + 1, 300,
                             queries[:10], "<=>")
    assert verify(conn, "items_cos")
    value = recall(conn, "items", queries)
    print(f"{count} searches during concurrent churn; then {pages(conn, 'items_cos')} pages, "
          f"recall@10 {value:.3f}")
    assert value >= fresh_recall - 0.05, (value, fresh_recall)

    big_extra = clustered_unit_vectors(160, 4096, seed=24)
    count = concurrent_churn(node, "big", big_extra, 1001, 40, big[:4], "<->")
    assert verify(conn, "big_l2")
    print(f"{count} searches during concurrent churn of 4096-dimension rows; "
          f"then {pages(conn, 'big_l2')} pages")
    conn.close()
