"""Held-out images copied into the unlabelled folder stay out of pretraining (issue 18, item 4)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.helpers import tiny_config
from workbench.core.callbacks import CollectingCallback
from workbench.core.data.splits import read_manifest
from workbench.core.events import LogMessage
from workbench.core.training.engine import train


def test_byte_identical_copies_of_held_out_images_are_left_out(shapes_dataset: Path, tmp_path: Path) -> None:
    unlabelled = tmp_path / "unlabelled"
    shutil.copytree(shapes_dataset, unlabelled / "copies")  # copies, not symlinks: only their bytes match
    config = tiny_config(shapes_dataset, tmp_path / "runs", epochs=1)
    config.strategy.name = "self_supervised"
    config.strategy.pretrain_epochs, config.strategy.pretrain_batch_size = 1, 32
    config.strategy.unlabelled_dir, config.strategy.downstream = str(unlabelled), "transfer"
    events = CollectingCallback()
    result = train(config, events)
    assert result.status == "completed", result.reason
    _, splits = read_manifest(result.run_dir / "split.csv")
    held_out = len(splits) - splits.count("train")
    report = json.loads((result.run_dir / "pretraining.json").read_text())
    assert report["images"].startswith(f"{splits.count('train')} unlabelled images"), report["images"]
    warnings = [e.message for e in events.of_type(LogMessage) if e.level == "warning"]
    assert any(f"{held_out} unlabelled image(s)" in m and "same content" in m for m in warnings), warnings
