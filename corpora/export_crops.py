"""Cut the HR texture-crop pack for GPU training from committed corpus manifests.

    python corpora/export_crops.py OUT_DIR [corpora/debian corpora/general ...] [--per-image 3] [--size 320]

Deterministic: the same manifests, images and options give the same files. Only training images
are cropped (held-out ones never); a picture present in two corpora is cropped once. Prints the
number of crops and the pack's size; see restore/training/crops.py for how crops are chosen.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from restore.training.crops import export_crops, pack_size  # noqa: E402

DEFAULT_CORPORA = [REPO / "corpora" / "debian"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("corpora", type=Path, nargs="*", help="corpus folders (default: corpora/debian)")
    parser.add_argument("--size", type=int, default=320)
    parser.add_argument("--per-image", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-side", type=int, default=1600, help="downscale the long side to this first")
    args = parser.parse_args(argv)
    index = export_crops(args.corpora or DEFAULT_CORPORA, args.out_dir, size=args.size,
                         per_image=args.per_image, seed=args.seed, max_side=args.max_side)
    crops = len(index.read_text(encoding="utf-8").splitlines()) - 1
    print(f"{crops} crops of {args.size}x{args.size} in {args.out_dir}: {pack_size(args.out_dir) / 1e6:.1f} MB "
          f"(index {index})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
