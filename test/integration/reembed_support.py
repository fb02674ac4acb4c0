"""Shared set-up for the re-embedding and demo integration tests.

Provides a tiny TorchScript model registered in a model directory, small
synthetic JPEG photos, and a cluster whose similarity.model_dir points at
that directory.  The tiny model keeps the tests fast and free of sample data.
"""

import atexit
import io
import os
import shutil
import subprocess
import tempfile
import threading

from pgcluster import Cluster

SRC_DIR = os.environ.get("SIM_SRC_DIR", os.getcwd())
PYTHON = "/usr/bin/python3"

def export_tiny_model(model_dir, name="tiny", seed=1):
    """Export an 8-dimensional TorchScript model and register it as `name`.

    A different seed gives different weights, so the registered model's
    version changes."""
    import torch
    from torch import nn

    os.makedirs(model_dir, exist_ok=True)
    torchscript = os.path.join(model_dir, f"{name}.pt")
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Conv2d(3, 8, kernel_size=3, stride=2), nn.ReLU(),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 8)).eval()
    torch.jit.script(net).save(torchscript)
    subprocess.run([PYTHON, os.path.join(SRC_DIR, "models", "register_model.py"),
                    "--name", name, "--torchscript", torchscript, "--input-size", "32",
                    "--resize", "whole", "--no-normalize", "--output-dim", "8",
                    "--weights", f"random test weights, seed {seed}",
                    "--output-dir", model_dir],
                   check=True, stdout=subprocess.DEVNULL)
    return name


def jpeg_bytes(seed, size=48):
    """Return a small JPEG whose colours depend on seed."""
    from PIL import Image, ImageDraw

    red, green, blue = (seed * 67) % 256, (seed * 131) % 256, (seed * 29) % 256
    image = Image.new("RGB", (size, size), (red, green, blue))
    draw = ImageDraw.Draw(image)
    draw.rectangle([size // 4, size // 4, size // 2 + seed % (size // 4), size * 3 // 4],
                   fill=(255 - red, 255 - green, blue))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def model_cluster(name, model_dir, settings=None):
    """Return an initialised, started Cluster that reads models from model_dir."""
    all_settings = {"similarity.model_dir": f"'{model_dir}'"}
    all_settings.update(settings or {})
    cluster = Cluster(name, settings=all_settings).init()
    cluster.start()
    cluster.execute("CREATE EXTENSION similarity")
    return cluster


def create_photo_table(cluster, table="items", rows=40, first_id=1):
    """Create the table if needed and add `rows` synthetic photos, ids from first_id."""
    cluster.execute(f"CREATE TABLE IF NOT EXISTS {table} "
                    f"(id integer PRIMARY KEY, photo bytea, embedding vector)")
    conn = cluster.connect()
    try:
        with conn.cursor() as cur:
            for row_id in range(first_id, first_id + rows):
                cur.execute(f"INSERT INTO {table} (id, photo) VALUES (%s, %s)",
                            (row_id, jpeg_bytes(row_id)))
    finally:
        conn.close()


class BackgroundCall:
    """Run one statement in its own connection on a thread.

    Keeps the backend pid, the notices and the error, if any."""

    def __init__(self, cluster, sql):
        self.conn = cluster.connect()
        with self.conn.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            self.pid = cur.fetchone()[0]
        self.sql = sql
        self.error = None
        self.thread = threading.Thread(target=self._run)

    def _run(self):
        try:
            with self.conn.cursor() as cur:
                cur.execute(self.sql)
        except Exception as error:  # the test inspects it
            self.error = error

    def start(self):
        self.thread.start()
        return self

    def join(self, timeout=300):
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"statement still running after {timeout}s: {self.sql}"
        notices = list(self.conn.notices)
        self.conn.close()
        return notices


def temporary_dir(prefix):
    """Return a new directory that is removed when the test exits."""
    path = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def temporary_model_dir():
    """Return a new directory the server (same user as the test) can read."""
    path = temporary_dir("sim-models-")
    os.chmod(path, 0o755)
    return path
