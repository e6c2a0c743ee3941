"""Base classes of the diagnostic monitors: failures stay inside, and each finding is raised once per run.

A diagnostic must never break training. `GuardedMonitor` wraps every hook a subclass defines: an exception
is logged, and the monitor switches itself off for the rest of the run (a model without the expected
layers, an unusual strategy), while training goes on.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from workbench.core.diagnostics.findings import RAISED, Finding, expected_initial_loss
from workbench.core.fixes import coherent
from workbench.core.training.monitors import Monitor, MonitorContext

if TYPE_CHECKING:
    from workbench.core.config import ProjectConfig

log = logging.getLogger(__name__)
_HOOKS = ("setup", "on_step", "on_epoch_end", "on_run_end", "after_run")


def _guarded(name: str, hook: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(hook)
    def wrapper(self: Monitor, *args: Any, **kwargs: Any) -> Any:
        if name == "setup":
            self._broken = False  # type: ignore[attr-defined]
        elif name != "on_run_end" and getattr(self, "_broken", False):  # on_run_end still cleans up
            return None
        try:
            return hook(self, *args, **kwargs)
        except Exception:
            self._broken = True  # type: ignore[attr-defined]
            log.warning("diagnostic %s failed in %s and is off for the rest of this run", type(self).__name__, name,
                        exc_info=True)
            return None

    wrapper._guarded = True  # type: ignore[attr-defined]
    return wrapper


class GuardedMonitor(Monitor):
    """A monitor whose exceptions are logged and switch it off, instead of reaching the training loop."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in _HOOKS:
            hook = cls.__dict__.get(name)
            if hook is not None and not getattr(hook, "_guarded", False):
                setattr(cls, name, _guarded(name, hook))

    @property
    def broken(self) -> bool:
        return bool(getattr(self, "_broken", False))


class FindingMonitor(GuardedMonitor):
    """Keeps the run's context and the life of its findings; subclasses call `raise_finding`, `update_finding`,
    `resolve_finding` and `withdraw_finding`. Its findings and `extra_state` are saved with the checkpoint, so
    a resumed run remembers what it saw."""

    context: MonitorContext | None = None

    def __init__(self) -> None:
        self.raised: dict[str, Finding] = {}

    @classmethod
    def from_config(cls, config: ProjectConfig) -> FindingMonitor:
        return cls()

    def setup(self, context: MonitorContext) -> None:
        self.context = context
        self.raised = {}

    @property
    def num_classes(self) -> int:
        assert self.context is not None
        return len(self.context.data.class_names)

    @property
    def expected_loss(self) -> float:
        return expected_initial_loss(self.num_classes)

    def raise_finding(self, finding: Finding, epoch: int | None = None) -> bool:
        """Emit `finding` unless its code is open already in this run; True when it was emitted.

        A code that was resolved or withdrawn may be raised again: its history goes on."""
        old = self.raised.get(finding.code)
        if (old is not None and old.open) or self.context is None:
            return False
        finding = coherent(finding, self.context.config)  # never offer to undo an earlier fix
        if old is None:
            finding = finding.raised_at(epoch)
        else:
            finding = dataclasses.replace(finding, status=RAISED, history=(
                *old.history, {"status": RAISED, "epoch": epoch, "note": f"raised again: {finding.title}"}))
        self.raised[finding.code] = finding
        self.context.emit(finding.to_event())
        return True

    def is_open(self, code: str) -> bool:
        found = self.raised.get(code)
        return found is not None and found.open

    def update_finding(self, code: str, epoch: int | None, note: str, **changes: Any) -> None:
        """Fresher evidence for an open finding (e.g. the overfitting has gone on for more epochs)."""
        if self.is_open(code) and self.context is not None:
            self.raised[code] = self.raised[code].updated(epoch, note, **changes)
            self.context.emit(self.raised[code].to_event())

    def resolve_finding(self, code: str, epoch: int | None, note: str) -> None:
        if self.is_open(code) and self.context is not None:
            self.raised[code] = self.raised[code].resolved(epoch, note)
            self.context.emit(self.raised[code].to_event())

    def withdraw_finding(self, code: str, epoch: int | None, note: str) -> None:
        if self.is_open(code) and self.context is not None:
            self.raised[code] = self.raised[code].withdrawn(epoch, note)
            self.context.emit(self.raised[code].to_event())

    # --- checkpoint state ------------------------------------------------------------------------------
    def extra_state(self) -> dict[str, Any]:
        """What a subclass needs to remember across Resume (plain values); the findings are kept anyway."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """Restore what `extra_state` returned."""

    def state_dict(self) -> dict[str, Any]:
        return {"raised": {code: dataclasses.asdict(f) for code, f in self.raised.items()},
                "extra": self.extra_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        raised = {}
        for code, fields in (state.get("raised") or {}).items():
            fields = dict(fields)
            fields["history"] = tuple(fields.get("history") or ())
            raised[code] = Finding(**fields)
        self.raised = raised
        self.load_extra_state(dict(state.get("extra") or {}))
