"""Metric learning for retrieval-style tasks (paper section V-B): contrastive or triplet loss on unit-length
embeddings (the network's penultimate features), then classification and retrieval by nearest neighbours.

`fit` runs its own epochs (batches of P classes × K images, so every anchor has positives), emitting
events with phase="metric_learning" and the retrieval quality on the validation images after each
epoch: k-NN accuracy and recall@k (share of queries with a same-class image among their k nearest
training images). The final model stores the training embeddings and classifies by k-NN, so the
engine evaluates it like any other network.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
from torch import nn

from workbench.core.config import ProjectConfig
from workbench.core.data.transforms import build_augmentation
from workbench.core.events import EpochEnded, LogMessage
from workbench.core.models.pretrained import head_prefixes, is_head_key
from workbench.core.strategies import losses
from workbench.core.strategies.base import Strategy, StrategyContext
from workbench.core.strategies.common import build_architecture, embed, source_for, write_report
from workbench.core.strategies.feature_heads import KNNHead
from workbench.core.strategies.features import PENULTIMATE, FeatureClassifier
from workbench.core.training.loop import BatchSource, EpochResult
from workbench.core.training.optim import build_optimizer, build_scheduler
from workbench.core.training.steps import StepLoop, StepOutput, StopRequested

PHASE = "metric_learning"
PER_CLASS = 4  # K images of each class in a batch
RECALL_AT = (1, 5)
REPORT_NAME = "retrieval.json"


def pk_batches(indices: np.ndarray, labels: np.ndarray, batch_size: int, rng: np.random.Generator,
               per_class: int = PER_CLASS) -> list[np.ndarray]:
    """Batches made of groups of `per_class` same-class images, the groups in random order."""
    groups: list[np.ndarray] = []
    for c in np.unique(labels):
        members = rng.permutation(indices[labels == c])
        chunks = [members[i:i + per_class] for i in range(0, len(members), per_class)]
        if len(chunks) > 1 and len(chunks[-1]) == 1:  # a lone image has no positive
            last = chunks.pop()
            chunks[-1] = np.concatenate([chunks[-1], last])
        groups += chunks
    groups = [groups[i] for i in rng.permutation(len(groups))]
    per_batch = max(2, batch_size // per_class)
    batches = [np.concatenate(groups[i:i + per_batch]) for i in range(0, len(groups), per_batch)]
    # A last batch of one group has no negatives. Deciding by the group count, not the images, keeps the number
    # of batches the same every epoch, so the learning-rate schedule's steps per epoch are exact.
    if len(batches) > 1 and len(groups) % per_batch == 1:
        last = batches.pop()
        batches[-1] = np.concatenate([batches[-1], last])
    return batches


def retrieval_metrics(query: torch.Tensor, query_labels: torch.Tensor, gallery: torch.Tensor,
                      gallery_labels: torch.Tensor, k: int, num_classes: int, same_set: bool = False) -> dict[str, float]:
    """k-NN accuracy and recall@k of `query` against `gallery` (leave-one-out when both are the same set)."""
    distance = torch.cdist(query, gallery)
    if same_set:
        distance.fill_diagonal_(float("inf"))
    depth = min(max(k, *RECALL_AT), gallery.shape[0] - int(same_set))
    nearest = distance.topk(depth, largest=False).indices
    hits = gallery_labels[nearest] == query_labels[:, None]
    votes = nn.functional.one_hot(gallery_labels[nearest[:, :k]], num_classes).sum(1)
    out = {"knn_accuracy": float((votes.argmax(1) == query_labels).float().mean())}
    for r in RECALL_AT:
        out[f"recall_at_{r}"] = float(hits[:, :r].any(1).float().mean())
    return out


def wrap_embedding(config: ProjectConfig, in_channels: int, num_classes: int) -> FeatureClassifier:
    backbone = build_architecture(config, in_channels, num_classes)
    return FeatureClassifier(backbone, PENULTIMATE, KNNHead(num_classes, config.strategy.neighbours),
                             l2_normalise=True, frozen=False)


class MetricLearningStrategy(Strategy):
    def build_model(self, context: StrategyContext) -> nn.Module | None:
        return wrap_embedding(context.config, context.data.in_channels, len(context.data.class_names))

    def inference_model(self, config: ProjectConfig, in_channels: int, num_classes: int) -> nn.Module | None:
        return wrap_embedding(config, in_channels, num_classes)

    def param_groups(self, model: nn.Module, context: StrategyContext) -> Iterable[Any]:
        return list(model.parameters())

    def replaces_training(self) -> bool:
        return True

    def fit(self, model: nn.Module, context: StrategyContext) -> EpochResult:
        assert isinstance(model, FeatureClassifier)
        config, tcfg, scfg = context.config, context.config.training, context.config.strategy
        data, n_classes = context.data, len(context.data.class_names)
        head = head_prefixes(model.backbone)  # the backbone's own classifier is not used by the embedding
        params = [p for n, p in model.backbone.named_parameters() if not is_head_key(n, head)]
        train_idx, val_idx = data.indices("train"), data.indices("val")
        train_labels = data.labels[train_idx]
        source = BatchSource(data=data, indices=train_idx, batch_size=tcfg.batch_size, device=context.device,
                             stats=data.stats, transform=build_augmentation(config.preprocessing.augmentation,
                                                                            config.preprocessing.image_size))
        steps = len(pk_batches(train_idx, train_labels, tcfg.batch_size, np.random.default_rng(0)))
        optimizer = build_optimizer(params, tcfg)
        scheduler = build_scheduler(optimizer, tcfg, steps)
        loss_fn = losses.batch_hard_triplet if scfg.metric_loss == "triplet" else losses.contrastive_pairs
        started, history = time.perf_counter(), []
        mean_loss = math.nan
        # Float32 steps (no AMP), as before the shared loop: the margins are not checked under float16.
        loop = StepLoop(optimizer, scheduler, emit=context.emit, phase=PHASE, control=context.control,
                        device_type=context.device.type, clip_grad_norm=tcfg.grad_clip_norm)

        def loss_of(batch: tuple[torch.Tensor, torch.Tensor]) -> StepOutput:
            x, y = batch
            return StepOutput(loss_fn(model.raw_features(x), y, scfg.margin), len(y))

        for epoch in range(1, tcfg.epochs + 1):
            batches = pk_batches(train_idx, train_labels, tcfg.batch_size, np.random.default_rng([tcfg.seed, epoch]))
            began = time.perf_counter()  # the epoch's seconds include its evaluation, as shown before
            model.train()
            try:
                result = loop.run_epoch(epoch, batches, lambda rows: source.load(rows, augment=True), loss_of)
            except StopRequested:
                raise StopRequested(0, {}) from None  # the engine's epoch 1 has not begun: resume from its start
            mean_loss = result.loss
            metrics, val_loss = self._evaluate(model, context, train_idx, val_idx, loss_fn)
            history.append({"epoch": epoch, "train_loss": mean_loss, "val_loss": val_loss, **metrics})
            context.emit(EpochEnded(epoch, tcfg.epochs, mean_loss, val_loss, math.nan, metrics,
                                    loop.lr if result.lr is None else result.lr, time.perf_counter() - began, False, PHASE))
        model.eval()
        bank, labels = embed(model.raw_features, source_for(context, train_idx), context.control)
        model.head.set(bank, labels)  # type: ignore[operator]
        model.head.to(context.device)
        final = history[-1] if history else {}
        write_report(context, REPORT_NAME, {"loss": scfg.metric_loss, "margin": scfg.margin, "history": history})
        context.emit(LogMessage("info", "metric learning finished: validation k-NN accuracy "
                                        f"{final.get('knn_accuracy', math.nan):.3f}, recall@1 {final.get('recall_at_1', math.nan):.3f}"))
        train_metrics = retrieval_metrics(torch.from_numpy(bank), torch.from_numpy(labels), torch.from_numpy(bank),
                                          torch.from_numpy(labels), scfg.neighbours, n_classes, same_set=True)
        return EpochResult(mean_loss, train_metrics["knn_accuracy"], len(train_idx) * tcfg.epochs,
                           time.perf_counter() - started, {k: v for k, v in final.items() if k != "epoch"})

    @staticmethod
    def _evaluate(model: FeatureClassifier, context: StrategyContext, train_idx: np.ndarray, val_idx: np.ndarray,
                  loss_fn) -> tuple[dict[str, float], float]:
        model.eval()
        gallery, gallery_labels = embed(model.raw_features, source_for(context, train_idx), context.control)
        same = not len(val_idx)
        query, query_labels = (gallery, gallery_labels) if same else embed(
            model.raw_features, source_for(context, val_idx), context.control)
        q, ql = torch.from_numpy(query), torch.from_numpy(query_labels)
        metrics = retrieval_metrics(q, ql, torch.from_numpy(gallery), torch.from_numpy(gallery_labels),
                                    context.config.strategy.neighbours, len(context.data.class_names), same)
        val_loss = math.nan if same else float(loss_fn(q[:2000], ql[:2000], context.config.strategy.margin))
        return metrics, val_loss
