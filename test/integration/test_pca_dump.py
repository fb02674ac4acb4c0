"""pg_dump/pg_restore and COPY keep a pca model bit for bit.

A model large enough to be stored out of line (TOAST) goes through
pg_dump -Fc and pg_restore into a new database, and through COPY in text
and binary format via the client; pca_send output, which contains every
stored bit, must be identical each time.
"""

import io
import os
import subprocess

import numpy as np

from pgcluster import Cluster


def model_bytes(cur, table):
    cur.execute(f"SELECT id, pca_send(model) FROM {table} ORDER BY id")
    return [(i, bytes(b)) for i, b in cur.fetchall()]


def main():
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((300, 512)) * np.linspace(0.1, 3, 512)).astype(np.float32)

    with Cluster("pca-dump").init() as node:
        node.start()
        node.execute("CREATE DATABASE restored")
        conn = node.connect()
        cur = conn.cursor()
        cur.execute("CREATE EXTENSION similarity")
        cur.execute("CREATE TABLE rows (v vector(512))")
        data = io.StringIO("".join(f"[{','.join(repr(float(v)) for v in row)}]\n" for row in x))
        cur.copy_expert("COPY rows FROM STDIN", data)
        cur.execute("CREATE TABLE models (id int PRIMARY KEY, model pca)")
        cur.execute("INSERT INTO models SELECT 1, pca_fit(v, 64) FROM rows")
        cur.execute("INSERT INTO models SELECT 2, pca_fit(v, 3) FROM rows")
        cur.execute("SELECT pg_column_size(model), octet_length(pca_send(model)) "
                    "FROM models WHERE id = 1")
        stored, sent = cur.fetchone()
        print(f"model 1: {stored} bytes stored, {sent} bytes in binary form")
        original = model_bytes(cur, "models")

        # pg_dump and pg_restore
        dump = os.path.join(node.base, "models.dump")
        subprocess.run([node.bin("pg_dump"), "-Fc", "-f", dump, "-d", node.dsn()], check=True)
        subprocess.run([node.bin("pg_restore"), "-d", node.dsn("restored"), dump], check=True)
        restored = node.connect("restored")
        assert model_bytes(restored.cursor(), "models") == original, "pg_dump/pg_restore"
        restored.close()

        # COPY through the client, text and binary
        for options in ("", "WITH (FORMAT binary)"):
            buffer = io.BytesIO()
            cur.copy_expert(f"COPY models TO STDOUT {options}", buffer)
            buffer.seek(0)
            cur.execute("CREATE TEMP TABLE copied (LIKE models)")
            cur.copy_expert(f"COPY copied FROM STDIN {options}", buffer)
            assert model_bytes(cur, "copied") == original, f"COPY {options or 'text'}"
            cur.execute("DROP TABLE copied")

        # The text form itself reads back to the same text.
        cur.execute("SELECT bool_and(model::text::pca::text = model::text) FROM models")
        assert cur.fetchone()[0]
        print("pg_dump/pg_restore, COPY text and COPY binary keep the models bit for bit")
        conn.close()


if __name__ == "__main__":
    main()
