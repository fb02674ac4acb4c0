"""The vector type's binary format, as clients send it with binary COPY.

Each row is built by hand in PostgreSQL's binary COPY format: int16 dim,
int16 unused, then dim big-endian float4 values.  Valid rows must read back
with the same floats, and invalid ones must fail with pgvector's
messages and SQLSTATEs, at every vector length the receive function handles.
"""

import io
import struct

import numpy as np
import psycopg2

from pgcluster import Cluster

HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
TRAILER = struct.pack("!h", -1)


def copy_payload(vectors_bytes):
    rows = b""
    for value in vectors_bytes:
        rows += struct.pack("!hi", 1, len(value)) + value
    return HEADER + rows + TRAILER


def vector_bytes(values, unused=0):
    return struct.pack("!hh", len(values), unused) + np.asarray(values, ">f4").tobytes()


def copy_in(cur, table, payload):
    cur.copy_expert(f"COPY {table} (v) FROM STDIN (FORMAT binary)", io.BytesIO(payload))


def expect_error(conn, table, payload, sqlstate, message):
    cur = conn.cursor()
    try:
        copy_in(cur, table, payload)
        raise AssertionError(f"COPY accepted a row that should fail with {message!r}")
    except psycopg2.Error as error:
        print(f"{message}: {error.pgcode} {error.diag.message_primary}")
        assert error.pgcode == sqlstate, (error.pgcode, sqlstate)
        assert message in error.diag.message_primary, error.diag.message_primary


def main():
    rng = np.random.default_rng(5)

    with Cluster("vector-binary").init() as node:
        node.start()
        conn = node.connect()
        cur = conn.cursor()
        cur.execute("CREATE EXTENSION similarity")
        cur.execute("CREATE TABLE items (id serial, v vector)")
        cur.execute("CREATE TABLE items3 (id serial, v vector(3))")

        # Round trip at several lengths: text output equals the sent floats.
        for dims in (1, 3, 17, 1024, 4096, 16000):
            values = rng.standard_normal(dims).astype(np.float32)
            copy_in(cur, "items", copy_payload([vector_bytes(values)]))
            cur.execute("SELECT v::real[] FROM items ORDER BY id DESC LIMIT 1")
            stored = np.asarray(cur.fetchone()[0], np.float32)
            assert np.array_equal(stored, values), f"{dims} dimensions changed on the way in"

            # Binary COPY out returns the same bytes that went in.
            out = io.BytesIO()
            cur.copy_expert("COPY (SELECT v FROM items ORDER BY id DESC LIMIT 1) "
                            "TO STDOUT (FORMAT binary)", out)
            assert vector_bytes(values) in out.getvalue(), f"{dims} dimensions: send differs"
        print("round trip: 1 to 16000 dimensions equal")

        # A bad element anywhere, including the last of a long vector.
        for position in (0, 4095):
            for bad, message in ((np.nan, "NaN not allowed in vector"),
                                 (np.inf, "infinite value not allowed in vector"),
                                 (-np.inf, "infinite value not allowed in vector")):
                values = np.ones(4096, np.float32)
                values[position] = bad
                expect_error(conn, "items", copy_payload([vector_bytes(values)]),
                             "22000", message)

        expect_error(conn, "items", copy_payload([vector_bytes([1, 2], unused=7)]),
                     "22000", "expected unused to be 0, not 7")
        expect_error(conn, "items", copy_payload([struct.pack("!hh", 0, 0)]),
                     "22000", "vector must have at least 1 dimension")
        expect_error(conn, "items", copy_payload([struct.pack("!hh", 16001, 0)]),
                     "54000", "vector cannot have more than 16000 dimensions")
        expect_error(conn, "items3", copy_payload([vector_bytes([1, 2])]),
                     "22000", "expected 3 dimensions, not 2")

        # A length word shorter than the floats it announces.
        truncated = vector_bytes([1.0, 2.0, 3.0])[:-4]
        expect_error(conn, "items", copy_payload([truncated]), "08P01",
                     "insufficient data left in message")

        cur.execute("SELECT count(*) FROM items")
        assert cur.fetchone()[0] == 6, "a failed COPY left rows behind"
        conn.close()


if __name__ == "__main__":
    main()
