"""Helpers shared by the image embedding integration tests."""

import io
import os
import subprocess
import sys

import numpy as np

SRC_DIR = os.environ.get("SIM_SRC_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
PYTHON = "/usr/bin/python3"


def run_script(*args):
    subprocess.run([PYTHON, *args], check=True, stdout=subprocess.DEVNULL)


def export_vgg16(model_dir):
    """Export a seeded-random VGG16 (about 10 s and 528 MB) into model_dir."""
    run_script(os.path.join(SRC_DIR, "models", "export_vgg16.py"), "--output-dir", model_dir)


def write_tiny_model(model_dir, name="tiny", output_dim=8):
    """Save a small convolutional TorchScript model and register it.

    It embeds quickly, so tests of errors and memory need no sample data and
    no large export.
    """
    import torch
    from torch import nn

    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, output_dim, kernel_size=8, stride=8), nn.ReLU(),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten()).eval()
    path = os.path.join(model_dir, f"{name}.pt")
    torch.jit.script(net).save(path)
    run_script(os.path.join(SRC_DIR, "models", "register_model.py"), "--name", name,
               "--torchscript", path, "--input-size", "64", "--resize", "shorter_side_crop",
               "--resize-size", "72", "--output-dim", str(output_dim),
               "--weights", "random initialisation, seed 0 - test model", "--output-dir", model_dir)
    return name


def encode(array_rgb, ext, **params):
    """Encode an RGB uint8 array with PIL and return the bytes."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array_rgb).save(buffer, format=ext, **params)
    return buffer.getvalue()


def torchvision_input(image_bytes, resize=256, crop=224, normalize=True):
    """torchvision's reference preprocessing of image bytes, as a [3,H,W] tensor."""
    from PIL import Image
    from torchvision import transforms

    steps = [transforms.Resize(resize), transforms.CenterCrop(crop), transforms.ToTensor()]
    if normalize:
        steps.append(transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]))
    image = Image.open(io.BytesIO(image_bytes)).convert("RGB")
    return transforms.Compose(steps)(image)


def cosine(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def parse_vector(text):
    return np.array([float(v) for v in text.strip("[]").split(",")], dtype=np.float32)


def setup_extension(node, model_dir):
    """Create the extension and point similarity.model_dir at model_dir for new sessions."""
    conn = node.connect()
    with conn.cursor() as cur:
        cur.execute("CREATE EXTENSION similarity")
        # ALTER SYSTEM only accepts settings of a loaded module.
        cur.execute("LOAD 'similarity_embed'")
        cur.execute(f"ALTER SYSTEM SET similarity.model_dir = '{model_dir}'")
        cur.execute("SELECT pg_reload_conf()")
    conn.close()


def photo_paths(data_dir, count):
    """Return count product photo paths, spread over categories, in a fixed order."""
    root = os.path.join(data_dir, "products")
    paths = []
    for category in sorted(os.listdir(root)):
        folder = os.path.join(root, category)
        if os.path.isdir(folder):
            files = sorted(f for f in os.listdir(folder) if f.lower().endswith((".jpg", ".png")))
            if files:
                paths.append(os.path.join(folder, files[0]))
    return paths[:count]


def log(message):
    print(message, flush=True)
    sys.stdout.flush()
