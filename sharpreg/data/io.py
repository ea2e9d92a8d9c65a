"""Reading image and mask files into arrays, with errors that name the file."""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from monai.transforms import MapTransform
from PIL import Image, UnidentifiedImageError

from ..errors import DataError

RASTER_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
DICOM_SUFFIXES = (".dcm", ".dicom")
IMAGE_SUFFIXES = RASTER_SUFFIXES + DICOM_SUFFIXES


#: PIL's own warning for images over its pixel limit: sharpreg refuses such images itself (below)
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


def as_text(name: str) -> str:
    """``name`` as valid UTF-8 text: bytes of a file name that are not UTF-8 (kept by Python as
    surrogates) become ``\\xNN``, so the name can be written to CSV, JSON and logs."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


@contextmanager
def _opened(path: Path) -> Iterator[Image.Image]:
    """``path`` opened by PIL (header only), refused when it is not an image or has more pixels than
    PIL's limit (``Image.MAX_IMAGE_PIXELS``: a decompression bomb would take gigabytes to decode)."""
    try:
        with Image.open(path) as im:
            limit = Image.MAX_IMAGE_PIXELS
            if limit is not None and im.size[0] * im.size[1] > limit:
                raise DataError(f"image {as_text(str(path))} is {im.size[0]}x{im.size[1]} px, more than the "
                                f"{limit / 1e6:.0f} megapixels sharpreg decodes (a decompression bomb?)")
            yield im
    except FileNotFoundError:
        raise DataError(f"image file {as_text(str(path))} does not exist") from None
    except Image.DecompressionBombError:
        raise DataError(f"image {as_text(str(path))} has more than {2 * (Image.MAX_IMAGE_PIXELS or 0) / 1e6:.0f} "
                        "megapixels (a decompression bomb?)") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as err:
        raise _unreadable(path, err) from None


def _unreadable(path: Path, err: BaseException) -> DataError:
    """The error for a file that does not decode (its bytes are not quoted: they are not the user's words)."""
    return DataError(f"cannot read image {as_text(str(path))}: not an image sharpreg can decode, or a damaged one "
                     f"({type(err).__name__})")


def read_image(path: str | Path) -> np.ndarray:
    """Decode one file to an H×W (grey) or H×W×C array, raising ``DataError`` that names the path."""
    path = Path(path)
    if path.suffix.lower() in DICOM_SUFFIXES:
        return _read_dicom(path)
    with _opened(path) as im:
        im.load()
        return _pil_to_array(im)


def image_size_of(path: str | Path) -> tuple[int, int]:
    """(width, height) from the file header only (cheap), raising ``DataError`` that names the path."""
    path = Path(path)
    if path.suffix.lower() in DICOM_SUFFIXES:
        a = _read_dicom(path)
        return int(a.shape[1]), int(a.shape[0])
    with _opened(path) as im:
        return int(im.size[0]), int(im.size[1])


def _pil_to_array(im: Image.Image) -> np.ndarray:
    if im.mode in ("1", "P", "LA", "PA", "CMYK", "YCbCr", "HSV", "LAB"):
        im = im.convert("RGBA" if "A" in im.mode else ("L" if im.mode == "1" else "RGB"))
    a = np.asarray(im)
    if a.ndim == 3 and a.shape[2] == 4:  # drop alpha
        a = a[..., :3]
    if a.ndim == 3 and a.shape[2] == 2:
        a = a[..., 0]
    return np.ascontiguousarray(a)


def _read_dicom(path: Path) -> np.ndarray:
    try:
        import pydicom
    except ImportError:
        raise DataError(
            f"{path} is a DICOM file: install the optional reader with `pip install sharpreg[dicom]`"
        ) from None
    try:
        ds = pydicom.dcmread(str(path))
        a = ds.pixel_array.astype(np.float32)
    except FileNotFoundError:
        raise DataError(f"image file {as_text(str(path))} does not exist") from None
    except Exception as err:  # pydicom raises many kinds of errors for a bad file
        raise _unreadable(path, err) from None
    slope = float(getattr(ds, "RescaleSlope", 1) or 1)
    intercept = float(getattr(ds, "RescaleIntercept", 0) or 0)
    a = a * slope + intercept
    if a.ndim == 3 and a.shape[-1] not in (3, 4):  # multi-frame: first frame
        a = a[0]
    if str(getattr(ds, "PhotometricInterpretation", "")) == "MONOCHROME1":
        a = a.max() - a
    return a


def read_mask(paths: Sequence[str | Path]) -> np.ndarray:
    """Union of one image's lesion masks as an H×W bool array (several masks are merged)."""
    merged: np.ndarray | None = None
    for p in paths:
        m = read_image(p)
        m = m.max(axis=2) if m.ndim == 3 else m
        m = m > 0
        if merged is not None and m.shape != merged.shape:
            raise DataError(f"mask {p} is {m.shape[1]}x{m.shape[0]} px but the image's other mask is "
                            f"{merged.shape[1]}x{merged.shape[0]} px")
        merged = m if merged is None else (merged | m)
    if merged is None:
        raise DataError("no mask files given")
    return merged


def lesion_box(mask: np.ndarray, margin: float) -> tuple[int, int, int, int] | None:
    """Box (y0, y1, x0, x1) around the mask's bounding box, grown by ``margin`` of its longer side on
    each side and made square where the image allows (shifted inside, never cutting the lesion);
    ``None`` when the mask is empty."""
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return None
    h, w = mask.shape
    pad = margin * max(ys.max() - ys.min() + 1, xs.max() - xs.min() + 1)
    lo = [ys.min() - pad, xs.min() - pad]
    hi = [ys.max() + 1 + pad, xs.max() + 1 + pad]
    side = max(hi[0] - lo[0], hi[1] - lo[1])
    box: list[int] = []
    for k, size in enumerate((h, w)):
        extent = int(min(np.ceil(side), size))
        centre = (lo[k] + hi[k]) / 2
        start = int(min(max(np.floor(centre - extent / 2), 0), size - extent))
        box += [start, start + extent]
    return box[0], box[1], box[2], box[3]


def to_channels_first(a: np.ndarray) -> np.ndarray:
    """H×W → 1×H×W and H×W×C → C×H×W, as float32."""
    a = a.astype(np.float32, copy=False)
    return a[None] if a.ndim == 2 else np.moveaxis(a, -1, 0)


class LoadImageFiled(MapTransform):
    """Decode ``d["image"]`` (a path) to C×H×W float32; with ``d["masks"]`` (paths) and
    ``crop_margin`` set, crop a square around the merged lesion mask first. Drops ``masks``."""

    def __init__(self, keys: Sequence[Hashable] = ("image",), crop_margin: float | None = None) -> None:
        super().__init__(keys)
        self.crop_margin = crop_margin

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        masks = d.pop("masks", None)
        for key in self.key_iterator(d):
            path = d[key]
            a = read_image(path)
            if self.crop_margin is not None and masks:
                m = read_mask(masks)
                if m.shape != a.shape[:2]:
                    raise DataError(f"mask of {path} is {m.shape[1]}x{m.shape[0]} px but the image is "
                                    f"{a.shape[1]}x{a.shape[0]} px")
                box = lesion_box(m, self.crop_margin)
                if box is not None:
                    y0, y1, x0, x1 = box
                    a = a[y0:y1, x0:x1]
            d[key] = to_channels_first(a)
        return d


def find_data_error(err: BaseException) -> DataError | None:
    """The ``DataError`` behind a (MONAI-wrapped) exception, if any."""
    seen: set[int] = set()
    e: BaseException | None = err
    while e is not None and id(e) not in seen:
        if isinstance(e, DataError):
            return e
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return None
