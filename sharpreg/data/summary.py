"""The data summary: what was found, what was used, how it was split, which duplicates went where."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from .duplicates import Probe
from .module import SPLITS, Item, Split


@dataclass(frozen=True)
class Inventory:
    """What a set-up image data module found and did: the input of its summary and split record."""

    dataset: str
    classes: list[str]
    items: list[Item]
    assignment: dict[str, Split]
    group_of: dict[str, str]
    found: Counter[str]
    probes: dict[str, Probe]
    duplicates: list[dict[str, Any]]
    dropped: list[dict[str, Any]]
    skipped: list[dict[str, Any]]
    notes: list[str]
    split: dict[str, Any]
    image_size: int
    channels: int
    duplicates_checked: bool
    near_duplicate_distance: int | None
    cross_class_policy: str | None
    twins: dict[str, Any] | None
    """the leakage ablation's record (``data.split.twins``), None when off"""


def _stats(values: list[int]) -> dict[str, float] | None:
    if not values:
        return None
    a = np.asarray(values)
    return {"min": int(a.min()), "median": float(np.median(a)), "max": int(a.max())}


def groups_by_split(inv: Inventory) -> dict[str, dict[str, Any]]:
    """Per split (and ``all``): the groups of two or more images in it (near-duplicates, or one
    patient), how many of its images they hold, and that as a share of its images."""
    members: dict[str, list[str]] = {}
    for it in inv.items:
        members.setdefault(inv.group_of.get(it.id, it.id), []).append(inv.assignment[it.id])
    out: dict[str, dict[str, Any]] = {}
    for s in (*SPLITS, "all"):
        images = sum(1 for it in inv.items if s == "all" or inv.assignment[it.id] == s)
        held = [sum(1 for x in m if s == "all" or x == s) for m in members.values() if len(m) > 1]
        held = [n for n in held if n]
        out[s] = {"groups": len(held), "images_in_groups": sum(held), "images": images,
                  "share": round(sum(held) / images, 4) if images else None}
    return out


def build_summary(inv: Inventory, *, images: bool = False) -> dict[str, Any]:
    """A JSON-serializable summary of a set-up data module."""
    names = inv.classes
    counts = {s: {c: 0 for c in names} for s in SPLITS}
    for it in inv.items:
        counts[inv.assignment[it.id]][names[it.label]] += 1
    probes = [inv.probes[it.id] for it in inv.items if it.id in inv.probes]
    out: dict[str, Any] = {
        "dataset": inv.dataset,
        "classes": list(names),
        "found": {c: int(inv.found.get(c, 0)) for c in names},
        "used": {c: sum(counts[s][c] for s in SPLITS) for c in names},
        "counts": counts,
        "totals": {s: sum(counts[s].values()) for s in SPLITS},
        "split": dict(inv.split),
        "image_size": inv.image_size,
        "channels": inv.channels,
        "source_sizes": {"width": _stats([p.width for p in probes]), "height": _stats([p.height for p in probes])},
        "duplicates": _duplicates(inv),
        "twins": inv.twins,
        "dropped": inv.dropped,
        "skipped": inv.skipped,
        "notes": inv.notes,
    }
    if images:
        out["images"] = {s: [it.id for it in inv.items if inv.assignment[it.id] == s] for s in SPLITS}
    return out


def _duplicates(inv: Inventory) -> dict[str, Any]:
    dups = inv.duplicates
    placement: Counter[str] = Counter()
    for rec in dups:
        if rec["action"] != "dropped":
            placement["+".join(rec.get("splits", [])) or "left out"] += 1
    return {
        "checked": inv.duplicates_checked,
        "near_duplicate_distance": inv.near_duplicate_distance,
        "groups": len(dups),
        "exact_groups": sum(r["kind"] == "exact" for r in dups),
        "near_groups": sum(r["kind"] == "near" for r in dups),
        "images_in_groups": sum(len(r["images"]) for r in dups),
        "cross_class_groups": [r for r in dups if r["cross_class"]],
        "cross_class_policy": inv.cross_class_policy,
        "placement": dict(sorted(placement.items())),
        "by_split": groups_by_split(inv),
        "straddling": [rec for rec in dups if len(rec.get("splits", [])) > 1],
        "list": dups,
    }


def format_summary(s: dict[str, Any]) -> str:
    """The summary as plain text (a table of counts, then sizes and duplicates)."""
    names = s["classes"]
    width = max([len(c) for c in names] + [7])
    lines = [f"data set: {s['dataset']}   split: {s['split']['method']} (seed {s['split']['seed']})   "
             f"image size {s['image_size']} px, {s['channels']} channel(s)"]
    head = f"{'class':<{width}}  {'found':>6}  {'used':>6}  " + "  ".join(f"{sp:>6}" for sp in SPLITS)
    lines += ["", head, "-" * len(head)]
    for c in names:
        lines.append(f"{c:<{width}}  {s['found'][c]:>6}  {s['used'][c]:>6}  "
                     + "  ".join(f"{s['counts'][sp][c]:>6}" for sp in SPLITS))
    lines.append(f"{'total':<{width}}  {sum(s['found'].values()):>6}  {sum(s['used'].values()):>6}  "
                 + "  ".join(f"{s['totals'][sp]:>6}" for sp in SPLITS))
    w, h = s["source_sizes"]["width"], s["source_sizes"]["height"]
    if w and h:
        lines.append(f"\nsource images: width {w['min']}-{w['max']} px (median {w['median']:g}), "
                     f"height {h['min']}-{h['max']} px (median {h['median']:g})")
    d = s["duplicates"]
    if d["checked"]:
        lines.append(f"duplicates (exact + perceptual hash within {d['near_duplicate_distance']} bits): "
                     f"{d['groups']} groups ({d['exact_groups']} exact, {d['near_groups']} near), "
                     f"{d['images_in_groups']} images")
        if d["placement"]:
            lines.append("  groups kept whole, by split: "
                         + ", ".join(f"{k} {v}" for k, v in d["placement"].items()))
        lines.append("  images in groups of two or more, by split (a fair split has about the same share in each):")
        for sp, b in d["by_split"].items():
            share = f"{100 * b['share']:.1f} %" if b["share"] is not None else "-"
            lines.append(f"    {sp:<5}  {b['groups']:>4} groups  {b['images_in_groups']:>5} of {b['images']:>5} images  ({share})")
        lines.append(f"  groups straddling splits: {len(d['straddling'])}")
        cross = d["cross_class_groups"]
        lines.append(f"  cross-class groups: {len(cross)} (data.cross_class_duplicates = "
                     f"\"{d['cross_class_policy']}\")")
        for r in cross:
            lines.append(f"    {r['action']}: " + ", ".join(r["images"]))
    else:
        lines.append("duplicates: not checked")
    t = s["twins"]
    if t:
        lines.append(f"leakage ablation (data.split.twins = \"{t['mode']}\"): {t['test_groups']} test groups keep one "
                     f"image each in test; their {len(t['twins'])} twins are "
                     + ("left out" if t["mode"] == "held_out" else
                        f"in training in place of {len(t['replaced'])} training images of the same classes")
                     + f"; {t['train_images']} training images")
    if s["skipped"]:
        lines.append(f"skipped unreadable images: {len(s['skipped'])}")
        lines += [f"  {r['image']}: {r['reason']}" for r in s["skipped"]]
    lines += [f"note: {n}" for n in s["notes"]]
    return "\n".join(lines)
