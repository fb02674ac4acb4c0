#!/usr/bin/python3
"""Write a manifest (<name>.json) for an existing TorchScript image model.

The manifest describes how image_embed preprocesses images for the model and
what it returns.  By default the script loads the model and runs it on one
zero image to check that the method exists and returns output_dim values per
image; --no-check skips that.

Example, for a model that takes RGB values in [0,1], resizes the whole image
to 224x224 and normalises its input itself:

  /usr/bin/python3 models/register_model.py --name mobilenet_v2 \\
      --torchscript /path/mobilenet_v2_imagenet.pt --input-size 224 \\
      --resize whole --no-normalize --output-dim 1280 \\
      --weights "ImageNet-1k" --output-dir DIR
"""

import argparse
import json
import os
import re
import shutil
import sys

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


def parse_triple(text):
    values = [float(v) for v in text.split(",")]
    if len(values) != 3:
        raise argparse.ArgumentTypeError(f"expected 3 comma-separated numbers, got {text!r}")
    return values


def check_model(path, method, input_size, output_dim):
    """Run the model on one zero image; exit with a message when it does not fit."""
    import torch

    module = torch.jit.load(path, map_location="cpu").eval()
    if not hasattr(module, method):
        sys.exit(f"register_model: {path} has no method {method!r}")
    with torch.no_grad():
        output = getattr(module, method)(torch.zeros(1, 3, input_size, input_size))
    if not isinstance(output, torch.Tensor) or output.numel() != output_dim:
        shape = list(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
        sys.exit(f"register_model: {path} method {method!r} returned {shape} for one image, "
                 f"expected {output_dim} values; fix --output-dim or --method")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", required=True, help="model name, used as image_embed's model")
    parser.add_argument("--torchscript", required=True, help="TorchScript file of the model")
    parser.add_argument("--output-dir", required=True, help="model directory to write into")
    parser.add_argument("--output-dim", type=int, required=True,
                        help="values the model returns per image")
    parser.add_argument("--input-size", type=int, default=224,
                        help="side of the square input in pixels (default 224)")
    parser.add_argument("--resize", choices=["shorter_side_crop", "whole"],
                        default="shorter_side_crop",
                        help="shorter side to --resize-size then centre crop, or whole image "
                             "to the input size (default shorter_side_crop)")
    parser.add_argument("--resize-size", type=int,
                        help="shorter side before the crop (default input size * 8/7, 256 for 224)")
    parser.add_argument("--mean", type=parse_triple, default=IMAGENET_MEAN,
                        help="per-channel mean, e.g. 0.485,0.456,0.406 (the default)")
    parser.add_argument("--std", type=parse_triple, default=IMAGENET_STD,
                        help="per-channel standard deviation (default ImageNet's)")
    parser.add_argument("--no-normalize", action="store_true",
                        help="pass values in [0,1]: the model normalises its input itself")
    parser.add_argument("--color-order", choices=["RGB", "BGR"], default="RGB")
    parser.add_argument("--method", default="forward", help="method to run (default forward)")
    parser.add_argument("--weights", default="unspecified", help="description of the weights")
    parser.add_argument("--copy", action="store_true",
                        help="copy the TorchScript file into the output directory "
                             "instead of naming it by absolute path")
    parser.add_argument("--no-check", action="store_true",
                        help="do not load the model to check the method and output size")
    args = parser.parse_args()

    if not re.fullmatch(r"[A-Za-z0-9_\-][A-Za-z0-9_.\-]{0,62}", args.name):
        sys.exit(f"register_model: invalid name {args.name!r}: use 1 to 63 letters, digits, "
                 "'_', '-' or '.', not starting with '.'")
    source = os.path.abspath(args.torchscript)
    if not os.path.isfile(source):
        sys.exit(f"register_model: TorchScript file {source} not found")
    if not args.no_check:
        check_model(source, args.method, args.input_size, args.output_dim)

    os.makedirs(args.output_dir, exist_ok=True)
    model_file = source
    if args.copy:
        model_file = f"{args.name}.pt"
        shutil.copyfile(source, os.path.join(args.output_dir, model_file))

    manifest = {
        "name": args.name,
        "file": model_file,
        "method": args.method,
        "input_size": args.input_size,
        "resize": args.resize,
    }
    if args.resize == "shorter_side_crop":
        manifest["resize_size"] = args.resize_size or args.input_size * 8 // 7
    manifest["mean"] = None if args.no_normalize else args.mean
    manifest["std"] = None if args.no_normalize else args.std
    manifest["color_order"] = args.color_order
    manifest["output_dim"] = args.output_dim
    manifest["weights"] = args.weights

    path = os.path.join(args.output_dir, f"{args.name}.json")
    with open(path, "w") as out:
        json.dump(manifest, out, indent=2)
        out.write("\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
