"""Sharding with postgres_fdw and hash partitioning returns single-node results.

A coordinator has a products table hash-partitioned into two foreign
tables, each on its own local cluster.  The similarity extension is
installed on every node and listed in the foreign servers' `extensions`
option, so postgres_fdw ships `<=>` and the ORDER BY to the shards.  The
top-k result on the coordinator must equal the top-k of one node holding
all rows.
"""

import random
import statistics
import time

from pgcluster import Cluster

DIMS = 32
ROWS = 4000
K = 10
QUERIES = 20


def random_vector(rng):
    return "[" + ",".join(f"{rng.gauss(0, 1):.6f}" for _ in range(DIMS)) + "]"


def top_k(conn, table, query):
    with conn.cursor() as cur:
        cur.execute(f"SELECT id FROM {table} ORDER BY embedding <=> %s::vector, id LIMIT {K}",
                    (query,))
        return [row[0] for row in cur.fetchall()]


def median_latency_ms(conn, table, queries):
    samples = []
    for query in queries:
        start = time.perf_counter()
        top_k(conn, table, query)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


shards = [Cluster(f"shard{i}").init() for i in range(2)]
coordinator = Cluster("coordinator").init()
try:
    for node in shards + [coordinator]:
        node.start()
        node.execute("CREATE EXTENSION similarity")

    for i, shard in enumerate(shards):
        shard.execute(f"CREATE TABLE products_p{i} (id int PRIMARY KEY, category text, "
                      f"embedding vector({DIMS}))")

    coordinator.execute("CREATE EXTENSION postgres_fdw")
    coordinator.execute(f"CREATE TABLE products (id int, category text, embedding vector({DIMS})) "
                        "PARTITION BY HASH (id)")
    # PostgreSQL 15 cannot push the LIMIT through the Merge Append into the
    # shards, so each shard streams rows in distance order.  A fetch_size
    # near k keeps that to one small batch per shard instead of 100 rows each.
    for i, shard in enumerate(shards):
        coordinator.execute(
            f"CREATE SERVER shard{i} FOREIGN DATA WRAPPER postgres_fdw OPTIONS "
            f"(host '127.0.0.1', port '{shard.port}', dbname 'postgres', "
            f"extensions 'similarity', fetch_size '50')")
        coordinator.execute(f"CREATE USER MAPPING FOR postgres SERVER shard{i} "
                            "OPTIONS (user 'postgres')")
        coordinator.execute(
            f"CREATE FOREIGN TABLE products_p{i} PARTITION OF products "
            f"FOR VALUES WITH (MODULUS 2, REMAINDER {i}) SERVER shard{i} "
            f"OPTIONS (table_name 'products_p{i}')")

    # The same rows go through the coordinator (routed to the shards) and
    # into a local single-node table.
    rng = random.Random(7)
    rows = [(i, f"c{i % 10}", random_vector(rng)) for i in range(ROWS)]
    coordinator.execute(f"CREATE TABLE products_single (id int PRIMARY KEY, category text, "
                        f"embedding vector({DIMS}))")
    conn = coordinator.connect()
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO products VALUES (%s, %s, %s)", rows)
        cur.executemany("INSERT INTO products_single VALUES (%s, %s, %s)", rows)
    for shard in shards:
        shard.execute("ANALYZE")
    coordinator.execute("ANALYZE products_single")

    counts = [shard.execute(f"SELECT count(*) FROM products_p{i}")[0][0]
              for i, shard in enumerate(shards)]
    assert sum(counts) == ROWS, f"rows per shard: {counts}"
    assert min(counts) > 0, f"a shard got no rows: {counts}"

    # The distance operator and the ordering must run on the shards.
    query = random_vector(rng)
    with conn.cursor() as cur:
        cur.execute("EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM products "
                    f"ORDER BY embedding <=> %s::vector LIMIT {K}", (query,))
        plan = "\n".join(row[0] for row in cur.fetchall())
    print(plan)
    assert "Remote SQL" in plan, "no foreign scan in the plan"
    assert "ORDER BY (embedding OPERATOR(public.<=>)" in plan, \
        "the cosine ordering was not shipped to the shards"

    queries = [random_vector(rng) for _ in range(QUERIES)]
    for query in queries:
        sharded = top_k(conn, "products", query)
        single = top_k(conn, "products_single", query)
        assert sharded == single, f"sharded {sharded} != single node {single}"

    single_ms = median_latency_ms(conn, "products_single", queries)
    sharded_ms = median_latency_ms(conn, "products", queries)
    print(f"RESULT: top-{K} over {ROWS} x {DIMS}: 1 node {single_ms:.2f} ms, "
          f"2 shards {sharded_ms:.2f} ms (median of {QUERIES})")
    conn.close()
finally:
    for node in shards + [coordinator]:
        node.destroy()
