#!/usr/bin/python3
"""Images per second of the image core against PyTorch eager torchvision.

Both sides embed the same photos with the same VGG16 weights, from JPEG
bytes to fc2 features, on the CPU:
  ours:  similarity-embed --bench (OpenCV decode, PIL-equivalent resize,
         frozen and optimised TorchScript in LibTorch);
  eager: PIL decode, torchvision transforms and the torchvision VGG16 module
         (nn.Module, torch.no_grad) in this Python process.
Each configuration (precision x batch size) runs for --seconds, the
configurations are interleaved, and the whole round repeats --repeats times;
the table reports medians and the ratio ours / eager.  The "prep" columns are
the share of time spent decoding and preprocessing.

  /usr/bin/python3 bench/embed/bench_embed.py --photos-dir DIR [--model-dir DIR]
"""

import argparse
import io
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import torch
import torchvision
from PIL import Image
from torchvision import transforms

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "models"))
from export_vgg16 import VGG16Fc2  # noqa: E402

PREPROCESS = transforms.Compose([
    transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(),
    transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])


def pick_photos(photos_dir, count):
    paths = []
    for folder, _, files in sorted(os.walk(photos_dir)):
        paths += [os.path.join(folder, f) for f in sorted(files) if f.lower().endswith(".jpg")][:1]
    return paths[:count]


def run_ours(driver, model_dir, photos, precision, batch, seconds, threads):
    command = [driver, "--model-dir", model_dir, "--precision", precision,
               "--batch-size", str(batch), "--bench", str(seconds), *photos]
    if threads:
        command[1:1] = ["--threads", str(threads)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    rate = float(re.search(r"images_per_s=([0-9.]+)", output).group(1))
    prep = float(re.search(r"prep_share=([0-9.]+)", output).group(1))
    return rate, prep


def run_eager(model, photo_bytes, dtype, batch, seconds):
    images = 0
    prep_seconds = 0.0
    start = time.perf_counter()
    with torch.no_grad():
        while time.perf_counter() - start < seconds:
            for first in range(0, len(photo_bytes), batch):
                t0 = time.perf_counter()
                x = torch.stack([PREPROCESS(Image.open(io.BytesIO(b)).convert("RGB"))
                                 for b in photo_bytes[first:first + batch]]).to(dtype)
                prep_seconds += time.perf_counter() - t0
                model(x)
                images += x.shape[0]
    elapsed = time.perf_counter() - start
    return images / elapsed, prep_seconds / elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos-dir", required=True, help="folder tree of JPEG photos")
    parser.add_argument("--model-dir", help="model folder with vgg16 (default: export one)")
    parser.add_argument("--driver", default=os.path.join(ROOT, "build", "similarity-embed"))
    parser.add_argument("--photos", type=int, default=8, help="photos per round (default 8)")
    parser.add_argument("--seconds", type=float, default=6, help="seconds per measurement")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-sizes", default="1,8")
    parser.add_argument("--threads", type=int, default=0,
                        help="intra-op threads for both sides (default LibTorch's)")
    args = parser.parse_args()

    model_dir = args.model_dir
    if model_dir is None:
        model_dir = tempfile.mkdtemp(prefix="bench-embed-")
        subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "models", "export_vgg16.py"),
                        "--output-dir", model_dir], check=True, stdout=subprocess.DEVNULL)
    if args.threads:
        torch.set_num_threads(args.threads)

    photos = pick_photos(args.photos_dir, args.photos)
    photo_bytes = [open(p, "rb").read() for p in photos]
    eager = VGG16Fc2(torchvision.models.vgg16(weights=None)).eval()
    eager.load_state_dict(torch.jit.load(os.path.join(model_dir, "vgg16.pt")).state_dict())

    batches = [int(b) for b in args.batch_sizes.split(",")]
    configs = [(p, b) for p in ("fp32", "bf16") for b in batches]
    results = {(side, p, b): [] for side in ("ours", "eager") for p, b in configs}
    for repeat in range(args.repeats):
        for precision, batch in configs:
            dtype = torch.bfloat16 if precision == "bf16" else torch.float32
            model = eager.to(dtype)
            run_eager(model, photo_bytes[:batch], dtype, batch, 1)  # warm-up
            results[("eager", precision, batch)].append(
                run_eager(model, photo_bytes, dtype, batch, args.seconds))
            results[("ours", precision, batch)].append(
                run_ours(args.driver, model_dir, photos, precision, batch, args.seconds,
                         args.threads))
            print(f"round {repeat + 1}: {precision} batch {batch}: "
                  f"ours {results[('ours', precision, batch)][-1][0]:.2f} img/s, "
                  f"eager {results[('eager', precision, batch)][-1][0]:.2f} img/s",
                  file=sys.stderr, flush=True)

    def median(side, precision, batch, index):
        return statistics.median(r[index] for r in results[(side, precision, batch)])

    print(f"threads: {torch.get_num_threads()}, photos: {len(photos)}, "
          f"{args.seconds:g} s x {args.repeats} rounds, torch {torch.__version__}")
    print()
    print("| precision | batch | ours img/s | eager img/s | ours / eager | "
          "ours / eager fp32 | ours prep | eager prep |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for precision, batch in configs:
        ours = median("ours", precision, batch, 0)
        ref = median("eager", precision, batch, 0)
        ref_fp32 = median("eager", "fp32", batch, 0)
        print(f"| {precision} | {batch} | {ours:.2f} | {ref:.2f} | {ours / ref:.2f}x | "
              f"{ours / ref_fp32:.2f}x | {median('ours', precision, batch, 1):.1%} | "
              f"{median('eager', precision, batch, 1):.1%} |")


if __name__ == "__main__":
    main()
