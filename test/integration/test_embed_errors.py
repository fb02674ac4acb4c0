"""Bad images and bad models raise errors with the right SQLSTATE, never a crash."""

import os
import shutil
import tempfile

import numpy as np
import psycopg2

from embed_support import encode, setup_extension, write_tiny_model
from pgcluster import Cluster

model_dir = tempfile.mkdtemp(prefix="sim-embed-models-")
os.chmod(model_dir, 0o755)
write_tiny_model(model_dir)

rng = np.random.default_rng(0)
photo = rng.integers(0, 256, size=(90, 120, 3), dtype=np.uint8)
good_jpeg = encode(photo, "JPEG", quality=90)
good_png = encode(photo, "PNG")

# 20000x20000 PNG: a valid IHDR with nothing after it.
huge_png = (b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\x0dIHDR" + (20000).to_bytes(4, "big") * 2
            + b"\x08\x02\x00\x00\x00" + b"\x00\x00\x00\x00")

CASES = [
    ("empty bytea", b"", "22000", "empty"),
    ("not an image", b"hello, this is text and not a picture", "22000", "unrecognized image format"),
    ("wrong magic", b"GIF89a" + good_png[6:], "22000", "unrecognized image format"),
    ("truncated JPEG", good_jpeg[: len(good_jpeg) // 2], "22000", "truncated JPEG"),
    ("truncated PNG", good_png[: len(good_png) // 2], "22000", "PNG"),
    ("PNG header only", good_png[:33], "22000", "PNG"),
    ("corrupt JPEG body", good_jpeg[:200] + bytes(range(256)) * 8 + good_jpeg[-2:], "22000", "JPEG"),
    ("20000x20000 header", huge_png, "54000", "20000x20000"),
    ("zero-sized PNG", huge_png[:16] + b"\x00" * 8 + huge_png[24:], "22000", "0x0"),
]

with Cluster("embed-errors").init() as node:
    node.start()
    setup_extension(node, model_dir)
    conn = node.connect()
    cur = conn.cursor()

    cur.execute("SELECT vector_dims(image_embed(%s, 'tiny'))", (good_jpeg,))
    assert cur.fetchone()[0] == 8

    for name, data, sqlstate, words in CASES:
        try:
            cur.execute("SELECT image_embed(%s, 'tiny')", (data,))
            raise AssertionError(f"{name}: no error")
        except psycopg2.Error as error:
            message = error.diag.message_primary
            print(f"{name}: {error.pgcode} {message}")
            assert error.pgcode == sqlstate, (name, error.pgcode, message)
            assert words in message or words in (error.diag.message_detail or ""), (name, message)

    # An error inside an array names the element.
    try:
        cur.execute("SELECT image_embed(ARRAY[%s, %s]::bytea[], 'tiny')", (good_png, b"junk"))
        raise AssertionError("array with a bad element: no error")
    except psycopg2.Error as error:
        assert error.pgcode == "22000", error.pgcode
        assert "array element 2" in error.diag.message_primary, error.diag.message_primary

    # The pixel limit is a superuser setting checked before decoding.
    cur.execute("SET similarity.max_image_pixels = 100")
    try:
        cur.execute("SELECT image_embed(%s, 'tiny')", (good_png,))
        raise AssertionError("pixel limit: no error")
    except psycopg2.Error as error:
        assert error.pgcode == "54000", error.pgcode
    cur.execute("RESET similarity.max_image_pixels")

    # Missing and broken models: 58000 naming the path; bad names: 22023.
    model_cases = [
        ("missing manifest", "nosuchmodel", "58000", "nosuchmodel.json"),
        ("invalid name", "../etc/passwd", "22023", "invalid model name"),
    ]
    with open(os.path.join(model_dir, "broken.json"), "w") as out:
        out.write("{ not json")
    model_cases.append(("invalid JSON", "broken", "58000", "broken.json"))
    with open(os.path.join(model_dir, "nofile.json"), "w") as out:
        out.write('{"name": "nofile", "file": "absent.pt", "input_size": 64, "output_dim": 8}')
    model_cases.append(("missing model file", "nofile", "58000", "absent.pt"))
    with open(os.path.join(model_dir, "wrongdim.json"), "w") as out:
        out.write('{"name": "wrongdim", "file": "tiny.pt", "input_size": 64, "output_dim": 9}')
    model_cases.append(("wrong output_dim", "wrongdim", "58000", "expected [1, 9]"))
    with open(os.path.join(model_dir, "notorch.json"), "w") as out:
        out.write('{"name": "notorch", "file": "notorch.json", "input_size": 64, "output_dim": 8}')
    model_cases.append(("not TorchScript", "notorch", "58000", "could not load TorchScript"))

    for name, model, sqlstate, words in model_cases:
        try:
            cur.execute("SELECT image_embed(%s, %s)", (good_png, model))
            raise AssertionError(f"{name}: no error")
        except psycopg2.Error as error:
            message = error.diag.message_primary
            print(f"{name}: {error.pgcode} {message} / {error.diag.message_hint}")
            assert error.pgcode == sqlstate, (name, error.pgcode, message)
            assert words in message, (name, message)

    # Settings reject bad values.
    for statement in ("SET similarity.device = 'tpu'", "SET similarity.precision = 'fp8'",
                      "SET similarity.batch_size = 0"):
        try:
            cur.execute(statement)
            raise AssertionError(f"{statement}: accepted")
        except psycopg2.Error as error:
            assert error.pgcode == "22023", (statement, error.pgcode)

    # A non-superuser cannot move the model directory.
    cur.execute("CREATE ROLE plain LOGIN")
    cur.execute("SET ROLE plain")
    try:
        cur.execute("SET similarity.model_dir = '/tmp'")
        raise AssertionError("non-superuser changed similarity.model_dir")
    except psycopg2.Error as error:
        assert error.pgcode == "42501", error.pgcode
    cur.execute("RESET ROLE")

    # A statement timeout cancels a long array call between batches.
    cur.execute("SET statement_timeout = '300ms'")
    try:
        cur.execute("SELECT image_embed(array_fill(%s::bytea, ARRAY[20000]), 'tiny')", (good_jpeg,))
        raise AssertionError("20000-image array finished within the statement timeout")
    except psycopg2.Error as error:
        assert error.pgcode == "57014", (error.pgcode, error.diag.message_primary)
    cur.execute("RESET statement_timeout")

    # After all that, the same backend still embeds, and the server is up.
    cur.execute("SELECT vector_dims(image_embed(%s, 'tiny'))", (good_jpeg,))
    assert cur.fetchone()[0] == 8
    conn.close()
    assert "server process" not in node.log(), node.log()[-3000:]

shutil.rmtree(model_dir, ignore_errors=True)
print("ok")
