"""Registry of training strategies (how a network is trained), as frozen dataclasses.

Each entry names the class that implements it as "module:Class", so listing strategies (for the GUI and for
config validation) never imports torch, and carries capability flags that the engine, the layout of
trainable layers and the Strategy pane read instead of testing a strategy's name.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from workbench.core.catalog import check_reference


@dataclass(frozen=True)
class StrategyInfo:
    name: str
    label: str
    description: str
    paper_section: str = ""
    impl: str = "workbench.core.strategies.base:Strategy"
    params: tuple[str, ...] = field(default_factory=tuple)  # StrategyConfig fields this strategy reads
    # Capabilities, read instead of the strategy's name:
    freezes_layers: bool = False  # trains some blocks only, or at their own rates (an UnfreezePlan)
    fixed_extractor: bool = False  # the network stays fixed; a fitted classifier replaces the head
    pretrains: bool = False  # runs a pretraining stage on unlabelled images first (then `downstream` applies)
    fine_tunes: bool = False  # unfreezes top blocks at their own rates (pretraining strategies: per `downstream`)
    takes_weights: bool = False  # starts from pretrained weights (timm, a file or an earlier run)

    @property
    def has_layer_table(self) -> bool:
        """The Strategy pane shows which blocks train, and at what rate, when not every block trains alike."""
        return self.freezes_layers or self.fixed_extractor


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
            "V", f"{_PKG}.transfer:TransferStrategy", _WEIGHTS, freezes_layers=True, takes_weights=True,
        ),
        StrategyInfo(
            "fine_tune", "Fine-tuning",
            "Start as transfer learning, then also train the top blocks at small rates that shrink towards the input.",
            "V", f"{_PKG}.transfer:FineTuneStrategy", _WEIGHTS + _UNFREEZE, freezes_layers=True, fine_tunes=True,
            takes_weights=True,
        ),
        StrategyInfo(
            "feature_extraction", "Feature extraction + classifier",
            "Use a pretrained network as a fixed feature extractor and fit a scikit-learn classifier on its features.",
            "V", f"{_PKG}.feature_extraction:FeatureExtractionStrategy",
            (*_WEIGHTS, "feature_layers", "pca_components", "classifier", "regularization_c", "neighbours", "trees"),
            fixed_extractor=True, takes_weights=True,
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
            freezes_layers=True, pretrains=True,
        ),
        StrategyInfo(
            "autoencoder", "Autoencoder warm-up",
            "Pretrain the network as the encoder of a convolutional autoencoder on unlabelled images, then classify.",
            "V", f"{_PKG}.autoencoder:AutoencoderStrategy", (*_PRETRAIN, "downstream", *_UNFREEZE),
            freezes_layers=True, pretrains=True,
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
    check_reference("strategy", info.name, info.impl)
    STRATEGIES[info.name] = info
