"""Coherent fixes: a finding's fix is a named patch of settings, shown before Apply, applied with Undo.

Every applied fix is recorded in the project (`diagnostics.applied_fixes`), with each setting's value before
and after. A new fix is planned against that record: where it would reverse an earlier fix (halve a width
that an earlier fix doubled, change a learning rate the learning-rate finder set), the plan names the
conflict and Apply refuses unless the user insists. Undo restores the last fix's "before" values, provided
the settings still hold what the fix set.

This module sits outside the diagnostics package so that the GUI can use it without loading the checks
(and torch); `apply_patch` lives here for the same reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.core.config import ProjectConfig

LR_FINDER_CODE = "lr-range-test"
LEDGER_KEY = "diagnostics.applied_fixes"


def apply_patch(config: ProjectConfig, patch: dict[str, Any]) -> ProjectConfig:
    """A validated copy of `config` with the dotted keys of `patch` set (the GUI's "Apply fix")."""
    from workbench.core.config import with_updates

    return with_updates(config, patch, source="patched project")


class FixConflict(ValueError):
    """Applying the fix would undo an earlier one; the message names both."""


def get_setting(config: ProjectConfig, key: str) -> Any:
    node: Any = config.model_dump(mode="json")
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(f"{key!r} does not name a setting")
        node = node[part]
    return node


def show(value: Any) -> str:
    """A setting's value as the user reads it: 0.0025, true, "zscore"."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return json.dumps(value) if isinstance(value, str) else str(value)


@dataclass(frozen=True)
class SettingChange:
    key: str
    before: Any
    after: Any

    def text(self) -> str:
        return f"{self.key} {show(self.before)} → {show(self.after)}"

    def direction(self) -> int:
        """+1 up, -1 down, 0 for a non-numeric or unchanged value."""
        numeric = (int, float)
        if isinstance(self.before, numeric) and isinstance(self.after, numeric) \
                and not isinstance(self.before, bool) and not isinstance(self.after, bool):
            return (self.after > self.before) - (self.after < self.before)
        return 0


@dataclass(frozen=True)
class AppliedFix:
    code: str
    title: str
    changes: tuple[SettingChange, ...]

    def text(self) -> str:
        return ", ".join(c.text() for c in self.changes)

    def to_record(self) -> dict[str, Any]:
        return {"code": self.code, "title": self.title,
                "changes": [{"key": c.key, "before": json.dumps(c.before), "after": json.dumps(c.after)}
                            for c in self.changes]}


@dataclass(frozen=True)
class FixPlan:
    """What Apply would change, and which earlier fixes it would undo."""

    code: str
    title: str
    changes: tuple[SettingChange, ...]
    conflicts: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.changes

    def text(self) -> str:
        """The patch as the Apply button shows it: "training.lr 0.025 → 0.0025"."""
        return ", ".join(c.text() for c in self.changes) or "no change (already set)"

    def patch(self) -> dict[str, Any]:
        return {c.key: c.after for c in self.changes}


def applied_fixes(config: ProjectConfig) -> list[AppliedFix]:
    """The fixes applied in this project, oldest first."""
    fixes = []
    for record in config.diagnostics.applied_fixes:
        changes = tuple(SettingChange(c.key, json.loads(c.before), json.loads(c.after)) for c in record.changes)
        fixes.append(AppliedFix(record.code, record.title, changes))
    return fixes


def _in_effect(config: ProjectConfig, key: str) -> tuple[AppliedFix, SettingChange] | None:
    """The latest applied fix that set `key` and whose value still stands."""
    for fix in reversed(applied_fixes(config)):
        for change in fix.changes:
            if change.key == key:
                try:
                    return (fix, change) if get_setting(config, key) == change.after else None
                except KeyError:
                    return None
    return None


def lr_from_finder(config: ProjectConfig) -> float | None:
    """The learning rate the learning-rate finder's suggestion set, while it is still the current rate."""
    found = _in_effect(config, "training.lr")
    if found is not None and found[0].code == LR_FINDER_CODE:
        return float(found[1].after)
    return None


def plan_fix(config: ProjectConfig, patch: dict[str, Any], code: str = "", title: str = "") -> FixPlan:
    """The changes `patch` makes to `config`, with the earlier fixes it would reverse."""
    changes, conflicts = [], []
    for key, value in patch.items():
        before = get_setting(config, key)
        if before == value and type(before) is type(value):
            continue
        change = SettingChange(key, before, value)
        changes.append(change)
        found = _in_effect(config, key)
        if found is None or found[0].code == code:
            continue
        earlier, set_by = found
        reverses = change.direction() * set_by.direction() < 0 or value == set_by.before
        source = ("the learning-rate finder's suggestion" if earlier.code == LR_FINDER_CODE
                  else f"the fix for \"{earlier.title or earlier.code}\"")
        if reverses or earlier.code == LR_FINDER_CODE:
            conflicts.append(f"{key} was set to {show(set_by.after)} by {source} ({set_by.text()}); "
                             f"this fix would change it to {show(value)}")
    return FixPlan(code, title, tuple(changes), tuple(conflicts))


def coherent_patch(config: ProjectConfig, patch: dict[str, Any], code: str) -> tuple[dict[str, Any], str]:
    """`patch` without the keys that would reverse an earlier fix, and a sentence saying what was held back.

    A check calls this before offering a one-click fix, so that it never offers to undo an earlier fix."""
    if not patch:
        return {}, ""
    plan = plan_fix(config, patch, code)
    if not plan.conflicts:
        return patch, ""
    held = {c.split(" was set", 1)[0] for c in plan.conflicts}
    kept = {k: v for k, v in patch.items() if k not in held}
    return kept, " Not offered as one click, since it would undo an earlier fix: " + "; ".join(plan.conflicts) + "."


def coherent(finding: Any, config: ProjectConfig) -> Any:
    """`finding` (a Finding) with its patch held back where it would undo an earlier fix, and the fix text saying so."""
    import dataclasses

    patch, note = coherent_patch(config, dict(finding.patch), finding.code)
    if not note:
        return finding
    return dataclasses.replace(finding, patch=patch, fix=finding.fix + note)


def apply_fix(config: ProjectConfig, plan: FixPlan, *, force: bool = False) -> ProjectConfig:
    """`config` with the plan's changes and a record of them (for Undo). Raises FixConflict on a conflict
    unless `force` (the user saw the conflict and chose to go ahead)."""
    if plan.conflicts and not force:
        raise FixConflict("This fix would undo an earlier one: " + "; ".join(plan.conflicts)
                          + ". Undo the earlier fix first, or apply it anyway knowingly.")
    if plan.empty:
        return config
    fixed = apply_patch(config, plan.patch())
    record = AppliedFix(plan.code, plan.title, plan.changes).to_record()
    ledger = [r.model_dump(mode="json") for r in fixed.diagnostics.applied_fixes] + [record]
    return apply_patch(fixed, {LEDGER_KEY: ledger})


def undo_fix(config: ProjectConfig) -> tuple[ProjectConfig, AppliedFix]:
    """`config` with the last applied fix undone, and that fix. Raises ValueError when there is none, or when a
    setting it changed has since been changed again by hand (undoing would then lose that edit)."""
    fixes = applied_fixes(config)
    if not fixes:
        raise ValueError("there is no applied fix to undo")
    last = fixes[-1]
    moved = [c for c in last.changes if get_setting(config, c.key) != c.after]
    if moved:
        raise ValueError("cannot undo the fix for \"" + (last.title or last.code) + "\": "
                         + "; ".join(f"{c.key} is now {show(get_setting(config, c.key))}, not {show(c.after)}"
                                     for c in moved) + ". Set it back by hand, or leave the fix in place.")
    undone = apply_patch(config, {c.key: c.before for c in last.changes})
    ledger = [r.model_dump(mode="json") for r in undone.diagnostics.applied_fixes][:-1]
    return apply_patch(undone, {LEDGER_KEY: ledger}), last
