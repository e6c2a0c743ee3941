"""Curriculum learning (Bengio et al. 2009; Hacohen & Weinshall 2019, paper section V-A).

A scoring function ranks the training images from easy to hard: the loss of a teacher (an earlier
run) or of a bootstrap model trained briefly on the same data. A pacing function sets the share of each
class in use at each epoch; each epoch draws its batches from the easiest share of every class, so the
class balance is kept. Scores are computed once, at the first epoch, and saved in `curriculum.json`,
so a resumed run follows the same curriculum.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from workbench.core.config import ConfigError
from workbench.core.data.stats import normalize
from workbench.core.data.transforms import build_augmentation
from workbench.core.events import LogMessage, StageProgress
from workbench.core.runs import read_json
from workbench.core.strategies.base import Strategy, StrategyContext
from workbench.core.strategies.common import build_architecture, check_stop, write_report
from workbench.core.strategies.pacing import easiest_subset, fill_epoch, pacing_fraction
from workbench.core.training.loop import BatchSource, StopRequested, train_one_epoch
from workbench.core.training.optim import build_optimizer, build_scheduler

REPORT_NAME = "curriculum.json"


@torch.no_grad()
def _per_image_loss(model: nn.Module, context: StrategyContext, indices: np.ndarray,
                    prepare=None) -> np.ndarray:
    """Cross-entropy of each image under `model` (no augmentation); `prepare` maps raw 0–1 batches to its input."""
    data = context.data
    model.eval()
    losses = []
    for start in range(0, len(indices), 256):
        check_stop(context.control)
        rows = indices[start:start + 256]
        x = torch.from_numpy(np.asarray(data.images.array[rows])).float().div_(data.images.value_scale)
        x = prepare(x) if prepare is not None else normalize(x, data.stats)
        y = torch.from_numpy(data.labels[rows]).to(context.device)
        logits = model(x.to(context.device)).float()
        losses.append(nn.functional.cross_entropy(logits, y, reduction="none").cpu().numpy())
    return np.concatenate(losses) if losses else np.zeros(0, np.float32)


def bootstrap_difficulty(context: StrategyContext, indices: np.ndarray) -> np.ndarray:
    """Train a fresh copy of the architecture for a few epochs on the training split; its loss on each image."""
    config = context.config
    epochs = config.strategy.bootstrap_epochs
    tcfg = config.training.model_copy(update={"epochs": epochs, "warmup_epochs": 0})
    model = build_architecture(config, context.data.in_channels, len(context.data.class_names)).to(context.device)
    source = BatchSource(data=context.data, indices=indices, batch_size=tcfg.batch_size, device=context.device,
                         stats=context.data.stats,
                         transform=build_augmentation(config.preprocessing.augmentation, config.preprocessing.image_size))
    steps = len(source.batches(source.epoch_order(0, tcfg.seed)))
    optimizer = build_optimizer([p for p in model.parameters() if p.requires_grad], tcfg)
    scheduler = build_scheduler(optimizer, tcfg, steps)
    total = epochs * steps

    for epoch in range(1, epochs + 1):
        def progress(b: int, n: int, *_: float, _epoch: int = epoch) -> None:
            context.emit(StageProgress("curriculum scoring", (_epoch - 1) * steps + b, total,
                                       f"bootstrap model, epoch {_epoch} of {epochs}"))

        try:
            train_one_epoch(model, source, source.batches(source.epoch_order(epoch, tcfg.seed + 1)), optimizer,
                            scheduler, nn.CrossEntropyLoss(), epoch=epoch, control=context.control, on_batch=progress)
        except StopRequested:
            raise StopRequested(0, {}) from None  # the supervised epoch has not begun: resume from its start
    return _per_image_loss(model, context, indices)


def teacher_difficulty(context: StrategyContext, indices: np.ndarray) -> np.ndarray:
    """The loss of an earlier run (the teacher) on each training image, with the teacher's own preprocessing."""
    from workbench.core.evaluation.run_loading import load_run

    path = context.config.strategy.teacher_run
    if not path:
        raise ConfigError("strategy.teacher_run is empty: choose the run folder of the teacher model")
    teacher = load_run(path, device=str(context.device))
    ours = context.data.class_names
    if sorted(teacher.class_names) != sorted(ours):
        raise ConfigError(f"the teacher run knows classes {teacher.class_names}, this dataset has {ours}: "
                          "a teacher must have been trained on the same classes")
    order = [teacher.class_names.index(name) for name in ours]  # our class i is the teacher's order[i]
    size = teacher.config.preprocessing.image_size

    def prepare(x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] != teacher.in_channels:
            x = x.mean(1, keepdim=True) if teacher.in_channels == 1 else x.expand(-1, 3, -1, -1)
        if x.shape[-1] != size:
            x = nn.functional.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        return normalize(x, teacher.stats)

    class Reordered(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return teacher.model(x)[:, order]

    return _per_image_loss(Reordered(), context, indices, prepare)


class CurriculumStrategy(Strategy):
    def __init__(self) -> None:
        self.indices: np.ndarray | None = None
        self.difficulty: np.ndarray | None = None
        self.labels: np.ndarray | None = None
        self.share: float | None = None

    def _load_or_score(self, context: StrategyContext) -> None:
        data, scfg = context.data, context.config.strategy
        indices = data.indices("train")
        saved = read_json(context.run_dir / REPORT_NAME, None)
        if saved and saved.get("indices") == indices.tolist():
            difficulty = np.asarray(saved["difficulty"], dtype=np.float64)
        else:
            devices = [context.device.index or 0] if context.device.type == "cuda" else []
            with torch.random.fork_rng(devices=devices):  # the supervised epochs keep the random state they expect
                torch.manual_seed(context.config.training.seed + 7)
                score = teacher_difficulty if scfg.scoring == "teacher" else bootstrap_difficulty
                difficulty = score(context, indices)
            epochs = context.config.training.epochs
            write_report(context, REPORT_NAME, {
                "scoring": scfg.scoring, "pacing": scfg.pacing,
                "shares": [pacing_fraction(e, scfg.pacing, scfg.start_fraction, scfg.pacing_growth, scfg.step_length)
                           for e in range(1, epochs + 1)],
                "indices": indices.tolist(), "difficulty": difficulty.tolist(),
            })
            context.emit(LogMessage("info", f"curriculum: scored {len(indices)} training images by "
                                            f"{'the teacher run' if scfg.scoring == 'teacher' else 'a bootstrap model'}"))
        self.indices, self.difficulty, self.labels = indices, difficulty, data.labels[indices]

    def on_epoch_start(self, epoch: int, model: nn.Module, optimizer: torch.optim.Optimizer,
                       context: StrategyContext) -> None:
        if self.difficulty is None:
            self._load_or_score(context)

    def select_indices(self, epoch: int, order: np.ndarray, context: StrategyContext) -> np.ndarray:
        if self.difficulty is None:
            self._load_or_score(context)
        assert self.indices is not None and self.labels is not None and self.difficulty is not None
        scfg = context.config.strategy
        share = pacing_fraction(epoch, scfg.pacing, scfg.start_fraction, scfg.pacing_growth, scfg.step_length)
        allowed = easiest_subset(self.indices, self.labels, self.difficulty, share)
        if share != self.share:
            context.emit(LogMessage("info", f"curriculum: epoch {epoch} uses the easiest {share:.0%} of each class "
                                            f"({len(allowed)} of {len(self.indices)} images)"))
            self.share = share
        kept = order[np.isin(order, allowed)]
        rng = np.random.default_rng([context.config.training.seed, epoch, 31])
        return fill_epoch(kept, len(order), rng)
