"""VGG16 through vgg_embed matches the torchvision reference.

Exports one seeded-random VGG16 (about 10 s, 528 MB in a temporary folder)
and checks, on real photos:
- the model alone on the same input tensor: cosine >= 0.9999 in fp32 and
  >= 0.995 in bf16 (the core driver similarity-embed --input-raw), with
  the Winograd convolutions (conv algorithm auto) and without (direct);
- the whole pipeline from the same JPEG and PNG bytes: vgg_embed against
  PIL + torchvision transforms + the model in Python, cosine >= 0.995 fp32;
- the array form equals the single form, and similarity_model_info's
  version changes when the manifest changes, and similarity.conv_algorithm
  switches the backend's convolutions.
"""

import atexit
import io
import json
import os
import shutil
import subprocess
import tempfile

import numpy as np
import torch

from embed_support import (SRC_DIR, cosine, export_vgg16, parse_vector, photo_paths,
                           setup_extension, torchvision_input)
from pgcluster import Cluster, data_dir, skip

DATA = data_dir()
if DATA is None:
    skip("SIM_DATA_DIR is not set or missing: the VGG16 checks need real photos")

PHOTO_COUNT = 6
model_dir = tempfile.mkdtemp(prefix="sim-embed-vgg-")
atexit.register(shutil.rmtree, model_dir, True)
os.chmod(model_dir, 0o755)
export_vgg16(model_dir)
model_path = os.path.join(model_dir, "vgg16.pt")

# The same photos as JPEG (as stored) and as PNG (re-encoded losslessly).
photos = []
for path in photo_paths(DATA, PHOTO_COUNT // 2):
    with open(path, "rb") as f:
        jpeg = f.read()
    from PIL import Image
    buffer = io.BytesIO()
    Image.open(io.BytesIO(jpeg)).convert("RGB").save(buffer, format="PNG")
    photos += [(path, jpeg), (path + " as PNG", buffer.getvalue())]

reference_model = torch.jit.load(model_path).eval()
inputs = torch.stack([torchvision_input(data) for _, data in photos])
with torch.no_grad():
    reference = reference_model(inputs).numpy()

# ---- the model alone on the same tensor -----------------------------------
tensor_file = os.path.join(model_dir, "inputs.bin")
inputs.numpy().astype(np.float32).tofile(tensor_file)
driver = os.path.join(SRC_DIR, "similarity-embed")
if not os.path.exists(driver):
    driver = os.path.join(os.environ.get("SIM_BUILD_DIR", "build"), "similarity-embed")
for precision, threshold in (("fp32", 0.9999), ("bf16", 0.995)):
    for algorithm in ("auto", "direct"):
        output = subprocess.run([driver, "--model-dir", model_dir, "--precision", precision,
                                 "--conv-algorithm", algorithm, "--input-raw", tensor_file,
                                 "--output", "raw"],
                                check=True, capture_output=True).stdout
        ours = np.frombuffer(output, dtype=np.float32).reshape(len(photos), -1)
        for (name, _), row, ref in zip(photos, ours, reference):
            similarity = cosine(row, ref)
            print(f"model alone {precision} {algorithm}: {similarity:.8f} {name}")
            assert similarity >= threshold, (precision, algorithm, name, similarity)

# ---- the whole pipeline through SQL ---------------------------------------
with Cluster("embed-vgg").init() as node:
    node.start()
    setup_extension(node, model_dir)
    conn = node.connect()
    cur = conn.cursor()

    singles = []
    for (name, data), ref in zip(photos, reference):
        cur.execute("SELECT vgg_embed(%s)::text", (data,))
        row = parse_vector(cur.fetchone()[0])
        assert row.shape == (4096,), row.shape
        similarity = cosine(row, ref)
        print(f"pipeline fp32: {similarity:.8f} {name}")
        assert similarity >= 0.995, (name, similarity)
        singles.append(row)

    cur.execute("SET similarity.batch_size = 4")
    cur.execute("SELECT unnest(vgg_embed(%s::bytea[]))::text", ([d for _, d in photos],))
    batched = [parse_vector(r[0]) for r in cur.fetchall()]
    assert len(batched) == len(photos)
    for single, row in zip(singles, batched):
        assert cosine(single, row) >= 0.99999, cosine(single, row)

    cur.execute("SET similarity.precision = bf16")
    cur.execute("SELECT vgg_embed(%s)::text", (photos[0][1],))
    bf16_row = parse_vector(cur.fetchone()[0])
    print(f"pipeline bf16: {cosine(bf16_row, reference[0]):.6f}")
    assert cosine(bf16_row, reference[0]) >= 0.99, cosine(bf16_row, reference[0])
    cur.execute("RESET similarity.precision")

    cur.execute("SET similarity.conv_algorithm = direct")
    cur.execute("SELECT vgg_embed(%s)::text", (photos[0][1],))
    direct_row = parse_vector(cur.fetchone()[0])
    print(f"pipeline fp32 direct: {cosine(direct_row, reference[0]):.6f}")
    assert cosine(direct_row, reference[0]) >= 0.995, cosine(direct_row, reference[0])
    cur.execute("RESET similarity.conv_algorithm")

    cur.execute("SELECT similarity_model_info('vgg16')")
    info = cur.fetchone()[0]
    print("model info:", json.dumps(info))
    for key in ("name", "file", "weights", "output_dim", "device", "version"):
        assert key in info, key
    assert info["output_dim"] == 4096
    assert "NOT pretrained" in info["weights"], info["weights"]
    cur.execute("SELECT array_agg(m) FROM similarity_models() m")
    assert cur.fetchone()[0] == ["vgg16"]

    # Editing the manifest changes the version.
    manifest_file = os.path.join(model_dir, "vgg16.json")
    with open(manifest_file) as f:
        manifest = json.load(f)
    manifest["weights"] += " (edited)"
    with open(manifest_file, "w") as f:
        json.dump(manifest, f)
    cur.execute("SELECT similarity_model_info('vgg16')->>'version'")
    assert cur.fetchone()[0] != info["version"]
    conn.close()

    log = node.log()
    assert 'similarity: loaded model "vgg16"' in log, log[-2000:]
    assert "direct convolutions" in log, log[-2000:]
print("ok")
