"""Strategy step: how the network is trained (optimiser, learning rate and its schedule, stopping, device).

Every form here is generated from the config's field metadata and the engine's registries of
strategies, optimisers and schedules; the schedule is drawn as it will run, and for strategies that freeze
part of the network a table shows which blocks train, when, and at what rate (computed in the background).
The Optimisation group also holds the learning-rate finder (a short range test run in the background, see
`workbench.qt.widgets.lr_finder`), whose suggestion can be applied with one click.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QGridLayout, QLabel, QWidget

from workbench.core.strategies import STRATEGIES
from workbench.core.strategies.layout import trainable_layout
from workbench.core.training.optim import OPTIMIZERS, SCHEDULERS, schedule_curve
from workbench.qt import jobs
from workbench.qt.panes.base import Pane, group, hint
from workbench.qt.project_model import key_affects
from workbench.qt.tasks import TaskFailure
from workbench.qt.widgets.curve_plot import CurvePlot
from workbench.qt.widgets.forms import ConfigForm, FieldSpec, registry_choices, section_model
from workbench.qt.widgets.layer_table import LayerTable
from workbench.qt.widgets.lr_finder import LRFinderPanel
from workbench.qt.widgets.step_list import StepState, StepStatus

# Settings that change the layout: the strategy, the architecture, the input size, the head's rate and the epochs.
LAYOUT_KEYS = ("strategy", "model", "preprocessing", "training.lr", "training.epochs")


def _scheduler_uses(param: str):
    return lambda config: param in SCHEDULERS[config.training.scheduler].params


def optimisation_fields() -> list[FieldSpec | str]:
    return [
        FieldSpec("optimizer", choices=registry_choices(OPTIMIZERS)),
        "lr",
        FieldSpec("momentum", enabled_when=lambda c: OPTIMIZERS[c.training.optimizer].has_momentum),
        FieldSpec("nesterov", label="Nesterov momentum",
                  enabled_when=lambda c: OPTIMIZERS[c.training.optimizer].has_nesterov and c.training.momentum > 0),
        "weight_decay",
        "grad_clip_norm",
        "batch_size",
        "epochs",
    ]


def schedule_fields() -> list[FieldSpec | str]:
    return [
        FieldSpec("scheduler", label="Schedule", choices=registry_choices(SCHEDULERS)),
        "warmup_epochs",
        FieldSpec("step_size", visible_when=_scheduler_uses("step_size")),
        FieldSpec("gamma", visible_when=lambda c: bool({"gamma"} & set(SCHEDULERS[c.training.scheduler].params))),
        FieldSpec("restart_period", visible_when=_scheduler_uses("restart_period")),
    ]


def strategy_fields() -> list[FieldSpec]:
    """Every strategy option, each shown only while the chosen strategy's registry entry lists it."""
    names = [n for n in section_model("strategy").model_fields if n != "name"]
    return [FieldSpec(n, visible_when=lambda c, n=n: n in STRATEGIES[c.strategy.name].params) for n in names]


SCHEDULE_POINTS = 2000  # the preview's resolution; a 200-epoch × 3,125-step schedule would be 625,000 points


def preview_steps(epochs: int, steps_per_epoch: int) -> int:
    """Steps per epoch to sample the schedule at, so the preview has at most about SCHEDULE_POINTS points. The
    schedule is a function of the fraction of training done, so a coarser step only lowers the resolution."""
    return max(1, min(steps_per_epoch, SCHEDULE_POINTS // max(epochs, 1)))


class StrategyPane(Pane):
    key = "strategy"
    title = "Strategy"
    subtitle = "Decide how the network learns: optimiser, learning rate and schedule, when to stop, and where to train."

    def __init__(self, context, parent=None) -> None:
        super().__init__(context, parent)
        self.dataset = context.dataset
        self.tasks = context.tasks
        self.devices: Any = None
        self._build()
        # The finder trains on the same device; it waits while a run is going.
        context.runner.running_changed.connect(self.lr_finder.set_training)
        self.lr_finder.set_training(context.runner.is_running)
        self._plot_timer = QTimer(self)
        self._plot_timer.setSingleShot(True)
        self._plot_timer.setInterval(80)
        self._plot_timer.timeout.connect(self._draw_schedule)
        self.project.changed.connect(self._on_project_changed)
        self.dataset.changed.connect(self._plot_timer.start)
        self.layer_rows: list[dict[str, Any]] = []
        self._layout_stale = True
        self._layout_timer = QTimer(self)
        self._layout_timer.setSingleShot(True)
        self._layout_timer.setInterval(300)
        self._layout_timer.timeout.connect(self.refresh_layers)
        self.dataset.changed.connect(self._layout_timer.start)
        self._on_project_changed("")

    def shown(self) -> None:
        """Detect the devices when first needed (it imports torch; the main window usually did it already)."""
        if self._layout_stale:
            self._layout_timer.start()
        if self.devices is None and not self.tasks.is_running("devices"):
            self.tasks.submit("devices", jobs.detect_devices, label=self.tr("Detecting devices"),
                              on_result=self.set_devices, on_error=self._on_devices_failed, expected=(Exception,))

    def set_devices(self, report: Any) -> None:
        self._on_devices(report)

    def _build(self) -> None:
        self.strategy_form = ConfigForm(self.project, "strategy",
                                        [FieldSpec("name", label="Strategy", choices=registry_choices(STRATEGIES))])
        self.strategy_options = ConfigForm(self.project, "strategy", strategy_fields())
        self.strategy_note = hint("")
        top = QWidget()
        grid = QGridLayout(top)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(14)
        grid.setVerticalSpacing(14)
        grid.addWidget(group(self.tr("Training strategy"), self.strategy_form, self.strategy_note,
                             self.strategy_options, stretch=True),
                       0, 0, 1, 2)

        self.layers_note = hint("")
        self.layer_table = LayerTable()
        self.layers_group = group(self.tr("Trainable layers"), self.layers_note, self.layer_table)
        grid.addWidget(self.layers_group, 1, 0, 1, 2)

        self.optim_form = ConfigForm(self.project, "training", optimisation_fields())
        self.lr_hint = hint("")
        self.lr_finder = LRFinderPanel(self.project, self.tasks)
        grid.addWidget(group(self.tr("Optimisation"), self.optim_form, self.lr_hint, self.lr_finder, stretch=True), 2, 0)

        self.schedule_form = ConfigForm(self.project, "training", schedule_fields())
        self.schedule_plot = CurvePlot(self.tr("Learning rate by epoch"), self.tr("learning rate"),
                                       show_legend=False)
        self.schedule_plot.setMinimumHeight(170)
        self.schedule_plot.setMaximumHeight(240)
        self.schedule_plot.add_series("lr", self.tr("learning rate"), "purple", width=2.0)
        # Stretch: when the finder's curve makes the row taller, the schedule stays at the top of its box.
        grid.addWidget(group(self.tr("Learning-rate schedule"), self.schedule_form, self.schedule_plot, stretch=True), 2, 1)

        self.loss_form = ConfigForm(self.project, "training", ["class_weighting", "label_smoothing",
                                                                "early_stopping_patience", "monitor"])
        grid.addWidget(group(self.tr("Loss and stopping"), self.loss_form, stretch=True), 3, 0)

        self.device_form = ConfigForm(self.project, "training", ["device", "amp", "channels_last",
                                                                  "tuned_conv_gradients", "deterministic", "seed"])
        self.device_label = QLabel(self.tr("Detecting devices…"))
        self.device_label.setObjectName("summary")
        self.device_label.setWordWrap(True)
        grid.addWidget(group(self.tr("Hardware and reproducibility"), self.device_label, self.device_form,
                             stretch=True), 3, 1)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)
        self.body_layout.addWidget(top)
        self.body_layout.addStretch(1)

    # --- reacting ---------------------------------------------------------------------------------

    def _on_project_changed(self, key: str) -> None:
        config = self.project.config
        if key_affects(key, "strategy"):
            info = STRATEGIES[config.strategy.name]
            self.strategy_note.setText(info.description)
            self.strategy_options.setVisible(bool(info.params))
            self.layers_group.setVisible(self.shows_layers())
        if key_affects(key, *LAYOUT_KEYS):
            self._layout_stale = True
            self._layout_timer.start()
        if key_affects(key, "training"):
            info = OPTIMIZERS[config.training.optimizer]
            text = info.description
            if abs(config.training.lr - info.default_lr) / info.default_lr > 4:
                text += " " + self.tr("Its usual learning rate is about {0:g}; yours is {1:g}.").format(
                    info.default_lr, config.training.lr)
            self.lr_hint.setText(text)
            self._plot_timer.start()
            self._show_devices()
        self.status_changed.emit()

    def steps_per_epoch(self) -> int:
        overview = self.dataset.overview
        train = overview.split_totals()["train"] if overview is not None else 0
        batch = self.project.config.training.batch_size
        return max(1, -(-train // batch)) if train else 10

    def _draw_schedule(self) -> None:
        points = schedule_curve(self.project.config.training, preview_steps(self.project.config.training.epochs,
                                                                            self.steps_per_epoch()))
        if len(points) > SCHEDULE_POINTS:  # more epochs than points: keep every n-th epoch
            points = points[:: len(points) // SCHEDULE_POINTS + 1]
        xs = [p[0] for p in points]
        ys = [p[1] for p in points]
        self.schedule_plot.set_series("lr", xs, ys)

    # --- trainable layers ------------------------------------------------------------------------

    def shows_layers(self) -> bool:
        return STRATEGIES[self.project.config.strategy.name].has_layer_table

    def refresh_layers(self) -> None:
        """Work out the trainable layout in a worker (it builds the model, so it needs torch).

        Only while the pane is visible and the strategy freezes something; otherwise it waits for `shown`.
        """
        if not self.shows_layers():
            self.tasks.cancel("strategy-layers")
            return
        if not self.isVisible():
            self._layout_stale = True
            return
        self._layout_stale = False
        classes = len(self.dataset.class_names) or 10
        channels = self.dataset.in_channels or 3
        self.layers_note.setText(self.tr("Working out which blocks train…"))
        self.tasks.submit("strategy-layers", trainable_layout, self.project.effective_config(), channels, classes,
                          label=self.tr("Working out trainable layers"), on_result=self._on_layers,
                          on_error=self._on_layers_failed, expected=(Exception,))

    def _on_layers(self, rows: list[dict[str, Any]]) -> None:
        self.layer_rows = list(rows)
        self.layer_table.set_layout(self.layer_rows)
        start, end = self.layer_table.trainable_counts()
        total = len(self.layer_rows)
        params = sum(int(r["params"]) for r in self.layer_rows)
        trained = sum(int(r["params"]) for r in self.layer_rows if r["trainable_start"] or r["trainable_end"])
        info = STRATEGIES[self.project.config.strategy.name]
        if info.fixed_extractor:
            text = self.tr("The network is a fixed feature extractor: no block trains; a classifier is fitted on its features.")
        else:
            text = self.tr("{0} of {1} blocks train from the first epoch, {2} by the last; {3:,} of {4:,} parameters train.").format(
                start, total, end, trained, params)
            if info.pretrains:  # self-supervised and autoencoder pretraining alike
                text += " " + self.tr("Pretraining trains every block first.")
        self.layers_note.setText(text)

    def _on_layers_failed(self, failure: TaskFailure) -> None:
        self.layer_rows = []
        self.layer_table.set_layout([])
        self.layers_note.setText(self.tr("Could not work out the trainable layers: {0}").format(failure.message))

    # --- devices ----------------------------------------------------------------------------------

    def _on_devices(self, report: Any) -> None:
        self.devices = report
        self._show_devices()
        self.status_changed.emit()

    def _on_devices_failed(self, failure: TaskFailure) -> None:
        self.device_label.setText(self.tr("Could not detect devices: {0}").format(failure.message))

    def _device_problem(self) -> str:
        wanted = self.project.config.training.device
        if self.devices is None or wanted == "auto" or wanted in self.devices.available:
            return ""
        return self.tr("'{0}' is not available on this computer; choose Automatic or one of: {1}.").format(
            wanted, ", ".join(self.devices.available))

    def _show_devices(self) -> None:
        if self.devices is None:
            return
        report = self.devices
        text = self.tr("Detected: <b>{0}</b>. Available: {1}; Automatic uses <b>{2}</b>.").format(
            report.description, ", ".join(report.available), report.recommended)
        if getattr(report, "problem", ""):
            text += "<br>" + report.problem
        self.device_label.setText(text)
        problem = self._device_problem()
        if problem:
            self.show_notice(problem)
        else:
            self.clear_notice()

    def status(self) -> StepStatus:
        if self._device_problem():
            return StepStatus(StepState.ATTENTION, self.tr("Device not available"))
        t = self.project.config.training
        return StepStatus(StepState.READY, f"{OPTIMIZERS[t.optimizer].label} · lr {t.lr:g} · {t.epochs} epochs")
