#!/usr/bin/python3
"""Export VGG16 up to fc2's ReLU as TorchScript, with a manifest for image_embed.

The exported network is torchvision's VGG16 (features, adaptive average pool,
flatten, classifier[0..4]) in eval mode.  The two Dropout layers of the
classifier are left out: in eval mode they are the identity, so the output is
the same and the graph is smaller.  The output is the 4096-dimensional fc2
activation after its ReLU.

Weights, in order of preference:
  --weights FILE   a local state_dict of torchvision's VGG16 (for example
                   vgg16-397923af.pth, the IMAGENET1K_V1 file);
  --download       let torchvision download IMAGENET1K_V1 into its cache;
  otherwise        torchvision's cached IMAGENET1K_V1 file when it exists,
                   else a seeded random initialisation (--seed).  Random
                   weights give deterministic features that are useless for
                   similarity search; the script and the manifest say so.

Writes DIR/<name>.pt and DIR/<name>.json.
"""

import argparse
import datetime
import json
import os
import sys

import torch
import torchvision
from torch import nn


class VGG16Fc2(nn.Module):
    """VGG16 truncated after the ReLU that follows fc2."""

    def __init__(self, vgg):
        super().__init__()
        self.features = vgg.features
        self.avgpool = vgg.avgpool
        # classifier = [fc1, ReLU, Dropout, fc2, ReLU, Dropout, fc3]
        self.fc = nn.Sequential(vgg.classifier[0], vgg.classifier[1],
                                vgg.classifier[3], vgg.classifier[4])

    def forward(self, x):
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.fc(x)


def cached_imagenet_file():
    """Return the path of torchvision's cached IMAGENET1K_V1 file, or None."""
    url = torchvision.models.VGG16_Weights.IMAGENET1K_V1.url
    path = os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(url))
    return path if os.path.isfile(path) else None


def build_model(args):
    """Return (model, weights description, pretrained flag)."""
    vgg = torchvision.models.vgg16(weights=None)
    imagenet = "ImageNet-1k (torchvision VGG16_Weights.IMAGENET1K_V1)"
    if args.weights:
        state = torch.load(args.weights, map_location="cpu")
        vgg.load_state_dict(state)
        return vgg, f"{imagenet}, from {os.path.abspath(args.weights)}", True
    if args.download:
        weights = torchvision.models.VGG16_Weights.IMAGENET1K_V1
        vgg.load_state_dict(weights.get_state_dict(progress=True))
        return vgg, imagenet, True
    cached = cached_imagenet_file()
    if cached:
        vgg.load_state_dict(torch.load(cached, map_location="cpu"))
        return vgg, f"{imagenet}, from {cached}", True

    torch.manual_seed(args.seed)
    vgg = torchvision.models.vgg16(weights=None)
    description = f"random initialisation, seed {args.seed} - NOT pretrained"
    return vgg, description, False


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", required=True, help="model directory to write into")
    parser.add_argument("--name", default="vgg16", help="model name (default vgg16)")
    parser.add_argument("--weights", help="local VGG16 state_dict file (.pth)")
    parser.add_argument("--download", action="store_true",
                        help="allow torchvision to download the ImageNet weights")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the random initialisation when no weights are found")
    args = parser.parse_args()

    model, description, pretrained = build_model(args)
    if not pretrained:
        print("WARNING: no ImageNet weights found; exporting VGG16 with a random "
              f"initialisation (seed {args.seed}).", file=sys.stderr)
        print("WARNING: its features are deterministic but useless for similarity "
              "search. Pass --weights FILE or --download for pretrained weights.",
              file=sys.stderr)

    module = torch.jit.script(VGG16Fc2(model).eval())
    os.makedirs(args.output_dir, exist_ok=True)
    model_file = f"{args.name}.pt"
    module.save(os.path.join(args.output_dir, model_file))

    manifest = {
        "name": args.name,
        "file": model_file,
        "method": "forward",
        "input_size": 224,
        "resize": "shorter_side_crop",
        "resize_size": 256,
        "mean": [0.485, 0.456, 0.406],
        "std": [0.229, 0.224, 0.225],
        "color_order": "RGB",
        "output_dim": 4096,
        "weights": description,
        "exported": (f"torchvision {torchvision.__version__}, torch {torch.__version__}, "
                     f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}"),
    }
    manifest_path = os.path.join(args.output_dir, f"{args.name}.json")
    with open(manifest_path, "w") as out:
        json.dump(manifest, out, indent=2)
        out.write("\n")
    print(f"wrote {os.path.join(args.output_dir, model_file)} and {manifest_path}")
    print(f"weights: {description}")


if __name__ == "__main__":
    main()
