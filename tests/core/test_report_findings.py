"""The report says what happened: every finding of the run and its dataset with its fix, settings exactly,
scores beside their baselines, and every run tried on the dataset."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

from tests.core.eval_fixtures import *  # noqa: F403
from tests.core.eval_fixtures import copy_run
from tests.findings_data import DATA_FINDINGS, RUN_FINDINGS
from workbench.core.catalog.augmentations import AUGMENTATIONS
from workbench.core.config import AugmentationConfig, ProjectConfig, load_config, save_config, with_updates
from workbench.core.dataset_findings import save_data_findings
from workbench.core.evaluation.evaluate import evaluate_run
from workbench.core.export.report import write_report
from workbench.core.export.report.collect import collect_report_data
from workbench.core.export.report.render import section_config, section_reporting, section_summary

FAST = {"gallery": 0, "bootstrap_samples": 50}

FIX = {"code": "class-imbalance", "title": "Classes are imbalanced (14.3 : 1)",
       "changes": [{"key": "training.class_weighting", "before": "false", "after": "true"},
                   {"key": "training.monitor", "before": '"val_loss"', "after": '"val_balanced_accuracy"'}]}


class Tables(HTMLParser):
    """Every table of a page as rows of cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self.tables and self.tables[-1]:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def tables_of(page: str) -> list[list[list[str]]]:
    parser = Tables()
    parser.feed(page)
    return parser.tables


def table_with(page: str, header: str) -> list[list[str]]:
    return next(t for t in tables_of(page) if t and header in t[0])


def _fixed_run(eval_run: Path) -> Path:
    """The run as if trained after the imbalance fix, with every kind of finding stored."""
    evaluate_run(eval_run, "test", **FAST)
    path = eval_run / "config.toml"
    config = load_config(path)
    source = config.data.source
    fixed = with_updates(config, {"training.class_weighting": True, "training.monitor": "val_balanced_accuracy",
                                  "diagnostics.enabled": True, "diagnostics.applied_fixes": [FIX]})
    save_config(fixed, path)
    save_data_findings(eval_run.parent, source, DATA_FINDINGS)
    (eval_run / "findings.json").write_text(json.dumps({"findings": RUN_FINDINGS}), encoding="utf-8")
    return eval_run


def test_every_finding_is_reported_with_its_severity_fix_and_state(eval_run: Path, tmp_path: Path) -> None:
    run = _fixed_run(eval_run)
    page = write_report(run, tmp_path / "report", pdf=False).html.read_text(encoding="utf-8")
    listed = table_with(page, "Finding and evidence")[1:]
    # One check may report several findings: both shortcut regions are listed, without their file paths.
    regions = [r for r in listed if "[shortcut-region]" in r[1]]
    assert len(regions) == 2 and {"'square'", "'hbar'"} == {r[1].split(" ")[2] for r in regions}
    assert all("concentration: 0.31" in r[1] and ".npy" not in r[1] for r in regions)
    rows = {r[1].split("[")[1].split("]")[0]: r for r in listed if r not in regions}
    assert set(rows) == {"class-imbalance", "small-data", "duplicates-within-split", "loss-not-decreasing",
                         "overfitting", "shortcut-border"}
    severity = {code: row[0] for code, row in rows.items()}
    assert severity == {"class-imbalance": "NOTE", "small-data": "NOTE", "duplicates-within-split": "WARNING",
                        "loss-not-decreasing": "WARNING", "overfitting": "WARNING", "shortcut-border": "PROBLEM"}
    imbalance = rows["class-imbalance"]
    assert "First raised by the data checks before the run as warning" in imbalance[1]
    assert "ratio: 14.3" in imbalance[1]
    assert "applied: training.class_weighting: off → on (used by this run)" in imbalance[2]
    assert "applied: training.monitor: val_loss → val_balanced_accuracy (used by this run)" in imbalance[2]
    assert imbalance[3].startswith("RESOLVED") and "fix in effect" in imbalance[3]
    # A data-check finding the run's own data checks no longer raised is resolved, and says why.
    assert rows["duplicates-within-split"][3].startswith("RESOLVED") and "not raised again" in rows["duplicates-within-split"][3]
    assert rows["loss-not-decreasing"][3].startswith("OPEN") and "suggested: Lower the learning rate." in \
        rows["loss-not-decreasing"][2]
    assert rows["overfitting"][3].startswith("RESOLVED") and "new best" in rows["overfitting"][3]
    assert "raised at epoch 3: gap 0.4; resolved at epoch 9" in rows["overfitting"][1]
    assert rows["shortcut-border"][3].startswith("OPEN") and "checklist item 7" in rows["shortcut-border"][1]
    assert rows["small-data"][3].startswith("NOTE") and "not raised again" in rows["small-data"][3]
    # The checklist counts these findings: items 1 and 3 are no longer "not checked", and the word is there.
    checklist = {r[0]: r for r in table_with(page, "Evidence")[1:]}
    # The run's own data checks ran to the end: they supersede the earlier ones (the duplicates are resolved).
    # The status cell names what it rests on beneath the badge; a pass no check backed with a number says so.
    status = {n: row[2].split("\n") for n, row in checklist.items()}
    assert status["3"] == ["NOTE", "Classes are imbalanced (14.3 : 1)"]
    assert "imbalanced" in checklist["3"][3] and "duplicate" not in checklist["3"][3]
    assert status["1"] == ["PASSED", "the checks ran and raised nothing, but recorded no number"]
    assert status["4"][0] == "WARNING" and "plateau" in checklist["4"][3]
    assert status["6"][0] == "PASSED" and "looked at once" in checklist["6"][3] and "looked at once" in status["6"][1]


def test_each_augmentation_and_switch_is_reported_with_its_value(eval_run: Path) -> None:
    data = collect_report_data(eval_run, evaluate_validation=False)
    defaults = ProjectConfig().model_dump(mode="json")
    switches = [(section, key) for section, values in defaults.items() if isinstance(values, dict)
                for key, value in values.items() if isinstance(value, bool)]
    augmentations = {name: (0.8 if name == "crop_scale" else True if isinstance(value, bool) else 0.1)
                     for name, value in AugmentationConfig().model_dump().items()
                     if name in AUGMENTATIONS}  # the registry's augmentations ('extra' holds plugins' settings)
    assert len(switches) >= 5 and len(augmentations) >= 8
    base = json.loads(json.dumps(data["config"]))
    for name, value in augmentations.items():
        config = json.loads(json.dumps(base))
        config["preprocessing"]["augmentation"] = {**AugmentationConfig().model_dump(), name: value}
        ProjectConfig.model_validate({**config, "diagnostics": defaults["diagnostics"]})  # a value the config allows
        shown = "on" if value is True else str(value)
        page = section_config({**data, "config": config}) + section_reporting({**data, "config": config})
        assert f"<td>preprocessing.augmentation.{name}</td><td>{shown}</td>" in page, name
        assert f"augmentation: {name} {shown}," in page, name
    for section, key in switches:
        config = json.loads(json.dumps(base))
        config[section][key] = not defaults[section][key]
        page = section_config({**data, "config": config})
        assert f"<td>{section}.{key}</td><td>{'on' if config[section][key] else 'off'}</td>" in page, key
    plain = section_reporting(data)
    assert "augmentation: none," in plain


def test_scores_stand_beside_their_baselines_and_every_run_is_listed(eval_run: Path, tmp_path: Path) -> None:
    evaluate_run(eval_run, "test", **FAST)
    sibling = copy_run(eval_run, tmp_path / "tmp-copy")
    sibling = sibling.rename(eval_run.parent / "20990101-000000-beef")
    text = (sibling / "config.toml").read_text(encoding="utf-8").replace("lr = 0.003", "lr = 0.0005")
    (sibling / "config.toml").write_text(text, encoding="utf-8")
    data = collect_report_data(eval_run, evaluate_validation=False)
    base = data["baselines"]
    support = [v["support"] for v in data["test_metrics"]["per_class"].values()]
    train = data["data_report"]["class_counts"]["train"]
    commonest = train.index(max(train))  # the majority class is the training split's commonest
    share = support[commonest] / sum(support)
    assert base["majority_class"] == data["class_names"][commonest] and base["majority_accuracy"] == share
    assert base["chance_accuracy"] == 1 / 3
    summary = section_summary(data)
    assert f"chance is {1 / 3:.3f} (1/3)" in summary and f"would score {share:.3f}" in summary
    page = write_report(eval_run, tmp_path / "r", pdf=False).html.read_text(encoding="utf-8")
    tried = table_with(page, "Best validation score")
    assert [r[0].split(" ")[0] for r in tried[1:]] == sorted([eval_run.name, sibling.name])
    assert "(this report)" in tried[1][0] and "learning rate 0.0005" in tried[2][2] and "learning rate 0.003" in tried[1][2]
    assert "balanced accuracy" in tried[1][3]
    questions = table_with(page, "Question")
    assert all(r[3] == "to be completed by the authors" for r in questions[1:]) and len(questions) > 5


def test_a_suggested_setting_already_in_the_run_is_named_without_a_fix_record() -> None:
    from workbench.core.export.report.findings import report_findings

    config = {"training": {"class_weighting": True, "monitor": "val_loss"}, "diagnostics": {"enabled": True}}
    data = {"config": config, "status": {"status": "completed"},
            "dataset_record": {"checked": "2026-12-01", "findings": DATA_FINDINGS[:1]},
            "findings_raw": {"findings": RUN_FINDINGS[:1]}}
    [row] = report_findings(data)
    assert row["fixes"] == [{"setting": "training.class_weighting", "from": None, "to": True, "in_run": True,
                             "inferred": True}]
    assert row["state"] == "resolved"
    config["training"]["class_weighting"] = False  # the suggestion is not in the run: nothing is claimed
    [row] = report_findings(data)
    assert row["fixes"] == [] and row["why"] == "this run's checks now report it only as a note"
