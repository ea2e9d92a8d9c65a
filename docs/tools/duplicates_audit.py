"""Regenerate the near-duplicate audit of BUSI (docs/duplicates-audit.md): pairs per perceptual-hash
distance with the reviewed verdicts, what each grouping threshold does (groups, largest group,
cross-class groups, links a threshold adds), and the contact sheet of borderline pairs.

    SHARPREG_DATA=/path/to/data python docs/tools/duplicates_audit.py [--sheet docs/duplicates-audit.png]

The verdicts (same scan or lesion / uncertain / different patients) come from looking at every pair
at 6-14 bits, 8 pairs drawn at random at 4 bits and 16 at 16 bits; they live in docs/duplicates-audit-verdicts.csv.
The script prints Markdown tables; it never copies images except as the sheet's small thumbnails.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from sharpreg.data.duplicates import ProbeCache, duplicate_groups, probe_file

HERE = Path(__file__).resolve().parent
VERDICTS = HERE.parent / "duplicates-audit-verdicts.csv"
KINDS = ("same", "uncertain", "different")
STUDY = ("benign", "malignant")


def busi_images(root: Path, classes: tuple[str, ...]) -> list[Path]:
    return [f for c in classes for f in sorted((root / c).glob("*.png")) if "_mask" not in f.name]


Verdicts = dict[tuple[str, str], tuple[int, str]]
"""(image_a, image_b) -> (distance, verdict)"""


def pair_table(ids: list[str], hashes: np.ndarray, verdicts: Verdicts, top: int) -> list[str]:
    """Pairs per distance (all classes; benign-malignant study classes), with the verdicts."""
    dist = np.bitwise_count(hashes[:, None] ^ hashes[None, :])
    rows = ["| bits | pairs | study pairs | same | uncertain | different | not reviewed |", "|---:" * 7 + "|"]
    missing = []
    for d in range(top + 1):
        ii, jj = np.nonzero(np.triu(dist == d, 1))
        if len(ii) == 0:
            continue
        pairs = [tuple(sorted((ids[i], ids[j]))) for i, j in zip(ii, jj)]
        study = sum(a.split("/")[0] in STUDY and b.split("/")[0] in STUDY for a, b in pairs)
        seen = Counter(verdicts.get(p, (d, "none"))[1] for p in pairs)
        if 6 <= d <= 14:
            missing += [p for p in pairs if p not in verdicts]
        rows.append(f"| {d} | {len(pairs)} | {study} | " + " | ".join(str(seen[k]) for k in (*KINDS, "none")) + " |")
    if missing:
        print(f"warning: {len(missing)} pairs at 6-14 bits have no verdict (data changed?): {missing[:3]}", file=sys.stderr)
    return rows


def threshold_table(ids: list[str], probes: list, verdicts: Verdicts, top: int) -> list[str]:
    """Per threshold: groups, images in them, the largest, cross-class groups, and the reviewed pairs
    at exactly that distance that it links for the first time (not already joined through a chain)."""
    rows = ["| threshold | groups | images in groups | largest | cross-class groups (images) | new links: same / uncertain / different |",
            "|---:" * 6 + "|"]
    index = {k: i for i, k in enumerate(ids)}
    before: dict[int, int] = {}
    for t in range(0, top + 1, 2):
        groups = duplicate_groups(probes, t)
        gid = {m: n for n, g in enumerate(groups) for m in g.members}
        cross = [g for g in groups if len({ids[m].split("/")[0] for m in g.members}) > 1]
        new: Counter[str] = Counter()
        for (a, b), (d, v) in verdicts.items():
            if a in index and b in index and d == t:
                i, j = index[a], index[b]
                new[v] += not (i in before and before[i] == before.get(j))
        sizes = [len(g.members) for g in groups]
        rows.append(f"| {t} | {len(groups)} | {sum(sizes)} | {max(sizes, default=0)} | {len(cross)} "
                    f"({sum(len(g.members) for g in cross)}) | " + " / ".join(str(new[k]) for k in KINDS) + " |")
        before = gid
    return rows


def contact_sheet(root: Path, rows: list[dict[str, str]], out: Path, height: int = 96, per_row: int = 2) -> None:
    """Borderline pairs as small grey thumbnails with their distance and verdict."""
    font = ImageFont.load_default(size=11)
    tiles = []
    for r in rows:
        ims = [Image.open(root / r[k]).convert("L") for k in ("image_a", "image_b")]
        ims = [im.resize((round(im.width * height / im.height), height), Image.Resampling.LANCZOS) for im in ims]
        tile = Image.new("L", (max(ims[0].width + ims[1].width + 4, 250), height + 30), 255)
        tile.paste(ims[0], (0, 30))
        tile.paste(ims[1], (ims[0].width + 4, 30))
        names = " | ".join(r[k].split("/")[1].removesuffix(".png") for k in ("image_a", "image_b"))
        draw = ImageDraw.Draw(tile)
        draw.text((0, 2), f"{r['distance']} bits: {r['verdict']}", fill=0, font=font)
        draw.text((0, 15), names, fill=0, font=font)
        tiles.append(tile)
    width = max(t.width for t in tiles)
    lines = [tiles[i:i + per_row] for i in range(0, len(tiles), per_row)]
    sheet = Image.new("L", (per_row * (width + 12), sum(max(t.height for t in line) + 8 for line in lines)), 255)
    y = 0
    for line in lines:
        for k, t in enumerate(line):
            sheet.paste(t, (k * (width + 12), y))
        y += max(t.height for t in line) + 8
    sheet.save(out, optimize=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("SHARPREG_DATA", "")) / "busi")
    ap.add_argument("--sheet", type=Path, default=None, help="write the contact sheet here (PNG)")
    ap.add_argument("--top", type=int, default=16, help="largest distance to tabulate")
    args = ap.parse_args()
    if not (args.data / "benign").is_dir():
        sys.exit(f"no BUSI folder at {args.data}: set SHARPREG_DATA (the folder holding busi/) or --data")
    rows = list(csv.DictReader(VERDICTS.open()))
    verdicts = {(r["image_a"], r["image_b"]): (int(r["distance"]), r["verdict"]) for r in rows}
    cache = ProbeCache()
    for classes in (("benign", "malignant", "normal"), STUDY):
        files = busi_images(args.data, classes)
        ids = [f"{f.parent.name}/{f.name}" for f in files]
        probes = [probe_file(f, cache) for f in files]
        hashes = np.array([p.phash for p in probes], dtype=np.uint64)
        print(f"\n## {' + '.join(classes)}: {len(files)} images\n")
        if len(classes) == 3:
            print("\n".join(pair_table(ids, hashes, verdicts, args.top)) + "\n")
        print("\n".join(threshold_table(ids, probes, verdicts, args.top)))
    if args.sheet:
        contact_sheet(args.data, [r for r in rows if r["on_sheet"] == "1"], args.sheet)
        print(f"\nwrote {args.sheet} ({args.sheet.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
