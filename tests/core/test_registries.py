"""The registries are the only lists (issue 12): every choice the config allows comes from one, each carries
its behaviour, listing them needs no torch, and a plugin can add an entry of every kind."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import ClassVar

import pytest
import torch
from pydantic import ValidationError

from tests.helpers import tiny_config
from workbench.core import plugins
from workbench.core.catalog.augmentations import AUGMENTATIONS
from workbench.core.catalog.diagnostics import DIAGNOSTICS
from workbench.core.catalog.optimizers import OPTIMIZERS
from workbench.core.catalog.projections import PROJECTIONS
from workbench.core.catalog.schedules import SCHEDULERS
from workbench.core.catalog.strategies import STRATEGIES
from workbench.core.catalog.tta import COMBINE_RULES, TTA_AUGMENTATIONS
from workbench.core.config import AugmentationConfig, ProjectConfig, SmallCNNConfig
from workbench.core.models.registry import ACTIVATIONS, ARCHITECTURES, SMALL_CNN_PARAMS

ROOT = Path(__file__).resolve().parents[2]

# (config section, field, registry): the field accepts exactly the registry's names.
CHOICES = [
    ("training", "optimizer", OPTIMIZERS), ("training", "scheduler", SCHEDULERS),
    ("strategy", "name", STRATEGIES), ("model", "architecture", ARCHITECTURES),
    ("model.small_cnn", "activation", ACTIVATIONS), ("evaluation", "tta_rule", COMBINE_RULES),
    ("diagnostics", "projection_method", PROJECTIONS),
]


def _section(config: ProjectConfig, dotted: str):
    for part in dotted.split("."):
        config = getattr(config, part)
    return config


@pytest.mark.parametrize(("section", "name", "registry"), CHOICES, ids=[c[1] for c in CHOICES])
def test_every_choice_the_config_allows_comes_from_its_registry(section: str, name: str, registry: dict) -> None:
    config = ProjectConfig()
    for key in registry:
        setattr(_section(config, section), name, key)
    with pytest.raises(ValidationError, match="unknown"):
        setattr(_section(config, section), name, "not_registered")


def test_lists_of_choices_come_from_their_registries() -> None:
    config = ProjectConfig()
    config.evaluation.tta_augmentations = list(TTA_AUGMENTATIONS)
    with pytest.raises(ValidationError, match="unknown test-time augmentation"):
        config.evaluation.tta_augmentations = ["hflip", "swirl"]
    fields = set(AugmentationConfig.model_fields) - {"extra"}
    assert fields == set(AUGMENTATIONS), "each augmentation setting has its registry entry, and no entry is lost"
    with pytest.raises(ValidationError, match="unknown plugin augmentation"):
        config.preprocessing.augmentation.extra = {"swirl": 1.0}
    # The small CNN's options are described once, in the registry.
    assert set(SmallCNNConfig.model_fields) == set(SMALL_CNN_PARAMS)
    for name, info in SMALL_CNN_PARAMS.items():
        assert SmallCNNConfig.model_fields[name].description == info.description


def test_listing_the_registries_and_loading_the_config_import_no_torch() -> None:
    code = ("import sys\n"
            "import workbench.core.config, workbench.core.plugins\n"
            "from workbench.core.catalog.diagnostics import DIAGNOSTICS\n"
            "assert len(DIAGNOSTICS) > 10\n"
            "bad = sorted(m for m in sys.modules if m == 'torch' or m.startswith(('workbench.core.strategies',"
            " 'workbench.core.training', 'workbench.core.diagnostics')))\n"
            "print(bad)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_sgd_nesterov_is_a_setting_off_by_default() -> None:
    from workbench.core.training.optim import build_optimizer

    cfg = ProjectConfig().training.model_copy(update={"optimizer": "sgd", "momentum": 0.9})
    params = [torch.nn.Parameter(torch.zeros(2))]
    assert build_optimizer(params, cfg).param_groups[0]["nesterov"] is False  # "plain or momentum SGD"
    on = cfg.model_copy(update={"nesterov": True})
    group = build_optimizer(params, on).param_groups[0]
    assert group["nesterov"] is True and group["momentum"] == 0.9
    assert build_optimizer(params, cfg.model_copy(update={"optimizer": "adamw"})).__class__ is torch.optim.AdamW


# --- a plugin adds one entry of every kind -----------------------------------------------------------


def build_tiny(config, info, in_channels: int, num_classes: int) -> torch.nn.Module:
    side = config.preprocessing.image_size
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(in_channels * side * side, num_classes))


def invert(strength: float, _size: int):
    return lambda image: (1 - image) * strength + image * (1 - strength)


def first_two(features, **kwargs):
    return features[:, :2]


def transpose_views(x: torch.Tensor) -> list[torch.Tensor]:
    return [x.transpose(-1, -2)]


class CountingMonitor:
    steps: ClassVar[list[int]] = []

    @classmethod
    def from_config(cls, config) -> CountingMonitor:
        return cls()

    def setup(self, context) -> None:
        CountingMonitor.steps = []

    def on_step(self, step, epoch, loss, x, y, logits) -> None:
        CountingMonitor.steps.append(step)

    def on_epoch_end(self, epoch, record) -> None:
        pass

    def on_run_end(self, status) -> None:
        pass


def register_everything() -> None:
    here = __name__
    plugins.register_architecture(plugins.ArchitectureInfo("plugin_net", "Plugin net", "Linear.", "Plugin",
                                                           timm_name=None, builder=f"{here}:build_tiny"))
    plugins.register_optimizer(plugins.OptimizerInfo("plugin_asgd", "ASGD", "Averaged SGD.", 0.01,
                                                     "torch.optim:ASGD"))
    plugins.register_scheduler(plugins.SchedulerInfo("plugin_linear", "Linear", "Linear decay to zero.",
                                                     factor=lambda clock, cfg: 1 - clock.progress))
    plugins.register_strategy(plugins.StrategyInfo("plugin_scratch", "Plugin scratch", "From scratch, by a plugin."))
    plugins.register_augmentation(plugins.AugmentationInfo("plugin_invert", "Invert", "Blend towards the negative.",
                                                           f"{here}:invert"))
    plugins.register_tta(plugins.TtaInfo("plugin_transpose", "Transpose", "Swap rows and columns.",
                                         f"{here}:transpose_views", ("transpose",)))
    plugins.register_projection(plugins.ProjectionInfo("plugin_first_two", "First two", "The first two features.",
                                                       f"{here}:first_two"))
    plugins.register_diagnostic(plugins.DiagnosticInfo("plugin_counter", "Counter", "Counts steps.", "II-A.4",
                                                       f"{here}:CountingMonitor.from_config", kind="training"))


@pytest.fixture
def plugin_loaded(monkeypatch: pytest.MonkeyPatch):
    registries = (ARCHITECTURES, OPTIMIZERS, SCHEDULERS, STRATEGIES, AUGMENTATIONS, TTA_AUGMENTATIONS, DIAGNOSTICS,
                  PROJECTIONS)
    before = [dict(r) for r in registries]
    found = [EntryPoint("everything", f"{__name__}:register_everything", plugins.GROUP)]
    monkeypatch.setattr(plugins, "entry_points", lambda group: found if group == plugins.GROUP else [])
    monkeypatch.setattr(plugins, "_loaded", {})
    assert plugins.load_plugins() == {"everything": "ok"}
    yield
    for registry, saved in zip(registries, before, strict=True):
        registry.clear()
        registry.update(saved)


def test_a_plugin_adds_one_of_each_kind_and_a_run_uses_them(plugin_loaded, shapes_dataset: Path,
                                                            tmp_path: Path) -> None:
    from workbench.core.data.transforms import build_augmentation
    from workbench.core.evaluation.tta import make_views
    from workbench.core.training.engine import train
    from workbench.core.training.optim import build_optimizer, lr_factor

    config = tiny_config(shapes_dataset, tmp_path / "runs", optimizer="plugin_asgd", scheduler="plugin_linear",
                         epochs=2)
    config.model.architecture = "plugin_net"
    config.strategy.name = "plugin_scratch"
    config.preprocessing.augmentation.extra = {"plugin_invert": 0.5}
    config.evaluation.tta_augmentations = ["plugin_transpose"]
    config.diagnostics.enabled = True
    config.diagnostics.data_checks = config.diagnostics.shortcut_check = config.diagnostics.label_check = False
    config.diagnostics.projection_every = 0

    assert isinstance(build_optimizer([torch.nn.Parameter(torch.zeros(1))], config.training), torch.optim.ASGD)
    assert lr_factor(config.training, 5, 10) == pytest.approx(0.75)  # 5 of 20 steps done
    image = torch.full((1, 4, 4), 0.2)
    augment = build_augmentation(config.preprocessing.augmentation, 4)
    assert augment is not None and torch.allclose(augment(image), torch.full((1, 4, 4), 0.5))
    x = torch.arange(4.0).reshape(1, 1, 2, 2)
    assert [name for name, _ in make_views(x, config.evaluation.tta_augmentations)] == ["original", "transpose"]
    from workbench.core.projection.methods import project

    config.diagnostics.projection_method = "plugin_first_two"
    assert project(x.reshape(2, 2).numpy(), "plugin_first_two").shape == (2, 2)

    result = train(config)
    assert result.status == "completed", result.reason
    assert len(CountingMonitor.steps) >= 2, "the plugin's training monitor was attached to the run"


def test_the_cli_lists_the_same_tta_choices(capsys: pytest.CaptureFixture[str]) -> None:
    from workbench.cli import main

    with pytest.raises(SystemExit):
        main(["eval", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    for info in TTA_AUGMENTATIONS.values():
        assert f"{info.name} ({info.label.lower()})" in help_text
    assert "{mean,vote}" in help_text
