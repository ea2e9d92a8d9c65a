"""Reading masks and the lesion box (hand-computed cases)."""

from __future__ import annotations

import numpy as np
import pytest

from sharpreg.data.io import lesion_box, read_mask
from sharpreg.errors import DataError

from .conftest import save_png


@pytest.mark.parametrize(
    ("rows", "cols", "margin", "expected"),
    [
        ((10, 20), (30, 40), 0.0, (10, 20, 30, 40)),  # already square
        ((10, 20), (30, 40), 0.5, (5, 25, 25, 45)),  # 5 px margin on each side of a 10 px box
        ((40, 50), (20, 180), 0.0, (0, 100, 20, 180)),  # wider than the image is tall: full height
        ((0, 4), (0, 2), 0.0, (0, 4, 0, 4)),  # square grows inward at the corner
    ],
)
def test_lesion_box(rows, cols, margin, expected):
    m = np.zeros((100, 200), bool)
    m[rows[0]:rows[1], cols[0]:cols[1]] = True
    assert lesion_box(m, margin) == expected


def test_empty_mask_has_no_box():
    assert lesion_box(np.zeros((5, 5), bool), 0.2) is None


def test_masks_are_merged_and_sizes_checked(tmp_path):
    a, b = np.zeros((6, 8), np.uint8), np.zeros((6, 8), np.uint8)
    a[1, 1], b[4, 6] = 255, 1
    merged = read_mask([save_png(tmp_path / "a.png", a), save_png(tmp_path / "b.png", b)])
    assert merged.dtype == bool and merged.sum() == 2 and merged[1, 1] and merged[4, 6]
    with pytest.raises(DataError, match=r"c\.png is 8x7 px"):
        read_mask([tmp_path / "a.png", save_png(tmp_path / "c.png", np.zeros((7, 8), np.uint8))])
