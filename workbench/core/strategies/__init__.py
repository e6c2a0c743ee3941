"""Registry of training strategies (how a network is trained), as frozen dataclasses.

Each entry names the class that implements it as "module:Class", so listing strategies (for the GUI
and for config validation) never imports torch.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workbench.core.strategies.base import Strategy


@dataclass(frozen=True)
class StrategyInfo:
    name: str
    label: str
    description: str
    paper_section: str = ""
    impl: str = "workbench.core.strategies.base:Strategy"
    params: tuple[str, ...] = field(default_factory=tuple)  # StrategyConfig fields this strategy reads


_PKG = "workbench.core.strategies"
_WEIGHTS = ("weights", "weights_path", "min_match")
_UNFREEZE = ("unfreeze_blocks", "unfreeze_every", "finetune_lr", "lr_decay")
_PRETRAIN = ("unlabelled_dir", "pretrain_epochs", "pretrain_lr", "pretrain_batch_size")

STRATEGIES: dict[str, StrategyInfo] = {
    s.name: s
    for s in (
        StrategyInfo(
            "scratch",
            "From scratch",
            "Train every weight from a random start; needs enough data (section II-B suggests ~1,500 per class).",
            "II-B",
        ),
        StrategyInfo(
            "transfer", "Transfer learning",
            "Put a new head on a pretrained network, freeze everything else, and train the head only.",
            "V", f"{_PKG}.transfer:TransferStrategy", _WEIGHTS,
        ),
        StrategyInfo(
            "fine_tune", "Fine-tuning",
            "Start as transfer learning, then also train the top blocks at small rates that shrink towards the input.",
            "V", f"{_PKG}.transfer:FineTuneStrategy", _WEIGHTS + _UNFREEZE,
        ),
        StrategyInfo(
            "feature_extraction", "Feature extraction + classifier",
            "Use a pretrained network as a fixed feature extractor and fit a scikit-learn classifier on its features.",
            "V", f"{_PKG}.feature_extraction:FeatureExtractionStrategy",
            (*_WEIGHTS, "feature_layers", "pca_components", "classifier", "regularization_c", "neighbours", "trees"),
        ),
        StrategyInfo(
            "curriculum", "Curriculum learning",
            "Train on the easiest images of every class first, adding harder ones stage by stage.",
            "V-A", f"{_PKG}.curriculum:CurriculumStrategy",
            ("scoring", "teacher_run", "bootstrap_epochs", "pacing", "start_fraction", "pacing_growth", "step_length"),
        ),
        StrategyInfo(
            "self_supervised", "Self-supervised pretraining",
            "Pretrain on unlabelled images (SimCLR, BYOL, SimSiam or Barlow Twins), then transfer or fine-tune on the labels.",
            "V-C", f"{_PKG}.self_supervised:SelfSupervisedStrategy",
            ("ssl_method", *_PRETRAIN, "temperature", "projection_dim", "downstream", *_UNFREEZE),
        ),
        StrategyInfo(
            "autoencoder", "Autoencoder warm-up",
            "Pretrain the network as the encoder of a convolutional autoencoder on unlabelled images, then classify.",
            "V", f"{_PKG}.autoencoder:AutoencoderStrategy", (*_PRETRAIN, "downstream", *_UNFREEZE),
        ),
        StrategyInfo(
            "metric_learning", "Metric learning (retrieval)",
            "Learn embeddings where same-class images lie close (triplet or contrastive loss); classify by nearest neighbours.",
            "V-B", f"{_PKG}.metric_learning:MetricLearningStrategy", ("metric_loss", "margin", "neighbours"),
        ),
    )
}


def register_strategy(info: StrategyInfo) -> None:
    """Add or replace a strategy entry (used by Workbench's own modules and by plugins)."""
    STRATEGIES[info.name] = info


def load_strategy(name: str) -> Strategy:
    info = STRATEGIES[name]
    module_name, _, class_name = info.impl.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls()
