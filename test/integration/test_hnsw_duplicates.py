"""Every row stays findable however many rows share one vector.

3,000 rows hold one placeholder vector and 2,000 others are spread around
it, under the build path and the insert path.  A query for the placeholder
must return all 3,000, hnsw_verify must be clean (no unreachable element),
and after VACUUM removes half of them, and later all of them, the index
returns exactly the rows that remain.

Inner product over vectors of very different lengths is the other way a
graph loses rows: a short vector is close to nothing.  CREATE INDEX and
VACUUM must leave every such row reachable too.
"""

import numpy as np

from pgcluster import Cluster
from hnsw_support import clustered_unit_vectors, load, nearest_ids, vector_text, verify

DIMS, DUPLICATES, OTHERS = 16, 3000, 2000

others = clustered_unit_vectors(OTHERS, DIMS, seed=11)
placeholder = others[0].copy()
# Ids 1 .. DUPLICATES hold the placeholder; the rest hold the other vectors.
rows = np.concatenate([np.repeat(placeholder[None, :], DUPLICATES, axis=0), others[1:]])


def check(conn, index, table, operator, expected_duplicates):
    """The index is clean and returns every row holding the placeholder."""
    conn.notices.clear()
    assert verify(conn, index), f"{index} failed hnsw_verify"
    unreachable = [n for n in conn.notices if "not reachable" in n]
    assert not unreachable, unreachable
    with conn.cursor() as cur:
        cur.execute("SET hnsw.max_scan_tuples = 1000000")
        cur.execute(f"SELECT id FROM {table} WHERE embedding = %s", (vector_text(placeholder),))
        exact = {row[0] for row in cur.fetchall()}
    assert len(exact) == expected_duplicates, (len(exact), expected_duplicates)
    found = nearest_ids(conn, table, placeholder, DUPLICATES, operator)
    missing = exact - set(found)
    assert not missing, f"{len(missing)} rows with the placeholder not returned"
    assert set(found[:len(exact)]) == exact, "the placeholder rows do not come first"
    # A full scan through the index returns every row once.
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM " + table)
        total = cur.fetchone()[0]
    everything = nearest_ids(conn, table, placeholder, total + 10, operator)
    assert len(everything) == len(set(everything)) == total, (len(everything), total)
    print(f"{index}: {len(exact)} placeholder rows of {total} found, verify clean")


def page_count(conn, index):
    """Pages of the index."""
    with conn.cursor() as cur:
        cur.execute("SELECT pg_relation_size(%s) / current_setting('block_size')::int", (index,))
        return cur.fetchone()[0]


with Cluster("hnsw-duplicates").init() as node:
    node.start()
    node.execute("CREATE EXTENSION similarity")
    conn = node.connect()
    conn.autocommit = True

    # Build path: the rows exist before CREATE INDEX.
    node.execute(f"CREATE TABLE built (id int, embedding vector({DIMS}))")
    load(conn, "built", rows)
    node.execute("CREATE INDEX built_l2 ON built USING hnsw (embedding vector_l2_ops)")
    check(conn, "built_l2", "built", "<->", DUPLICATES)
    build_pages = page_count(conn, "built_l2")

    # Insert path: the index exists first; rows arrive in random order.
    node.execute(f"CREATE TABLE inserted (id int, embedding vector({DIMS}))")
    node.execute("CREATE INDEX inserted_cos ON inserted USING hnsw (embedding vector_cosine_ops)")
    order = np.random.default_rng(5).permutation(len(rows))
    for start in range(0, len(order), 500):
        batch = order[start:start + 500]
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO inserted VALUES (%s, %s)",
                            [(int(i) + 1, vector_text(rows[i])) for i in batch])
    check(conn, "inserted_cos", "inserted", "<=>", DUPLICATES)
    insert_pages = page_count(conn, "inserted_cos")
    print(f"index pages: build {build_pages}, insert {insert_pages}")
    # One element per distinct vector: 2,000 elements and a few heap TID
    # pages, not 3,000 extra elements.
    assert insert_pages < build_pages * 2, (insert_pages, build_pages)

    for table, index, operator in (("built", "built_l2", "<->"),
                                   ("inserted", "inserted_cos", "<=>")):
        # Half of the placeholder rows and a tenth of the others go.
        node.execute(f"DELETE FROM {table} WHERE (id <= {DUPLICATES} AND id % 2 = 0) "
                     f"OR (id > {DUPLICATES} AND id % 10 = 0)")
        node.execute(f"VACUUM {table}")
        check(conn, index, table, operator, DUPLICATES // 2)

        # All of them go: the element dies; new copies come back in its place.
        node.execute(f"DELETE FROM {table} WHERE id <= {DUPLICATES}")
        node.execute(f"VACUUM {table}")
        check(conn, index, table, operator, 0)
        with conn.cursor() as cur:
            cur.executemany(f"INSERT INTO {table} VALUES (%s, %s)",
                            [(i + 1, vector_text(placeholder)) for i in range(0, DUPLICATES, 3)])
        check(conn, index, table, operator, len(range(0, DUPLICATES, 3)))

    # Inner product over vectors whose lengths differ a hundredfold.
    lengths = np.random.default_rng(7).uniform(0.1, 10.0, size=(OTHERS, 1)).astype(np.float32)
    varied = clustered_unit_vectors(OTHERS, DIMS, seed=12) * lengths
    for table, build_first in (("ip_built", False), ("ip_inserted", True)):
        node.execute(f"CREATE TABLE {table} (id int, embedding vector({DIMS}))")
        if build_first:
            node.execute(f"CREATE INDEX {table}_ip ON {table} USING hnsw (embedding vector_ip_ops)")
        load(conn, table, varied)
        if build_first:
            # Inserts may cut some off; a VACUUM (autovacuum also runs one
            # on insert-only tables) links them back in.
            node.execute(f"VACUUM {table}")
        else:
            node.execute(f"CREATE INDEX {table}_ip ON {table} USING hnsw (embedding vector_ip_ops)")
        conn.notices.clear()
        assert verify(conn, f"{table}_ip")
        assert not [n for n in conn.notices if "not reachable" in n], conn.notices
        found = nearest_ids(conn, table, varied[0], OTHERS + 10, "<#>")
        assert sorted(found) == list(range(1, OTHERS + 1)), len(set(found))
        print(f"{table}_ip: all {OTHERS} rows of varied length reachable")

    # Under inner product a vector's distance to itself is not 0; copies
    # still share one element and are all returned.
    pages_before = page_count(conn, "ip_inserted_ip")
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO ip_inserted VALUES (%s, %s)",
                        [(OTHERS + 1 + i, vector_text(varied[1])) for i in range(500)])
        cur.execute("SELECT array_agg(id) FROM ip_inserted WHERE embedding = %s",
                    (vector_text(varied[1]),))
        copies = set(cur.fetchone()[0])
    assert len(copies) == 501, len(copies)
    found = nearest_ids(conn, "ip_inserted", varied[1], OTHERS + 600, "<#>")
    assert copies <= set(found), len(copies - set(found))
    assert page_count(conn, "ip_inserted_ip") <= pages_before + 1, pages_before
    conn.close()
