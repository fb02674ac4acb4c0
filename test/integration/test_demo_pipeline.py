"""The demo's pipeline (scripts/demo-*.sql, scripts/load-photos) on a small photo set.

With sample data: 5 grocery categories x 8 photos and the pretrained
MobileNetV2, whose precision@1 is checked.  Without it: synthetic photos and
a tiny random model, which only show that every step runs."""

import os
import subprocess

from pgcluster import BINDIR, data_dir
from reembed_support import (SRC_DIR, PYTHON, export_tiny_model, jpeg_bytes, model_cluster,
                             temporary_dir, temporary_model_dir)

CATEGORIES = ["grocery-banana", "grocery-kiwi", "grocery-milk", "grocery-tomato", "grocery-juice"]
PER_CATEGORY = 8
K = 3
QUERIES = 4


def sample_photos():
    """Return (images dir, model name, model dir) using the sample data."""
    data = data_dir()
    images = temporary_dir("sim-photos-")
    for category in CATEGORIES:
        os.symlink(os.path.join(data, "products", category), os.path.join(images, category))
    model_dir = temporary_model_dir()
    torchscript = os.path.join(model_dir, "mobilenet_v2.pt")
    os.symlink(os.path.join(data, "models", "mobilenet_v2_imagenet.pt"), torchscript)
    subprocess.run([PYTHON, os.path.join(SRC_DIR, "models", "register_model.py"),
                    "--name", "mobilenet_v2", "--torchscript", torchscript,
                    "--input-size", "224", "--resize", "whole", "--no-normalize",
                    "--output-dim", "1280", "--weights", "ImageNet-1k MobileNetV2",
                    "--output-dir", model_dir], check=True, stdout=subprocess.DEVNULL)
    return images, "mobilenet_v2", model_dir


def synthetic_photos():
    """Return (images dir, model name, model dir) with generated photos."""
    images = temporary_dir("sim-photos-")
    for number, category in enumerate(CATEGORIES):
        os.makedirs(os.path.join(images, category))
        for index in range(PER_CATEGORY):
            with open(os.path.join(images, category, f"photo_{index}.jpg"), "wb") as photo:
                photo.write(jpeg_bytes(number * 40 + index))
    model_dir = temporary_model_dir()
    return images, export_tiny_model(model_dir), model_dir


def check_walkthrough():
    """Assert that docs/demo.md quotes every SQL line the demo runs."""
    doc_path = os.path.join(SRC_DIR, "docs", "demo.md")
    with open(doc_path) as doc:
        doc_lines = {line.rstrip() for line in doc}
    for name in ("demo-table.sql", "demo-pipeline.sql"):
        with open(os.path.join(SRC_DIR, "scripts", name)) as script:
            for number, line in enumerate(script, 1):
                line = line.rstrip()
                if not line or line.startswith("\\echo"):
                    continue
                assert line in doc_lines, f"docs/demo.md lacks line {number} of {name}: {line}"


check_walkthrough()

pretrained = data_dir() is not None and os.path.isdir(os.path.join(data_dir(), "products"))
images, model, model_dir = sample_photos() if pretrained else synthetic_photos()
output = temporary_dir("sim-demo-out-")
matches = os.path.join(output, "matches.tsv")

with model_cluster("demo", model_dir) as node:
    dsn = node.dsn()
    psql = [os.path.join(BINDIR, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn]
    subprocess.run(psql + ["-f", os.path.join(SRC_DIR, "scripts", "demo-table.sql")], check=True)
    subprocess.run([PYTHON, os.path.join(SRC_DIR, "scripts", "load-photos"), "--dsn", dsn,
                    "--images", images, "--per-category", str(PER_CATEGORY)], check=True)
    result = subprocess.run(psql + ["-v", f"model={model}", "-v", "batch_size=16",
                                    "-v", "pca_dims=0", "-v", f"k={K}",
                                    "-v", f"queries={QUERIES}", "-v", f"matches_file={matches}",
                                    "-f", os.path.join(SRC_DIR, "scripts", "demo-pipeline.sql")],
                            capture_output=True, text=True)
    print(result.stdout)
    print(result.stderr)
    assert result.returncode == 0, result.returncode
    assert "rows embedded" in result.stderr, "no embedding progress was printed"

    photos = len(CATEGORIES) * PER_CATEGORY
    loaded = node.execute("SELECT count(*), count(features), count(embedding) "
                          "FROM similarity_demo.products")
    assert loaded == [(photos, photos, photos)], loaded
    dims = node.execute("SELECT DISTINCT vector_dims(embedding) FROM similarity_demo.products")
    assert dims == [(min(photos // 2, 1280 if pretrained else 8),)], dims

    with open(matches) as tsv:
        lines = [line.rstrip("\n").split("\t") for line in tsv if line.strip()]
    assert len(lines) == QUERIES * K, lines
    assert all(len(fields) == 7 for fields in lines), lines

    have_hnsw = node.execute("SELECT count(*) FROM pg_am WHERE amname = 'hnsw'")[0][0] == 1
    if have_hnsw:
        assert "Index Scan using products_embedding_idx" in result.stdout, \
            "the example query does not use the hnsw index"

    precision = node.execute("SELECT search, photos, k, precision_at_1, precision_at_k "
                             "FROM similarity_demo.precision ORDER BY search")
    searches = [row[0] for row in precision]
    assert searches == (["exact scan", "hnsw index"] if have_hnsw else ["exact scan"]), searches
    for search, measured, k, precision_at_1, precision_at_k in precision:
        print(f"model {model}, {search}: precision@1 {precision_at_1}, "
              f"precision@{K} {precision_at_k}")
        assert measured == photos, (search, measured)
        assert k == K, (search, k)
        if pretrained:
            assert precision_at_1 >= 0.75, (search, precision_at_1)

    sheet_tool = os.path.join(SRC_DIR, "similarity-contact-sheet")
    if os.path.exists(sheet_tool):
        sheet = os.path.join(output, "contact-sheet.png")
        subprocess.run([sheet_tool, "--input", matches, "--output", sheet, "--title", model],
                       check=True)
        with open(sheet, "rb") as png:
            assert png.read(8) == b"\x89PNG\r\n\x1a\n", "the contact sheet is not a PNG"
    else:
        print(f"NOTE: {sheet_tool} is missing, so the contact sheet was not drawn")
