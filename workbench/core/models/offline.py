"""Pretrained timm weights without a silent wait: the local cache first, then one download only when online.

`timm.create_model(pretrained=True)` goes to the Hugging Face hub, which retries for about a minute when there
is no network and then fails with a message about its cache. Here the cached file is used when it is there;
otherwise a short connection test (or HF_HUB_OFFLINE=1, the hub's own offline switch) decides, and with no
network the answer is one plain sentence and the two ways on, within a few seconds.
"""

from __future__ import annotations

import os
import socket
from typing import Any

HUB_HOST = ("huggingface.co", 443)
CONNECT_TIMEOUT_S = 2.0


class WeightsOffline(ValueError):
    """The pretrained weights are not on this computer and cannot be downloaded now; the message says what to do."""


def hub_offline() -> bool:
    """The hub's offline mode is on (HF_HUB_OFFLINE), or the hub cannot be reached within CONNECT_TIMEOUT_S."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return True
    try:
        with socket.create_connection(HUB_HOST, timeout=CONNECT_TIMEOUT_S):
            return False
    except OSError:  # no route, no name resolution, refused or timed out
        return True


def offline_message(label: str) -> str:
    """One sentence that says what is missing, then the two ways on."""
    return (f"The pretrained weights for {label} are not on this computer, and there is no network connection to "
            "download them. To go on, either connect to the internet once and start again (the weights are then "
            "kept for later runs), or choose a local weights file: in the Strategy step pick transfer learning or "
            "fine-tuning with weights from a file, or untick 'pretrained' to train from scratch.")


def create_pretrained(timm_name: str, label: str = "", **kwargs: Any) -> Any:
    """`timm.create_model(timm_name, pretrained=True, **kwargs)`, from the local cache when the weights are there;
    raises WeightsOffline at once when they are not and the hub cannot be reached."""
    import timm

    from workbench.core.models.pretrained import WeightsError, read_state_dict, timm_weights_file

    try:
        cached = timm_weights_file(timm_name)
    except WeightsError:
        cached = None
    if cached is not None:
        return timm.create_model(timm_name, pretrained=True,
                                 pretrained_cfg_overlay={"state_dict": read_state_dict(cached)}, **kwargs)
    if hub_offline():
        raise WeightsOffline(offline_message(label or timm_name))
    return timm.create_model(timm_name, pretrained=True, **kwargs)
