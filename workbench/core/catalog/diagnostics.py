"""Registry of diagnostics, as frozen dataclasses (like the optimizer and architecture registries).

Each entry names a check, says in one line what it looks for, which item of the paper's checklist it
serves, and the function that runs it, as "module:attribute", so listing the diagnostics imports neither
torch nor any check. Kinds:
- "data": `function(prepared, config, ctx) -> list[Finding]`, run by `run_data_checks`;
- "training": `function(config) -> Monitor`, attached to every run by the monitor factory (a plugin's too);
- "tool": called on demand (LR range test, output pairing, label issues from given probabilities, shortcut probe).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from workbench.core.catalog import check_reference, resolve
from workbench.core.models.registry import ParamInfo

_D = "workbench.core.diagnostics"
KINDS = ("data", "training", "tool")


@dataclass(frozen=True)
class DiagnosticInfo:
    name: str
    label: str
    description: str
    paper_item: str
    function: str | Callable[..., Any]  # "module:attribute" (imported when first run) or the function itself
    kind: str = "data"  # "data", "training" or "tool"
    params: tuple[ParamInfo, ...] = ()

    def load(self) -> Callable[..., Any]:
        """The function that runs the check (importing its module, and torch, only now)."""
        return resolve(self.function) if isinstance(self.function, str) else self.function


DIAGNOSTICS: dict[str, DiagnosticInfo] = {
    d.name: d
    for d in (
        DiagnosticInfo("unreadable_files", "Unreadable files", "Files that are damaged, empty or not images.",
                       "II-A.3", f"{_D}.image_quality:check_unreadable_files"),
        DiagnosticInfo("imbalance", "Class imbalance", "Classes of very different sizes, and the fixes for it.",
                       "II-C", f"{_D}.balance:check_imbalance"),
        DiagnosticInfo("small_data", "Small data", "Training images per class against the paper's guidance.",
                       "II-B", f"{_D}.balance:check_small_data"),
        DiagnosticInfo("normalisation", "Normalisation", "Raw or badly scaled values reaching the network.",
                       "II-A.2", f"{_D}.normalisation:check_normalisation"),
        DiagnosticInfo("bit_depths", "Bit depths", "8-bit and 16-bit files mixed in one dataset.",
                       "II-A.2", f"{_D}.normalisation:check_bit_depths"),
        DiagnosticInfo("intensity_ranges", "Intensity ranges", "Groups of images that use different value ranges.",
                       "II-A.2", f"{_D}.normalisation:check_intensity_ranges"),
        DiagnosticInfo("blank_images", "Blank images", "Constant or almost blank images.",
                       "II-A.3", f"{_D}.image_quality:check_blank_images"),
        DiagnosticInfo("duplicates", "Duplicates", "Exact and near-duplicate images, within and across splits.",
                       "II-A.3", f"{_D}.duplicates:check_duplicates"),
        DiagnosticInfo("input_size", "Input size", "Detail that distinguishes the classes lost by resizing.",
                       "II-A.1", f"{_D}.representation:check_input_representation",
                       params=(ParamInfo("image_size", "Image size", "The network's input size being judged."),)),
        DiagnosticInfo("label_issues", "Label errors", "Images whose label disagrees confidently with out-of-sample "
                       "predictions (cleanlab).", "II-A.3", f"{_D}.label_issues:check_label_issues"),
        DiagnosticInfo("output_pairing_live", "Output and loss pairing (live)", "The network's final activation and "
                       "output units against the loss, checked on the first step.", "II-A.4",
                       f"{_D}.network_monitors:OutputPairingMonitor.from_config", kind="training"),
        DiagnosticInfo("initial_loss", "Initial loss", "First losses against ln(C), the loss of a uniform guess.",
                       "II-A.4", f"{_D}.loss_monitors:InitialLossMonitor.from_config", kind="training"),
        DiagnosticInfo("loss_trend", "Loss trend", "Diverging loss, or a loss that does not decrease.",
                       "II-A.4", f"{_D}.loss_monitors:LossTrendMonitor.from_config", kind="training"),
        DiagnosticInfo("fit", "Under- and overfitting", "Loss plateau far from zero; validation loss rising.",
                       "II-D", f"{_D}.loss_monitors:FitMonitor.from_config", kind="training"),
        DiagnosticInfo("dead_units", "Dead ReLU units", "Units that never activate on a validation batch.",
                       "II-A.4", f"{_D}.network_monitors:DeadUnitMonitor.from_config", kind="training"),
        DiagnosticInfo("gradients", "Gradient norms", "Exploding or vanishing gradients.",
                       "II-A.4", f"{_D}.network_monitors:GradientMonitor.from_config", kind="training"),
        DiagnosticInfo("baseline", "Majority-class baseline", "The best validation accuracy against always answering "
                       "the commonest class, judged with its 95 % interval.", "II-C",
                       f"{_D}.baseline_monitor:BaselineMonitor.from_config", kind="training"),
        DiagnosticInfo("output_pairing", "Output and loss pairing", "Final activation and output units against the "
                       "loss and number of classes (Fig. 4c).", "II-A.4", f"{_D}.pairing:check_output_pairing", kind="tool"),
        DiagnosticInfo("lr_range_test", "Learning-rate finder", "Loss over an exponential learning-rate ramp, with a "
                       "suggested rate.", "IV-B", f"{_D}.lr_finder:lr_range_test", kind="tool",
                       params=(ParamInfo("steps", "Steps", "Optimisation steps of the ramp."),
                               ParamInfo("start", "Start", "Smallest learning rate tried."),
                               ParamInfo("end", "End", "Largest learning rate tried."))),
        DiagnosticInfo("label_issues_from_probs", "Label errors (given predictions)", "cleanlab on out-of-sample "
                       "probabilities from a k-fold run.", "II-A.3", f"{_D}.label_issues:label_issue_findings", kind="tool"),
        DiagnosticInfo("shortcut", "Shortcuts and attacks", "Predictions resting on a fixed small region or the "
                       "border (one-pixel attack, Fig. 5).", "II-E", f"{_D}.shortcut:shortcut_check", kind="tool"),
    )
}


def register_diagnostic(info: DiagnosticInfo) -> None:
    """Add or replace an entry (plugins use this through the `workbench.plugins` entry points)."""
    if info.kind not in KINDS:
        raise ValueError(f"unknown diagnostic kind {info.kind!r}; choose one of {', '.join(KINDS)}")
    if isinstance(info.function, str):
        check_reference("diagnostic", info.name, info.function)
    DIAGNOSTICS[info.name] = info


def diagnostics_of_kind(kind: str) -> list[DiagnosticInfo]:
    return [d for d in DIAGNOSTICS.values() if d.kind == kind]
