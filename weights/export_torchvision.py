#!/usr/bin/python3
"""Export a torchvision VGG with a GAP head to safetensors for vggcl.

The model is torchvision's own `vggNN[_bn]` with
    model.avgpool = nn.AdaptiveAvgPool2d(1)
    model.classifier = nn.Sequential(nn.Linear(512, C))
and, for --pool5 drop, the last max pool removed from model.features.

    # your trained weights (a state_dict saved with torch.save)
    export_torchvision.py --arch vgg16 --classes 7 --state-dict model.pt --out vgg16_gap7.safetensors
    # torchvision's own random initialisation (for trying things out)
    export_torchvision.py --arch vgg16 --classes 7 --seed 0 --out vgg16_gap7.safetensors
"""
import argparse
import sys
from pathlib import Path

import torch
import torchvision
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from safetensors_io import save_file  # noqa: E402


def gap_model(arch="vgg16", classes=7, pool5="keep", seed=0):
    """torchvision's vggNN with the GAP head, in eval mode, deterministic init."""
    torch.manual_seed(seed)
    model = getattr(torchvision.models, arch)(weights=None)
    model.avgpool = nn.AdaptiveAvgPool2d(1)
    width = [m for m in model.features if isinstance(m, nn.Conv2d)][-1].out_channels
    model.classifier = nn.Sequential(nn.Linear(width, classes))
    if pool5 == "drop":
        assert isinstance(model.features[-1], nn.MaxPool2d)
        model.features = model.features[:-1]
    return model.eval()


def original_model(arch="vgg16", classes=1000, seed=0):
    """torchvision's vggNN with its original classifier (7x7 adaptive pool, 4096, 4096, classes)."""
    torch.manual_seed(seed)
    return getattr(torchvision.models, arch)(weights=None, num_classes=classes).eval()


def gap_features(model, x):
    """The (N, C_last) GAP features that vggcl writes with --features (for either head)."""
    return torch.flatten(nn.functional.adaptive_avg_pool2d(model.features(x), 1), 1)


def export(model, path, pool5="keep", dtype=None):
    """Writes model.state_dict() with __metadata__ vggcl.pool5 set."""
    save_file(model.state_dict(), path, metadata={"format": "pt", "vggcl.pool5": pool5}, dtype=dtype)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", default="vgg16", help="vgg11, vgg13, vgg16, vgg19 or their _bn versions")
    ap.add_argument("--classes", type=int, default=7)
    ap.add_argument("--original-head", action="store_true",
                    help="keep torchvision's classifier (e.g. its ImageNet weights) instead of the GAP head")
    ap.add_argument("--pool5", choices=["keep", "drop"], default="keep")
    ap.add_argument("--state-dict", help="a torch.save()d state_dict (or whole model) to load")
    ap.add_argument("--seed", type=int, default=0, help="seed for torchvision's initialisation")
    ap.add_argument("--dtype", choices=["F32", "F16", "BF16"], default=None)
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    if a.original_head and a.pool5 == "drop":  # (the file would say drop while torchvision's model keeps it)
        ap.error("--pool5 drop goes with the GAP head: torchvision's classifier reads the 7x7 map after pool5")
    model = original_model(a.arch, a.classes, a.seed) if a.original_head else gap_model(a.arch, a.classes, a.pool5, a.seed)
    if a.state_dict:
        sd = torch.load(a.state_dict, map_location="cpu")
        if isinstance(sd, nn.Module):
            sd = sd.state_dict()
        model.load_state_dict(sd)
    export(model, a.out, a.pool5, a.dtype)
    head = "torchvision's classifier" if a.original_head else f"GAP head, pool5 {a.pool5}"
    print(f"wrote {a.out}: {a.arch}, {head}, {a.classes} classes")


if __name__ == "__main__":
    main()
