"""A pretrained MobileNetV2, registered through a manifest, classifies the test photos.

image_embed with a manifest whose method is "classify" returns the 1001
class probabilities; their argmax must be the expected top-1 class of each
photo in models/testimages/expected_top1.csv of the sample data.  The
1280-d features of the same model (method forward) must agree with the
model run in Python on the same preprocessed input.
"""

import csv
import os
import shutil
import subprocess
import tempfile

import numpy as np
import torch

from embed_support import PYTHON, SRC_DIR, cosine, parse_vector, setup_extension
from pgcluster import Cluster, data_dir, skip

DATA = data_dir()
if DATA is None:
    skip("SIM_DATA_DIR is not set or missing: no pretrained MobileNetV2 to test with")
MODEL = os.path.join(DATA, "models", "mobilenet_v2_imagenet.pt")
IMAGES = os.path.join(DATA, "models", "testimages")
if not os.path.isfile(MODEL) or not os.path.isdir(IMAGES):
    skip(f"{MODEL} or {IMAGES} is missing")

model_dir = tempfile.mkdtemp(prefix="sim-embed-mobilenet-")
os.chmod(model_dir, 0o755)
register = os.path.join(SRC_DIR, "models", "register_model.py")
common = ["--torchscript", MODEL, "--input-size", "224", "--resize", "whole", "--no-normalize",
          "--weights", "ImageNet-1k MobileNetV2 1.0/224", "--output-dir", model_dir]
subprocess.run([PYTHON, register, "--name", "mobilenet_v2", "--output-dim", "1280", *common],
               check=True)
subprocess.run([PYTHON, register, "--name", "mobilenet_v2_classify", "--method", "classify",
                "--output-dim", "1001", *common], check=True)

expected = {}
with open(os.path.join(IMAGES, "expected_top1.csv")) as f:
    for row in csv.DictReader(f):
        expected.setdefault(row["image"], int(row["top1_index"]))
assert expected, "expected_top1.csv has no rows"


def reference_features(data):
    """PIL whole-image bilinear resize to 224, [0,1] RGB, model forward in Python."""
    import io
    from PIL import Image
    from torchvision import transforms

    image = Image.open(io.BytesIO(data)).convert("RGB")
    x = transforms.Compose([transforms.Resize((224, 224)), transforms.ToTensor()])(image)
    with torch.no_grad():
        return reference_model(x.unsqueeze(0))[0].numpy()


reference_model = torch.jit.load(MODEL).eval()

with Cluster("embed-mobilenet").init() as node:
    node.start()
    setup_extension(node, model_dir)
    conn = node.connect()
    cur = conn.cursor()
    cur.execute("SELECT array_agg(m ORDER BY m) FROM similarity_models() m")
    assert cur.fetchone()[0] == ["mobilenet_v2", "mobilenet_v2_classify"]

    agree = 0
    for name, top1 in sorted(expected.items()):
        with open(os.path.join(IMAGES, name), "rb") as f:
            data = f.read()
        cur.execute("SELECT image_embed(%s, 'mobilenet_v2_classify')::text", (data,))
        probabilities = parse_vector(cur.fetchone()[0])
        assert probabilities.shape == (1001,)
        got = int(np.argmax(probabilities))
        print(f"{name}: top-1 {got}, expected {top1}, p={probabilities[got]:.3f}")
        agree += got == top1

        cur.execute("SELECT image_embed(%s, 'mobilenet_v2')::text", (data,))
        features = parse_vector(cur.fetchone()[0])
        similarity = cosine(features, reference_features(data))
        print(f"{name}: features cosine {similarity:.6f}")
        assert similarity >= 0.995, (name, similarity)
    assert agree == len(expected), f"{agree} of {len(expected)} photos got the expected class"
    conn.close()

shutil.rmtree(model_dir, ignore_errors=True)
print("ok")
