"""Reading image files of every common kind into plain numpy arrays.

PNG, JPEG, BMP and TIFF; 8- and 16-bit and float; greyscale, RGB, RGBA, LA, palette and CMYK.
EXIF orientation is applied. Oversized images are refused through Pillow's decompression-bomb limit.
"""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from workbench.core.data.memory import block_reduce, per_image_cap, reduction_factor, target_factor

SUPPORTED_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"})
MAX_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485


class ImageReadError(Exception):
    """An image that cannot be used; the message says why in plain words."""


_REDUCED_NOTE = ("larger than the decode memory budget, so reduced while reading (box filter); set "
                 "WORKBENCH_DECODE_BUDGET (bytes) higher to read such images whole")


def _read_tiff(path: Path, notes: list[str] | None, target_side: int | None = None) -> np.ndarray:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        if int(np.prod(page.shape[:2])) > MAX_PIXELS:
            raise ImageReadError(f"image is {page.shape[1]}×{page.shape[0]} pixels, over the {MAX_PIXELS:,}-pixel limit")
        pages = len(tif.pages)
        if pages > 1 and notes is not None:
            notes.append("multi-page TIFF (a stack): only its first page is used; save each page as its own "
                         "image to use them all")
        factor = reduction_factor(int(np.prod(page.shape, dtype=np.int64)) * page.dtype.itemsize, per_image_cap())
        if factor > 1:  # over the budget anyway: shrink as far as the network's input allows
            planar = len(page.shape) == 3 and page.shape[0] in (1, 3, 4) and page.shape[-1] not in (1, 3, 4)
            height, width = page.shape[1:3] if planar else page.shape[:2]
            factor = max(factor, target_factor(height, width, target_side))
        if factor > 1:  # decode to a memory-mapped temporary file, and reduce it in chunks
            array = page.asarray(out="memmap")
        else:
            array = page.asarray()
    if array.ndim == 3 and array.shape[0] in (1, 3, 4) and array.shape[-1] not in (1, 3, 4):
        array = np.moveaxis(array, 0, -1)  # planar (C, H, W) storage
    if factor > 1:
        if notes is not None:
            notes.append(_REDUCED_NOTE)
        array = block_reduce(array, factor)
    return array


def _load_within_budget(image: Image.Image, notes: list[str] | None, target_side: int | None = None) -> Image.Image:
    """Load a Pillow image, reduced (JPEG draft mode while decoding, then `reduce`) when its decoded size is over
    the per-image cap."""
    cap = per_image_cap()
    factor = reduction_factor(image.width * image.height * len(image.getbands()) * (2 if ";16" in image.mode else 1),
                              cap)
    if factor <= 1:
        image.load()
        return image
    if notes is not None:
        notes.append(_REDUCED_NOTE)
    factor = max(factor, target_factor(image.height, image.width, target_side))
    if image.format == "JPEG":
        image.draft(image.mode, (max(1, image.width // factor), max(1, image.height // factor)))
    image.load()
    factor = max(reduction_factor(image.width * image.height * len(image.getbands()), cap),
                 target_factor(image.height, image.width, target_side))
    if factor > 1:
        with contextlib.suppress(ValueError, NotImplementedError):  # modes reduce() does not take stay whole
            image = image.reduce(factor)
    return image


def _from_pil(image: Image.Image) -> np.ndarray:
    image = ImageOps.exif_transpose(image)
    mode = image.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        return np.asarray(image, dtype=np.uint16)
    if mode == "I":  # 32-bit signed: brought to 16 bits by _integer_to_16_bits, never clipped
        return np.asarray(image, dtype=np.int32)
    if mode == "F":
        return np.asarray(image, dtype=np.float32)
    if mode == "1":
        return np.asarray(image.convert("L"))
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif mode == "CMYK" or mode == "YCbCr" or mode == "HSV" or mode == "LAB":
        image = image.convert("RGB")
    elif mode == "PA":
        image = image.convert("RGBA")
    return np.asarray(image)


def _integer_to_16_bits(array: np.ndarray, notes: list[str] | None) -> np.ndarray:
    """Signed or wider-than-16-bit integers to uint16 without clipping, saying in `notes` how.

    Signed 8/16-bit images are shifted by their dtype's range (lossless, negatives kept, one mapping for every
    image of that dtype). Wider images whose values fit in 16 bits are kept as they are; others are scaled from
    their dtype's full range.
    """
    dtype = array.dtype
    if dtype in (np.uint8, np.uint16):
        return array
    say = notes.append if notes is not None else (lambda _text: None)
    if dtype == np.int8:
        say("int8 pixel values were shifted by 128 into 0–255 (the full int8 range), so negative values are kept")
        return (array.astype(np.int16) + 128).astype(np.uint8)
    if dtype == np.int16:
        say("int16 pixel values were shifted by 32,768 into 0–65,535 (the full int16 range), "
            "so negative values are kept")
        return (array.astype(np.int32) + 32768).astype(np.uint16)
    low, high = int(array.min()), int(array.max())
    if low >= 0 and high <= 65535:
        say(f"{dtype} pixel values all fit in 16 bits ({low:,}–{high:,}) and were kept as they are")
        return array.astype(np.uint16)
    if low >= -32768 and high <= 32767:
        say(f"{dtype} pixel values all fit in the int16 range ({low:,}–{high:,}) and were shifted by 32,768 into "
            "0–65,535, so negative values are kept")
        return (array.astype(np.int64) + 32768).astype(np.uint16)
    info = np.iinfo(dtype)
    say(f"{dtype} pixel values were scaled from the full {dtype} range to 0–65,535")
    scaled = (array.astype(np.float64) - info.min) * (65535.0 / (float(info.max) - float(info.min)))
    return np.rint(scaled).astype(np.uint16)


def _to_hwc(array: np.ndarray, notes: list[str] | None = None) -> np.ndarray:
    """Return HxWxC with C in (1, 3); alpha is composited over white."""
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3:
        raise ImageReadError(f"unsupported array shape {array.shape}")
    channels = array.shape[2]
    if array.dtype.kind in "iu":
        array = _integer_to_16_bits(array, notes)
    if channels in (2, 4):
        colour, alpha = array[:, :, :-1], array[:, :, -1:]
        top = 1.0 if array.dtype.kind == "f" else float(np.iinfo(array.dtype).max)
        mixed = colour.astype(np.float32) * (alpha / top) + top * (1 - alpha / top)
        array = mixed.astype(array.dtype) if array.dtype.kind != "f" else mixed
    elif channels > 4:
        array = array[:, :, :3]
    if array.dtype == np.float64 or array.dtype == np.float16:
        array = array.astype(np.float32)
    elif array.dtype == bool:
        array = array.astype(np.uint8) * 255
    if array.dtype.kind == "f":
        if not np.isfinite(array).all():
            raise ImageReadError("image holds NaN or infinite pixel values")
        if notes is not None and (array.min() < 0 or array.max() > 1):
            notes.append("float pixel values outside 0–1 are used as they are (float images are taken as 0–1); "
                         "z-score normalisation copes with any range")
    return np.ascontiguousarray(array)


def read_image(path: str | Path, notes: list[str] | None = None, target_side: int | None = None) -> np.ndarray:
    """Decode `path` into an HxWxC array (C = 1 or 3) of dtype uint8, uint16 or float32.

    Signed and 32-bit integer images are brought to uint16 without clipping; how is appended to `notes`.
    An image over the decode budget is reduced while read; with `target_side` (the network's input side) as far
    as 4× that side allows.
    Raises ImageReadError with a reason for empty, truncated, oversized or non-image files.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as error:
        raise ImageReadError(f"cannot be opened: {error.strerror or error}") from None
    if size == 0:
        raise ImageReadError("file is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise ImageReadError(
                        f"image is {image.width}×{image.height} pixels, over the {MAX_PIXELS:,}-pixel safety limit "
                        "(a possible decompression bomb); downscale it first"
                    )
                if image.width < 1 or image.height < 1:
                    raise ImageReadError("image has no pixels")
                is_tiff = image.format == "TIFF"
                if not is_tiff:
                    return _to_hwc(_from_pil(_load_within_budget(image, notes, target_side)), notes)
        try:
            return _to_hwc(_read_tiff(path, notes, target_side), notes)
        except ImageReadError:
            raise
        except Exception:  # tifffile cannot read some TIFF flavours that Pillow can
            with Image.open(path) as image:
                return _to_hwc(_from_pil(_load_within_budget(image, notes, target_side)), notes)
    except ImageReadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageReadError(f"refused as a possible decompression bomb: {error}") from None
    except UnidentifiedImageError:
        raise ImageReadError("not an image Workbench can read (unknown or wrong format)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        text = str(error) or type(error).__name__
        if "truncated" in text.lower() or isinstance(error, EOFError):
            raise ImageReadError(f"file is truncated or damaged ({text})") from None
        raise ImageReadError(f"cannot be decoded ({text})") from None
    except MemoryError:
        raise ImageReadError("too large to decode in the available memory") from None


def value_scale(dtype: np.dtype) -> float:
    """The largest value of an image of this dtype: 255, 65535, or 1.0 for float images."""
    if dtype == np.uint8:
        return 255.0
    if dtype == np.uint16:
        return 65535.0
    return 1.0


def is_supported(path: Path) -> bool:
    return path.suffix.lower() in SUPPORTED_SUFFIXES
