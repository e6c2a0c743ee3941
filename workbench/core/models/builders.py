"""The builders that architecture registry entries name: Workbench's small CNN, and any timm model.

timm itself says whether a model's input size is fixed (its pretrained config's `fixed_input_size`, as for
ViT, DeiT, Swin and CaiT); such a model is built for the project's image size by passing `img_size`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from workbench.core.models.registry import ArchitectureInfo, architecture_info

if TYPE_CHECKING:
    from torch import nn

    from workbench.core.config import ProjectConfig


@lru_cache(maxsize=256)
def _timm_fixed_input_size(timm_name: str) -> bool:
    from timm.models import get_pretrained_cfg

    try:
        cfg = get_pretrained_cfg(timm_name)
    except Exception:  # a name timm has no pretrained config for: nothing says the size is fixed
        return False
    return bool(getattr(cfg, "fixed_input_size", False)) if cfg is not None else False


def takes_img_size(name: str) -> bool:
    """True when the model is built for one input size, which must then be given as `img_size`."""
    info = architecture_info(name)
    if info.takes_img_size is not None:
        return info.takes_img_size
    return _timm_fixed_input_size(info.timm_name or name)


def timm_kwargs(name: str, image_size: int) -> dict[str, Any]:
    """Extra `timm.create_model` arguments for building `name` at `image_size`."""
    return {"img_size": image_size} if takes_img_size(name) else {}


def build_small_cnn(config: ProjectConfig, info: ArchitectureInfo, in_channels: int, num_classes: int) -> nn.Module:
    from workbench.core.models.small_cnn import SmallCNN

    return SmallCNN(config.model.small_cnn, in_channels, num_classes, config.preprocessing.image_size)


def build_timm(config: ProjectConfig, info: ArchitectureInfo, in_channels: int, num_classes: int) -> nn.Module:
    import timm

    name = info.timm_name or info.name
    kwargs = {"num_classes": num_classes, "in_chans": in_channels,
              **timm_kwargs(info.name, config.preprocessing.image_size)}
    if config.model.pretrained:  # the local cache first; no silent retries when offline
        from workbench.core.models.factory import ModelBuildError
        from workbench.core.models.offline import WeightsOffline, create_pretrained

        try:
            return create_pretrained(name, info.label, **kwargs)
        except WeightsOffline as error:
            raise ModelBuildError(str(error)) from None
    return timm.create_model(name, pretrained=False, **kwargs)
