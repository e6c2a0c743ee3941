"""Turning one decoded image into the square array the network sees: channels, then resize."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def convert_channels(image: np.ndarray, channels: str) -> np.ndarray:
    """HxWxC (C = 1 or 3) to HxWx1 for 'grayscale' or HxWx3 for 'rgb', keeping the dtype."""
    have = image.shape[2]
    if channels == "grayscale" and have == 3:
        grey = image.astype(np.float32) @ _LUMA
        return grey[:, :, None].round().astype(image.dtype) if image.dtype.kind != "f" else grey[:, :, None]
    if channels == "rgb" and have == 1:
        return np.repeat(image, 3, axis=2)
    return image


def resize_chw(image: np.ndarray, size: int, mode: str) -> np.ndarray:
    """HxWxC array to a float32 CxSxS array by 'squash', 'center_crop' or 'letterbox' (zero padding)."""
    tensor = torch.from_numpy(np.array(image.transpose(2, 0, 1), dtype=np.float32))[None]
    height, width = tensor.shape[-2:]
    if mode == "squash":
        out_h, out_w = size, size
    elif mode == "center_crop":
        scale = size / min(height, width)
        out_h, out_w = max(size, round(height * scale)), max(size, round(width * scale))
    elif mode == "letterbox":
        scale = size / max(height, width)
        out_h, out_w = max(1, round(height * scale)), max(1, round(width * scale))
    else:
        raise ValueError(f"unknown resize mode {mode!r}")
    if (out_h, out_w) != (height, width):
        tensor = F.interpolate(tensor, size=(out_h, out_w), mode="bilinear", align_corners=False,
                               antialias=out_h < height or out_w < width)
    if mode == "center_crop":
        top, left = (out_h - size) // 2, (out_w - size) // 2
        tensor = tensor[..., top:top + size, left:left + size]
    elif mode == "letterbox":
        pad_h, pad_w = size - out_h, size - out_w
        tensor = F.pad(tensor, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2))
    return tensor[0].numpy()


def prepare(image: np.ndarray, size: int, mode: str, channels: str, dtype: np.dtype) -> np.ndarray:
    """Decoded image to the cache's CxSxS array of `dtype` (values rescaled when bit depth grows)."""
    image = convert_channels(image, channels)
    array = resize_chw(image, size, mode)
    if dtype == np.uint16 and image.dtype == np.uint8:
        array = array * 257.0
    if np.dtype(dtype).kind in "ui":
        limit = np.iinfo(dtype).max
        return np.clip(np.rint(array), 0, limit).astype(dtype)
    return array.astype(dtype)
