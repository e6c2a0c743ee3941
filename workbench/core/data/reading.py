"""Reading image files of every common kind into plain numpy arrays.

PNG, JPEG, BMP and TIFF; 8- and 16-bit and float; greyscale, RGB, RGBA, LA, palette and CMYK.
EXIF orientation is applied. Oversized images are refused through Pillow's decompression-bomb limit.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

SUPPORTED_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"})
MAX_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485


class ImageReadError(Exception):
    """An image that cannot be used; the message says why in plain words."""


def _read_tiff(path: Path) -> np.ndarray:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        if int(np.prod(page.shape[:2])) > MAX_PIXELS:
            raise ImageReadError(f"image is {page.shape[1]}×{page.shape[0]} pixels, over the {MAX_PIXELS:,}-pixel limit")
        array = page.asarray()
    if array.ndim == 3 and array.shape[0] in (1, 3, 4) and array.shape[-1] not in (1, 3, 4):
        array = np.moveaxis(array, 0, -1)  # planar (C, H, W) storage
    return array


def _from_pil(image: Image.Image) -> np.ndarray:
    image = ImageOps.exif_transpose(image)
    mode = image.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        return np.asarray(image, dtype=np.uint16)
    if mode == "I":
        array = np.asarray(image, dtype=np.int64)
        return array.clip(0, 65535).astype(np.uint16)
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


def _to_hwc(array: np.ndarray) -> np.ndarray:
    """Return HxWxC with C in (1, 3); alpha is composited over white."""
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3:
        raise ImageReadError(f"unsupported array shape {array.shape}")
    channels = array.shape[2]
    if channels in (2, 4):
        colour, alpha = array[:, :, :-1], array[:, :, -1:]
        top = 1.0 if array.dtype.kind == "f" else float(np.iinfo(array.dtype).max)
        mixed = colour.astype(np.float32) * (alpha / top) + top * (1 - alpha / top)
        array = mixed.astype(array.dtype) if array.dtype.kind != "f" else mixed
    elif channels > 4:
        array = array[:, :, :3]
    if array.dtype == np.int16 or array.dtype == np.int32 or array.dtype == np.uint32:
        array = array.clip(0, 65535).astype(np.uint16)
    elif array.dtype == np.float64 or array.dtype == np.float16:
        array = array.astype(np.float32)
    elif array.dtype == bool:
        array = array.astype(np.uint8) * 255
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise ImageReadError("image holds NaN or infinite pixel values")
    return np.ascontiguousarray(array)


def read_image(path: str | Path) -> np.ndarray:
    """Decode `path` into an HxWxC array (C = 1 or 3) of dtype uint8, uint16 or float32.

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
                    image.load()
                    return _to_hwc(_from_pil(image))
        try:
            return _to_hwc(_read_tiff(path))
        except ImageReadError:
            raise
        except Exception:  # tifffile cannot read some TIFF flavours that Pillow can
            with Image.open(path) as image:
                image.load()
                return _to_hwc(_from_pil(image))
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
