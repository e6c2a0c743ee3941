"""Base classes of the diagnostic monitors: failures stay inside, and each finding is raised once per run.

A diagnostic must never break training. `GuardedMonitor` wraps every hook a subclass defines: an exception
is logged, and the monitor switches itself off for the rest of the run (a model without the expected
layers, an unusual strategy), while training goes on.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from workbench.core.diagnostics.findings import Finding, expected_initial_loss
from workbench.core.training.monitors import Monitor, MonitorContext

if TYPE_CHECKING:
    from workbench.core.config import ProjectConfig

log = logging.getLogger(__name__)
_HOOKS = ("setup", "on_step", "on_epoch_end", "on_run_end")


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
    """Keeps the run's context and emits each finding code once; subclasses call `raise_finding`."""

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

    def raise_finding(self, finding: Finding) -> bool:
        """Emit `finding` unless its code was raised already in this run; True when it was emitted."""
        if finding.code in self.raised or self.context is None:
            return False
        self.raised[finding.code] = finding
        self.context.emit(finding.to_event())
        return True
