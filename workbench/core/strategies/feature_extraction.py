"""Feature extraction: a pretrained network as a fixed feature extractor, and a scikit-learn classifier on top.

`fit` replaces the epoch loop: it extracts the training features once, standardises them, optionally
reduces them by PCA, fits the classifier, and stores all of it as tensors in the model, so the engine
validates, checkpoints and reports the result like any trained network (as one epoch).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
from torch import nn

from workbench.core.config import ProjectConfig
from workbench.core.events import LogMessage
from workbench.core.strategies.base import Strategy, StrategyContext
from workbench.core.strategies.common import build_architecture, embed, source_for, stage_reporter, write_report
from workbench.core.strategies.feature_heads import WEIGHTABLE, fit_head, make_head
from workbench.core.strategies.features import ALL_BLOCKS, FeatureClassifier
from workbench.core.strategies.weights import architecture_config, load_pretrained
from workbench.core.training.loop import EpochResult

REPORT_NAME = "feature_extraction.json"


def wrap_backbone(config: ProjectConfig, in_channels: int, num_classes: int) -> FeatureClassifier:
    scfg = config.strategy
    backbone = build_architecture(config, in_channels, num_classes)
    return FeatureClassifier(backbone, scfg.feature_layers, make_head(scfg.classifier, num_classes, scfg.neighbours))


def fit_transform(model: FeatureClassifier, raw: np.ndarray, pca_components: int, seed: int) -> dict[str, Any]:
    """Fit standardisation (and PCA) on the training features and store them in `model.transform`."""
    device = model.transform.mean.device
    mean = raw.mean(0)
    scale = raw.std(0)
    scale[scale < 1e-6] = 1.0  # a constant feature is left unscaled rather than blown up
    model.transform.mean = torch.as_tensor(mean, device=device)
    model.transform.scale = torch.as_tensor(scale, device=device)
    info: dict[str, Any] = {"feature_dim": int(raw.shape[1]), "pca_components": 0}
    if pca_components:
        from sklearn.decomposition import PCA

        n = min(pca_components, raw.shape[0], raw.shape[1])
        pca = PCA(n, random_state=seed).fit((raw - mean) / scale)
        model.transform.pca_mean = torch.as_tensor(pca.mean_, dtype=torch.float32, device=device)
        model.transform.components = torch.as_tensor(pca.components_, dtype=torch.float32, device=device)
        info.update(pca_components=int(n), explained_variance=float(pca.explained_variance_ratio_.sum()))
    return info


def _weighting_note(classifier: str, balanced: bool) -> str:
    """How the fitted classifier treats class frequencies, for the run's report."""
    if not balanced:
        return "off"
    return "balanced" if classifier in WEIGHTABLE else f"not supported by {classifier}"


class FeatureExtractionStrategy(Strategy):
    def build_model(self, context: StrategyContext) -> nn.Module | None:
        return wrap_backbone(architecture_config(context), context.data.in_channels, len(context.data.class_names))

    def inference_model(self, config: ProjectConfig, in_channels: int, num_classes: int) -> nn.Module | None:
        return wrap_backbone(config, in_channels, num_classes)

    def prepare_model(self, model: nn.Module, context: StrategyContext, resuming: bool) -> None:
        assert isinstance(model, FeatureClassifier)
        if not resuming:
            load_pretrained(model.backbone, context)
        model.requires_grad_(False)

    def param_groups(self, model: nn.Module, context: StrategyContext) -> Iterable[Any]:
        return list(model.parameters())  # frozen: the engine's optimizer is built but never steps

    def replaces_training(self) -> bool:
        return True

    def fit(self, model: nn.Module, context: StrategyContext) -> EpochResult:
        assert isinstance(model, FeatureClassifier)
        started = time.perf_counter()
        config, scfg = context.config, context.config.strategy
        model.eval()
        source = source_for(context, context.data.indices("train"))
        raw, labels = embed(model.raw_features, source, context.control, stage_reporter(context, "extracting features"))
        info = fit_transform(model, raw, scfg.pca_components, config.training.seed)
        with torch.no_grad():
            features = model.transform(torch.from_numpy(raw).to(context.device)).cpu().numpy()
        balanced = config.training.class_weighting
        head = fit_head(scfg.classifier, features, labels, model.num_classes, c=scfg.regularization_c,
                        k=scfg.neighbours, trees=scfg.trees, seed=config.training.seed, balanced=balanced)
        weighting = _weighting_note(scfg.classifier, balanced)
        if balanced and scfg.classifier not in WEIGHTABLE:
            context.emit(LogMessage("warning", "class weighting is on, but k-NN does not weight classes: its votes "
                                               "follow the training images as they are. Choose logistic regression, "
                                               "an SVM or a random forest to weight the rare classes"))
        model.head = head.to(context.device)
        with torch.no_grad():
            logits = model.head(torch.from_numpy(features).to(context.device)).float().cpu()
        target = torch.from_numpy(labels)
        loss = float(nn.functional.cross_entropy(logits, target))
        accuracy = float((logits.argmax(1) == target).float().mean())
        seconds = time.perf_counter() - started
        report = {**info, "layers": model.layers or ["penultimate"], "classifier": scfg.classifier,
                  "class_weighting": weighting, "train_images": len(labels), "train_accuracy": accuracy, "seconds": seconds}
        write_report(context, REPORT_NAME, report)
        reduced = f", PCA to {info['pca_components']}" if info["pca_components"] else ""
        if scfg.feature_layers.strip() == ALL_BLOCKS:  # not every block: the stages the network marks as features
            context.emit(LogMessage("info", f"feature_layers 'all_blocks' = the {len(report['layers'])} stages this "
                                            f"network marks as feature outputs: {', '.join(report['layers'])}; "
                                            "name layers (comma-separated) to use others"))
        context.emit(LogMessage("info", f"feature extraction: {info['feature_dim']} features from "
                                        f"{', '.join(report['layers'])}{reduced}; {scfg.classifier} fitted on {len(labels)} "
                                        f"images, class weighting {weighting} (training accuracy {accuracy:.3f}) in {seconds:.1f}s"))
        return EpochResult(loss, accuracy, len(labels), seconds)
