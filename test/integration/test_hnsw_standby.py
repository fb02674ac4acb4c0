"""A streaming standby returns the same hnsw query results as the primary."""

import os
import subprocess
import time

from pgcluster import Cluster
from hnsw_support import clustered_unit_vectors, load, nearest_ids, verify

DIMS = 48
vectors = clustered_unit_vectors(6100, DIMS, seed=4)
queries = vectors[-20:]

with Cluster("hnsw-primary", settings={"wal_level": "replica", "max_wal_senders": "4"}).init() as primary:
    primary.start()
    primary.execute("CREATE EXTENSION similarity")
    primary.execute(f"CREATE TABLE items (id int, embedding vector({DIMS}))")
    conn = primary.connect()
    load(conn, "items", vectors[:4000])
    conn.close()
    primary.execute("CREATE INDEX items_cos ON items USING hnsw (embedding vector_cosine_ops)")

    with Cluster("hnsw-standby", port=None) as standby:
        subprocess.run([standby.bin("pg_basebackup"), "-D", standby.datadir, "-R", "-X", "stream", "-c", "fast",
                        "-d", primary.dsn()], check=True)
        # write_settings replaces postgresql.auto.conf, where -R put
        # primary_conninfo, so keep those lines.
        auto_conf = os.path.join(standby.datadir, "postgresql.auto.conf")
        with open(auto_conf) as conf:
            replication = "".join(line for line in conf if line.startswith("primary_conninfo"))
        standby.write_settings({"hot_standby": "on"})
        with open(auto_conf, "a") as conf:
            conf.write(replication)
        standby.start()

        # Changes after the base backup arrive through WAL: built index,
        # on-disk inserts, a delete and VACUUM's repairs.
        primary.execute("CREATE INDEX items_l2 ON items USING hnsw (embedding vector_l2_ops)")
        conn = primary.connect()
        load(conn, "items", vectors[4000:6000], first_id=4001)
        conn.close()
        primary.execute("DELETE FROM items WHERE id % 4 = 0")
        primary.execute("VACUUM items")

        lsn = primary.execute("SELECT pg_current_wal_lsn()")[0][0]
        deadline = time.time() + 60
        while time.time() < deadline:
            replayed = standby.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,))[0][0]
            if replayed:
                break
            time.sleep(0.1)
        assert replayed, "the standby did not catch up"

        pconn, sconn = primary.connect(), standby.connect()
        assert verify(sconn, "items_cos")
        assert verify(sconn, "items_l2")
        for operator in ("<=>", "<->"):
            for query in queries:
                on_primary = nearest_ids(pconn, "items", query, 10, operator)
                on_standby = nearest_ids(sconn, "items", query, 10, operator)
                assert on_primary == on_standby, (operator, on_primary, on_standby)
                assert len(on_primary) == 10
        print("standby results equal the primary's for", 2 * len(queries), "queries")
        pconn.close()
        sconn.close()
