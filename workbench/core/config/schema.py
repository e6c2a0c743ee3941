"""The project's settings as typed models: every field with a default, an allowed range or set of choices, and a
one-line description that the GUI shows as a tooltip. Choices come from the torch-free catalogs."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, field_validator

# The catalogs are torch-free leaf modules: the config imports them downwards, never the other way round.
from workbench.core.catalog.augmentations import AUGMENTATIONS, augmentation_doc
from workbench.core.catalog.optimizers import OPTIMIZERS
from workbench.core.catalog.projections import PROJECTIONS
from workbench.core.catalog.schedules import SCHEDULERS
from workbench.core.catalog.strategies import STRATEGIES
from workbench.core.catalog.tta import COMBINE_RULES, TTA_AUGMENTATIONS
from workbench.core.models.registry import ACTIVATIONS, is_known_architecture, small_cnn_doc

SCHEMA_VERSION = 1


class ConfigError(ValueError):
    """A project file or value that cannot be used; the message names the field and what is allowed."""


def _registered(registry: dict[str, Any], what: str) -> Any:
    """A name that must be in `registry`, looked up when validated (so entries added by plugins count too)."""
    def check(value: str) -> str:
        if value not in registry:
            raise ValueError(f"unknown {what} {value!r}; choose one of {sorted(registry)}")
        return value

    return Annotated[str, AfterValidator(check)]


# Every choice of these settings comes from its registry.
ActivationName = _registered(ACTIVATIONS, "activation")
StrategyName = _registered(STRATEGIES, "strategy")
OptimizerName = _registered(OPTIMIZERS, "optimizer")
SchedulerName = _registered(SCHEDULERS, "scheduler")
CombineRuleName = _registered(COMBINE_RULES, "combination rule")
TtaName = _registered(TTA_AUGMENTATIONS, "test-time augmentation")
ProjectionName = _registered(PROJECTIONS, "projection")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DataConfig(_Section):
    source: str = Field("", description="Folder of images (one sub-folder per class, or train/val/test) or a CSV manifest.")
    layout: Literal["auto", "class_folders", "csv", "presplit"] = Field(
        "auto", description="How the dataset is organised; 'auto' detects it."
    )
    val_fraction: float = Field(0.15, ge=0.0, le=0.5, description="Share of images held out for validation.")
    test_fraction: float = Field(0.15, ge=0.0, le=0.5, description="Share of images locked away as the test set.")
    stratified: bool = Field(True, description="Keep the class proportions equal in every split.")
    k_folds: int = Field(0, ge=0, le=20, description="Number of cross-validation folds on the training pool (0 = off).")
    fold: int = Field(0, ge=0, le=19, description="Which fold serves as validation when k-fold is on.")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Seed of the split, so it can be reproduced exactly.")


class AugmentationConfig(_Section):
    # Descriptions come from the augmentation registry, which also builds the transforms and the form.
    hflip: bool = Field(False, description=augmentation_doc("hflip"))
    vflip: bool = Field(False, description=augmentation_doc("vflip"))
    rotation: float = Field(0.0, ge=0.0, le=180.0, description=augmentation_doc("rotation"))
    crop_scale: float = Field(1.0, ge=0.3, le=1.0, description=augmentation_doc("crop_scale"))
    brightness: float = Field(0.0, ge=0.0, le=1.0, description=augmentation_doc("brightness"))
    contrast: float = Field(0.0, ge=0.0, le=1.0, description=augmentation_doc("contrast"))
    noise_std: float = Field(0.0, ge=0.0, le=0.5, description=augmentation_doc("noise_std"))
    blur_sigma: float = Field(0.0, ge=0.0, le=5.0, description=augmentation_doc("blur_sigma"))
    extra: dict[str, float] = Field(default_factory=dict,
                                    description="Settings of augmentations added by plugins, by name.")

    @field_validator("extra")
    @classmethod
    def _known_extra(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = [k for k in value if k not in AUGMENTATIONS or k in cls.model_fields]
        if unknown:
            raise ValueError(f"unknown plugin augmentation(s) {', '.join(map(repr, unknown))}; registered ones: "
                             f"{', '.join(k for k in AUGMENTATIONS if k not in cls.model_fields) or 'none'}")
        return value

    def value(self, name: str) -> Any:
        """The setting of augmentation `name`: its own field, or its entry in `extra` (off when absent)."""
        if name in type(self).model_fields and name != "extra":
            return getattr(self, name)
        return self.extra.get(name, AUGMENTATIONS[name].off)

    @property
    def enabled(self) -> bool:
        return any(info.active(self.value(name)) for name, info in AUGMENTATIONS.items())


class PreprocessingConfig(_Section):
    image_size: int = Field(32, ge=4, le=1024, description="Side of the square image the network sees, in pixels.")
    resize_mode: Literal["squash", "center_crop", "letterbox"] = Field(
        "squash", description="Stretch to the square, crop its centre, or pad to keep the aspect ratio."
    )
    channels: Literal["auto", "grayscale", "rgb"] = Field(
        "auto", description="Colour channels fed to the network; 'auto' uses greyscale when every image is grey."
    )
    normalization: Literal["none", "minmax", "zscore", "imagenet"] = Field(
        "zscore", description="How pixel values are scaled; statistics come from the training split only."
    )
    augmentation: AugmentationConfig = Field(default_factory=AugmentationConfig)
    cache: Literal["auto", "memory", "disk"] = Field(
        "auto", description="Keep decoded images in memory, or memory-mapped on disk when they are large."
    )


class SmallCNNConfig(_Section):
    # Descriptions come from the architecture registry, where the small CNN's options are described once.
    depth: int = Field(3, ge=1, le=8, description=small_cnn_doc("depth"))
    width: int = Field(32, ge=4, le=512, description=small_cnn_doc("width"))
    activation: ActivationName = Field("relu", description=small_cnn_doc("activation"))
    normalization: Literal["batch", "instance", "layer", "group", "none"] = Field(
        "batch", description=small_cnn_doc("normalization")
    )
    conv_type: Literal["standard", "bottleneck", "spatial_separable", "depthwise_separable"] = Field(
        "standard", description=small_cnn_doc("conv_type")
    )
    downsample: Literal["max", "avg", "strided", "blur"] = Field("max", description=small_cnn_doc("downsample"))
    dropout: float = Field(0.2, ge=0.0, le=0.9, description=small_cnn_doc("dropout"))
    width_multiplier: float = Field(1.0, ge=0.25, le=4.0, description=small_cnn_doc("width_multiplier"))
    depth_multiplier: float = Field(1.0, ge=0.5, le=4.0, description=small_cnn_doc("depth_multiplier"))
    kernel_size: int = Field(3, ge=1, le=9, description=small_cnn_doc("kernel_size"))


class ModelConfig(_Section):
    architecture: str = Field("small_cnn", description="Architecture from the registry, or any timm model name.")
    pretrained: bool = Field(False, description="Start from pretrained weights (downloads them unless cached).")
    small_cnn: SmallCNNConfig = Field(default_factory=SmallCNNConfig)

    @field_validator("architecture")
    @classmethod
    def _known_architecture(cls, value: str) -> str:
        if not is_known_architecture(value):
            raise ValueError(f"unknown architecture {value!r}; use 'small_cnn' or a timm model name such as 'resnet18'")
        return value


class StrategyConfig(_Section):
    """How the network is trained; each strategy reads only the fields its registry entry lists."""

    name: StrategyName = Field("scratch", description="How the network is trained.")
    # Pretrained weights (transfer learning, fine-tuning, feature extraction).
    weights: Literal["timm", "file", "run"] = Field(
        "timm", description="Where pretrained weights come from: timm's local cache, a weights file, or an earlier run."
    )
    weights_path: str = Field("", description="The .safetensors/.pth/.pt weights file, or the earlier run's folder.")
    min_match: float = Field(0.5, ge=0.05, le=1.0,
                             description="Smallest share of backbone tensors that must load, or the run is refused.")
    # Fine-tuning (also after self-supervised or autoencoder pretraining).
    unfreeze_blocks: int = Field(2, ge=0, le=100, description="Blocks, counted from the top, that fine-tuning unfreezes (0 = all).")
    unfreeze_every: int = Field(0, ge=0, le=1000,
                                description="Gradual unfreezing: head alone first, then one more block every n epochs (0 = at once).")
    finetune_lr: float = Field(1e-4, gt=0.0, le=1.0,
                               description="Learning rate of the top unfrozen block (the new head keeps the training rate).")
    lr_decay: float = Field(0.5, gt=0.0, le=1.0, description="Each lower block learns at this fraction of the rate of the block above.")
    # Feature extraction with a scikit-learn classifier.
    feature_layers: str = Field(
        "penultimate", description="Features from 'penultimate', 'all_blocks' (the stages the network marks as feature "
        "outputs, e.g. 5 of EfficientNet's 7 blocks; the run lists them), or layer names separated by commas "
        "(pooled, concatenated)."
    )
    pca_components: int = Field(0, ge=0, le=4096, description="Reduce the features to this many principal components (0 = off).")
    classifier: Literal["logistic", "linear_svm", "rbf_svm", "knn", "random_forest"] = Field(
        "logistic", description="Classifier trained on the extracted features."
    )
    regularization_c: float = Field(1.0, gt=0.0, le=1e6, description="Inverse regularisation strength C of logistic regression and SVMs.")
    neighbours: int = Field(5, ge=1, le=200, description="Neighbours k of the k-NN classifier and of nearest-neighbour evaluation.")
    trees: int = Field(200, ge=1, le=5000, description="Trees in the random forest.")
    # Curriculum learning.
    scoring: Literal["bootstrap", "teacher"] = Field(
        "bootstrap", description="How difficulty is scored: loss of a briefly trained model, or of an earlier run (teacher)."
    )
    teacher_run: str = Field("", description="Run folder of the teacher model, for teacher scoring.")
    bootstrap_epochs: int = Field(2, ge=1, le=100, description="Epochs of the bootstrap model that scores difficulty.")
    pacing: Literal["exponential", "step", "linear"] = Field(
        "exponential", description="Share of data per stage: start×growth^stage, start then all, or start×(stage+1)."
    )
    start_fraction: float = Field(0.25, ge=0.01, le=1.0, description="Share of the easiest images of each class used first.")
    pacing_growth: float = Field(2.0, ge=1.0, le=10.0, description="Exponential pacing: the share is multiplied by this at each stage.")
    step_length: int = Field(2, ge=1, le=1000, description="Epochs per curriculum stage.")
    # Pretraining on unlabelled images (self-supervised, autoencoder).
    ssl_method: Literal["simclr", "byol", "simsiam", "barlow_twins"] = Field(
        "simclr", description="Self-supervised method used to pretrain the network."
    )
    unlabelled_dir: str = Field("", description="Folder of unlabelled images; empty uses the training images with labels ignored.")
    pretrain_epochs: int = Field(20, ge=1, le=10000, description="Epochs of pretraining before supervised training.")
    pretrain_lr: float = Field(1e-3, gt=0.0, le=10.0, description="Learning rate of pretraining, with the training "
                                                                "optimizer and schedule over the pretraining epochs.")
    pretrain_batch_size: int = Field(128, ge=8, le=4096,
                                     description="Images per pretraining step (contrastive methods like large batches).")
    temperature: float = Field(0.2, ge=0.01, le=10.0, description="Temperature of SimCLR's NT-Xent loss.")
    projection_dim: int = Field(64, ge=8, le=4096, description="Output size of the projection head used only during pretraining.")
    downstream: Literal["fine_tune", "transfer"] = Field(
        "fine_tune", description="After pretraining: fine-tune the top blocks, or freeze the network and train the head."
    )
    # Metric learning.
    metric_loss: Literal["triplet", "contrastive"] = Field(
        "triplet", description="Batch-hard triplet loss, or the pairwise contrastive loss."
    )
    margin: float = Field(0.5, ge=0.0, le=4.0, description="Margin of the triplet or contrastive loss, on unit-length embeddings.")


class TrainingConfig(_Section):
    optimizer: OptimizerName = Field("adamw", description="Optimisation algorithm.")
    lr: float = Field(1e-3, gt=0.0, le=10.0, description="Learning rate (step size).")
    momentum: float = Field(0.9, ge=0.0, lt=1.0, description="Momentum for SGD (0 = plain SGD).")
    nesterov: bool = Field(False, description="Nesterov momentum for SGD: look ahead along the momentum before "
                                              "taking the gradient (needs momentum above 0).")
    weight_decay: float = Field(1e-4, ge=0.0, le=1.0, description="L2 penalty on the weights.")
    batch_size: int = Field(64, ge=1, le=4096, description="Images per optimisation step, per process: under torchrun "
                                                          "with N processes a step takes N × this many images.")
    epochs: int = Field(15, ge=1, le=10000, description="Passes over the training split.")
    scheduler: SchedulerName = Field("cosine", description="How the learning rate changes during training.")
    step_size: int = Field(10, ge=1, le=10000, description="Epochs between decays for the step schedule.")
    gamma: float = Field(0.5, gt=0.0, le=1.0, description="Decay factor for the step and exponential schedules.")
    restart_period: int = Field(5, ge=1, le=10000, description="Epochs in the first cycle of cosine with warm restarts.")
    warmup_epochs: int = Field(0, ge=0, le=1000, description="Epochs of linear warm-up before the schedule starts.")
    grad_clip_norm: float = Field(0.0, ge=0.0, le=1000.0, description="Clip the gradients' total norm to this value "
                                  "before each step (0 = off); tames exploding gradients.")
    class_weighting: bool = Field(False, description="Weight the loss by inverse class frequency (for imbalanced "
                                                     "data); feature extraction weights its classifier (not k-NN).")
    label_smoothing: float = Field(0.0, ge=0.0, lt=1.0, description="Label smoothing of the cross-entropy loss.")
    early_stopping_patience: int = Field(0, ge=0, le=1000, description="Stop after this many epochs without improvement (0 = off).")
    monitor: Literal["val_loss", "val_accuracy", "val_balanced_accuracy", "val_macro_f1"] = Field(
        "val_loss", description="Validation quantity that picks the best epoch and drives early stopping."
    )
    device: Literal["auto", "cpu", "cuda", "mps"] = Field("auto", description="Where to train; 'auto' prefers CUDA, then MPS.")
    amp: bool = Field(True, description="Mixed precision on CUDA (faster, less memory).")
    channels_last: bool = Field(True, description="Channels-last memory layout on CUDA and the CPU (faster convolutions).")
    tuned_conv_gradients: bool = Field(True, description="On the CPU, time each convolution's weight gradient "
                                       "both ways once, and compute it by matrix product in the layers where that "
                                       "is faster (same result to rounding).")
    deterministic: bool = Field(True, description="Use deterministic algorithms where the backend allows.")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Seed for weights, shuffling and augmentation.")


class EvaluationConfig(_Section):
    bootstrap_samples: int = Field(1000, ge=0, le=100000, description="Bootstrap resamples for confidence intervals.")
    tta_augmentations: list[TtaName] = Field(
        default_factory=list, description="Test-time augmentations whose predictions are combined with the plain one.")
    tta_rule: CombineRuleName = Field("mean", description="Combine TTA views by mean probability or majority vote.")
    robustness: bool = Field(False, description="Also score perturbed copies (noise, blur, shift, rotation, brightness, contrast, JPEG).")
    gallery_size: int = Field(12, ge=0, le=100, description="Most confident errors shown with saliency maps (0 = none).")
    calibration_bins: int = Field(10, ge=2, le=50, description="Confidence bins of the reliability diagram and calibration error.")


class SettingChangeRecord(_Section):
    key: str = Field(..., description="Dotted setting name, e.g. training.lr.")
    before: str = Field(..., description="The value before the fix, as JSON.")
    after: str = Field(..., description="The value the fix set, as JSON.")


class AppliedFixRecord(_Section):
    code: str = Field(..., description="The finding whose fix this was (lr-range-test for the learning-rate finder).")
    title: str = Field("", description="The finding's title when the fix was applied.")
    changes: list[SettingChangeRecord] = Field(default_factory=list)


class DiagnosticsConfig(_Section):
    applied_fixes: list[AppliedFixRecord] = Field(
        default_factory=list, description="Fixes applied from findings, oldest first: for Undo, and so that a later "
                                          "fix never silently undoes an earlier one.")
    enabled: bool = Field(True, description="Run the pitfall checks and the live feature projection during training.")
    data_checks: bool = Field(True, description="Check the data when a run starts (normalisation, duplicates, labels, size, balance).")
    training_checks: bool = Field(True, description="Watch the loss, gradients and ReLU units while training.")
    label_check: bool = Field(True, description="Look for likely label errors (cleanlab) in the data checks and in the "
                                                "network's validation predictions after a run.")
    shortcut_check: bool = Field(True, description="At the end, probe the model for shortcuts (a fixed small region or the border).")
    projection_every: int = Field(5, ge=0, le=1000, description="Project the validation features every N epochs (0 = only at the end).")
    projection_method: ProjectionName = Field("tsne", description="How features are projected to 2-D: tsne, umap or pca.")
    projection_max_points: int = Field(2000, ge=50, le=20000, description="Validation images shown in the projection.")
    projection_wait_s: float = Field(120.0, ge=0.0, le=3600.0, description="How long the end of a run waits for the final projection.")


class ExportConfig(_Section):
    onnx: bool = Field(True, description="Also export the model as ONNX.")


class ProjectConfig(_Section):
    schema_version: int = Field(SCHEMA_VERSION, ge=1, le=SCHEMA_VERSION, description="Version of this file's layout.")
    name: str = Field("untitled", min_length=1, max_length=200, description="Project name, shown in run lists.")
    runs_dir: str = Field("", description="Where runs are stored; empty means a 'runs' folder beside the project file.")
    data: DataConfig = Field(default_factory=DataConfig)
    preprocessing: PreprocessingConfig = Field(default_factory=PreprocessingConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    strategy: StrategyConfig = Field(default_factory=StrategyConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    diagnostics: DiagnosticsConfig = Field(default_factory=DiagnosticsConfig)
    export: ExportConfig = Field(default_factory=ExportConfig)

    # The dataset and runs paths as the project file wrote them, when relative (see resolve_paths, save_config).
    _relative: dict[str, str] = PrivateAttr(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        # The name becomes part of exported file names: it must never lead out of the folder it is written to.
        if "/" in value or "\\" in value or ".." in value or any(ord(ch) < 32 for ch in value):
            raise ValueError(
                "a project name may not contain '/', '\\', '..' or control characters, because it is used in file "
                "names; choose a plain name such as 'cell-types'"
            )
        if not value.strip():
            raise ValueError("the project name is blank; give it a name such as 'cell-types'")
        return value

    @field_validator("schema_version", mode="before")
    @classmethod
    def _supported_version(cls, value: Any) -> Any:
        if isinstance(value, int) and value > SCHEMA_VERSION:
            raise ValueError(
                f"this project was saved by a newer Workbench (schema {value}); this version reads up to "
                f"schema {SCHEMA_VERSION}. Update Workbench to open it"
            )
        return value
