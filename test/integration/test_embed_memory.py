"""A backend's memory stays flat over thousands of image_embed calls.

Uses a small generated model so the loop is fast.  Measures the backend's
resident set size (VmRSS) after a warm-up and again after 10,000 more calls
that mix single images, arrays and rejected images.  The growth must stay
under 8 MB, an estimate of allocator noise: leaking one 64x64 input tensor
(48 KB) per call would add about 480 MB.
"""

import atexit
import os
import shutil
import tempfile

import numpy as np
import psycopg2

from embed_support import encode, setup_extension, write_tiny_model
from pgcluster import Cluster

CALLS = 10000
model_dir = tempfile.mkdtemp(prefix="sim-embed-memory-")
atexit.register(shutil.rmtree, model_dir, True)
os.chmod(model_dir, 0o755)
write_tiny_model(model_dir)

rng = np.random.default_rng(1)
jpeg = encode(rng.integers(0, 256, size=(120, 160, 3), dtype=np.uint8), "JPEG", quality=85)
png = encode(rng.integers(0, 256, size=(64, 48, 3), dtype=np.uint8), "PNG")


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS line")


def run_calls(cur, count):
    for i in range(count):
        kind = i % 10
        if kind == 9:
            try:
                cur.execute("SELECT image_embed(%s, 'tiny')", (jpeg[: len(jpeg) // 3],))
                raise AssertionError("truncated JPEG accepted")
            except psycopg2.Error as error:
                assert error.pgcode == "22000", error.pgcode
        elif kind == 8:
            cur.execute("SELECT image_embed(%s::bytea[], 'tiny')", ([jpeg, png, jpeg],))
            assert len(cur.fetchone()[0]) > 0
        else:
            cur.execute("SELECT vector_dims(image_embed(%s, 'tiny'))", (jpeg if i % 2 else png,))
            assert cur.fetchone()[0] == 8


with Cluster("embed-memory").init() as node:
    node.start()
    setup_extension(node, model_dir)
    conn = node.connect()
    cur = conn.cursor()
    cur.execute("SELECT pg_backend_pid()")
    pid = cur.fetchone()[0]

    run_calls(cur, 300)
    before = rss_kb(pid)
    run_calls(cur, CALLS)
    after = rss_kb(pid)
    growth_mb = (after - before) / 1024
    print(f"RESULT: backend RSS {before / 1024:.1f} MB -> {after / 1024:.1f} MB "
          f"after {CALLS} calls (+{growth_mb:.2f} MB)")
    assert growth_mb < 8, growth_mb
    conn.close()

print("ok")
