"""Pretrained weights with no network (issue 16): the local cache first, and with nothing cached and no
network a plain answer within seconds instead of a minute of silent hub retries."""

from __future__ import annotations

import time

import pytest
import torch

from workbench.core.models import offline
from workbench.core.models.factory import ModelBuildError, build_model


def test_no_network_answers_at_once_with_the_plain_message(tiny_project, no_network) -> None:
    import timm  # noqa: F401  (imported by the engine's warm-up in the app; not what is timed here)

    tiny_project.model.architecture = "resnet18"
    tiny_project.model.pretrained = True
    started = time.monotonic()
    with pytest.raises(ModelBuildError) as caught:
        build_model(tiny_project, 3, 4)
    elapsed = time.monotonic() - started
    assert elapsed < 5.0, f"took {elapsed:.1f} s"
    message = str(caught.value)
    assert message.startswith("The pretrained weights for ResNet-18 are not on this computer")
    assert "connect to the internet once" in message and "local weights file" in message
    assert no_network == [offline.HUB_HOST]  # one connection test, no retries


def test_the_hub_offline_switch_skips_even_the_connection_test(tiny_project, no_network, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    tiny_project.model.architecture = "resnet18"
    tiny_project.model.pretrained = True
    with pytest.raises(ModelBuildError, match="not on this computer"):
        build_model(tiny_project, 3, 4)
    assert no_network == []


def test_cached_weights_are_used_without_the_network(tiny_project, no_network, tmp_path) -> None:
    import timm

    # A weights file in torch hub's cache, where timm looks for resnet18's URL: made from a seeded model.
    cfg = timm.models.get_pretrained_cfg("resnet18")
    torch.manual_seed(0)
    source = timm.create_model("resnet18", pretrained=False)
    folder = tmp_path / "torch-hub" / "checkpoints"
    folder.mkdir(parents=True)
    torch.save(source.state_dict(), folder / cfg.url.split("/")[-1])
    tiny_project.model.architecture = "resnet18"
    tiny_project.model.pretrained = True
    model = build_model(tiny_project, 3, 4)
    assert torch.equal(model.state_dict()["conv1.weight"], source.state_dict()["conv1.weight"])
    assert no_network == []  # found locally: the network was never tried
