#!/usr/bin/python3
"""Images per second of the image core against PyTorch eager torchvision.

Both sides embed the same photos with the same VGG16 weights, from JPEG
bytes to fc2 features, on the CPU:
  ours:  similarity-embed --bench (OpenCV decode, PIL-equivalent resize,
         frozen and optimised TorchScript in LibTorch), once per
         convolution algorithm in --conv-algorithms (auto: oneDNN Winograd
         for the 3x3 convolutions; direct: PyTorch's own convolutions);
  eager: PIL decode, torchvision transforms and the torchvision VGG16 module
         (nn.Module, torch.no_grad) in this Python process.
Each configuration (precision x batch size) runs for --seconds, and the
configurations are interleaved.  The whole round repeats --repeats times, and
the table reports medians and the ratio ours / eager.  The "prep" columns are
the share of time spent decoding and preprocessing.  On a shared machine the
wall-clock rates move with the load, so the table also gives images per
CPU-second (user + system time of all threads of the process), which other
processes disturb much less.

  /usr/bin/python3 bench/embed/bench_embed.py --photos-dir DIR [--model-dir DIR]
"""

import argparse
import io
import itertools
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


def run_ours(driver, model_dir, photos, precision, algorithm, batch, seconds, threads):
    command = [driver, "--model-dir", model_dir, "--precision", precision,
               "--conv-algorithm", algorithm, "--batch-size", str(batch),
               "--bench", str(seconds), *photos]
    if threads:
        command[1:1] = ["--threads", str(threads)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    rate = float(re.search(r"images_per_s=([0-9.]+)", output).group(1))
    prep = float(re.search(r"prep_share=([0-9.]+)", output).group(1))
    cpu_rate = float(re.search(r"images_per_cpu_s=([0-9.]+)", output).group(1))
    return rate, prep, cpu_rate


def run_eager(model, photo_bytes, dtype, batch, seconds):
    images = 0
    prep_seconds = 0.0
    start = time.perf_counter()
    cpu_start = time.process_time()
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
    cpu = time.process_time() - cpu_start
    return images / elapsed, prep_seconds / elapsed, images / cpu


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
    parser.add_argument("--conv-algorithms", default="auto,direct",
                        help="convolution algorithms of our side (default auto,direct)")
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
    algorithms = args.conv_algorithms.split(",")
    sides = ["ours " + a for a in algorithms] + ["eager"]
    results = {(side, p, b): [] for side in sides for p, b in configs}
    for repeat in range(args.repeats):
        for precision, batch in configs:
            dtype = torch.bfloat16 if precision == "bf16" else torch.float32
            model = eager.to(dtype)
            run_eager(model, photo_bytes[:batch], dtype, batch, 1)  # warm-up
            results[("eager", precision, batch)].append(
                run_eager(model, photo_bytes, dtype, batch, args.seconds))
            for algorithm in algorithms:
                results[("ours " + algorithm, precision, batch)].append(
                    run_ours(args.driver, model_dir, photos, precision, algorithm, batch,
                             args.seconds, args.threads))
            rates = ", ".join(f"{side} {results[(side, precision, batch)][-1][0]:.2f} img/s"
                              for side in sides)
            print(f"round {repeat + 1}: {precision} batch {batch}: {rates}",
                  file=sys.stderr, flush=True)

    def median(side, precision, batch, index):
        return statistics.median(r[index] for r in results[(side, precision, batch)])

    print(f"threads: {torch.get_num_threads()}, photos: {len(photos)}, "
          f"{args.seconds:g} s x {args.repeats} rounds, torch {torch.__version__}")
    print()
    print("| precision | batch | convolutions | ours img/s | eager img/s | ours / eager | "
          "ours / eager fp32 | ours img/CPU-s | eager img/CPU-s | ours / eager (CPU) | "
          "ours / eager fp32 (CPU) | ours prep | eager prep |")
    print("| --- " * 13 + "|")
    for (precision, batch), algorithm in itertools.product(configs, algorithms):
        side = "ours " + algorithm
        ours = median(side, precision, batch, 0)
        ref = median("eager", precision, batch, 0)
        ref_fp32 = median("eager", "fp32", batch, 0)
        ours_cpu = median(side, precision, batch, 2)
        ref_cpu = median("eager", precision, batch, 2)
        ref_fp32_cpu = median("eager", "fp32", batch, 2)
        print(f"| {precision} | {batch} | {algorithm} | {ours:.2f} | {ref:.2f} | {ours / ref:.2f}x | "
              f"{ours / ref_fp32:.2f}x | {ours_cpu:.2f} | {ref_cpu:.2f} | "
              f"{ours_cpu / ref_cpu:.2f}x | {ours_cpu / ref_fp32_cpu:.2f}x | "
              f"{median(side, precision, batch, 1):.1%} | "
              f"{median('eager', precision, batch, 1):.1%} |")


if __name__ == "__main__":
    main()
