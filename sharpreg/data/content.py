"""The content identity of a data module's images: their order, split keys, fingerprint and split file.

Everything here depends on what the images show and how they are labelled, never on their file names
or the order a folder lists them in: items are put in content order, splits are keyed by content, the
fingerprint hashes (content, class) pairs, and a split file's images are matched by content.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from ..errors import DataError
from ..specs import DataParams
from .identity import (SPLIT_FORMAT, SPLIT_VERSION, DataDiff, Listed, Local, SplitFile, compare, fingerprint,
                       read_split_file, short, split_items)
from .module import Item, Split


class ContentIndex:
    """Built once per set-up data module from its items and their content hashes."""

    def __init__(self, dataset: str, class_names: list[str], params: DataParams) -> None:
        self.dataset = dataset
        self.class_names = class_names
        self.params = params
        self.hashes: dict[str, str] = {}
        self.keys: dict[str, str] = {}
        self.split_file: SplitFile | None = None
        self.diff: DataDiff | None = None
        self.fingerprint = ""

    def label(self, item: Item) -> str:
        return self.class_names[item.label]

    def order(self, items: list[Item], hashes: dict[str, str]) -> list[Item]:
        """The items in content order, each with a unique split key (content hash, class, copy number)."""
        self.hashes = dict(hashes)
        ordered = sorted(items, key=lambda it: (self.hashes[it.id], self.label(it), it.id))
        copies: Counter[tuple[str, str]] = Counter()
        for it in ordered:
            pair = (self.hashes[it.id], self.label(it))
            self.keys[it.id] = f"{pair[0]}:{pair[1]}:{copies[pair]}"
            copies[pair] += 1
        return ordered

    def local(self, items: list[Item]) -> list[Local]:
        return [Local(it.id, self.hashes[it.id], self.label(it)) for it in items]

    def match_file(self, items: list[Item]) -> tuple[list[Item], list[Item]]:
        """With ``data.split.method = "file"``: read the file and match the images by content. Returns the
        items kept and those left out because the file does not list them (``unlisted = "leave_out"``)."""
        split = self.params.split
        if split.method != "file" or split.file is None:
            return items, []
        self.split_file = read_split_file(split.file)
        self.diff = compare(self.split_file.items, self.local(items))
        if split.unlisted != "leave_out":
            return items, []
        extra = {e.id for e in self.diff.extra}
        return [it for it in items if it.id not in extra], [it for it in items if it.id in extra]

    def verify(self, items: list[Item]) -> str:
        """The fingerprint of the images used; a ``DataError`` saying how the local copy differs when it is
        not the data the recipe pins (``data.fingerprint``) or the split file lists."""
        self.fingerprint = fingerprint((self.hashes[it.id], self.label(it)) for it in items)
        pinned, diff, split = self.params.fingerprint, self.diff, self.params.split
        where = f" against {self.split_file.path.name}: " if self.split_file else ""
        if diff is not None and not diff.matched:
            raise DataError(f"{self.dataset}: data.split.file {self.split_file.path} lists none of the "  # type: ignore[union-attr]
                            f"{len(self.hashes)} local images: it was made for other data (its fingerprint "
                            f"{short(self.split_file.fingerprint)}, the local data's {short(self.fingerprint)})")  # type: ignore[union-attr]
        if pinned and pinned != self.fingerprint:
            how = (where + diff.describe()) if diff is not None else (
                "; no split file to compare image by image (the recipe's data.split.file, or the split.json "
                "of a run on the other copy, shows which images differ)")
            raise DataError(f"{self.dataset}: the local data is not the data this recipe was made with "
                            f"(data.fingerprint {short(pinned)}, local {short(self.fingerprint)}){how}")
        if diff is not None and (diff.missing or diff.relabelled or (diff.extra and split.unlisted == "error")):
            hint = ("; set data.split.unlisted = \"leave_out\" or \"train\" to use a copy with more images"
                    if diff.extra and not (diff.missing or diff.relabelled) else "")
            raise DataError(f"{self.dataset}: the local images do not match the split file{where}{diff.describe()}{hint}")
        return self.fingerprint

    def file_assignment(self, items: list[Item], group_of: dict[str, str]) -> dict[str, Split | None]:
        """The split of each item by the file (None: left out there). An unlisted image (``unlisted =
        "train"``) follows a listed image of its group, else goes to training."""
        assert self.diff is not None
        out: dict[str, Split | None] = {}
        by_group: dict[str, Split | None] = {}
        for it in items:
            listed = self.diff.matched.get(it.id)
            if listed is not None:
                out[it.id] = listed.split  # type: ignore[assignment]
                by_group.setdefault(group_of[it.id], listed.split)  # type: ignore[arg-type]
        for it in items:
            if it.id not in out:
                out[it.id] = by_group.get(group_of[it.id], "train")
        return out

    def folds_from_file(self) -> dict[str, int]:
        if self.diff is None:
            return {}
        return {i: e.fold for i, e in self.diff.matched.items() if e.fold is not None}

    def listing(self, items: list[Item], assignment: dict[str, Split], folds: dict[str, int],
                left_out: list[Item]) -> dict[str, Any]:
        """The split file part of ``split.json``: format, fingerprint and every image by content."""
        entries = [Listed(self.hashes[it.id], self.label(it), assignment.get(it.id), it.id, folds.get(it.id))
                   for it in [*items, *left_out]]
        return {"format": SPLIT_FORMAT, "version": SPLIT_VERSION, "fingerprint": self.fingerprint,
                "items": split_items(entries)}
