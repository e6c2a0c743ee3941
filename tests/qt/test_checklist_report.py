"""The in-app checklist and the report's checklist give every item the same status for the same findings."""

from __future__ import annotations

import pytest

from tests.findings_data import DATA_FINDINGS, RUN_FINDINGS
from workbench.core.export.report.checklists import pitfall_checklist
from workbench.qt.widgets.checklist import ChecklistView
from workbench.qt.widgets.findings import FindingStore

SCENARIOS = {
    "data checks only": (DATA_FINDINGS, None),
    "data checks and a run": (DATA_FINDINGS, RUN_FINDINGS),
    "a run without data findings": ([], RUN_FINDINGS),
    "nothing found": ([], []),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_app_and_report_checklists_agree(qtbot, name: str) -> None:
    data, run = SCENARIOS[name]
    store = FindingStore()
    view = ChecklistView(store)
    qtbot.addWidget(view)
    store.replace("data", data)
    if run is not None:
        store.replace("run", run)
    rows = pitfall_checklist({
        "dataset_record": {"checked": "2026-12-01 10:00:00", "findings": data},
        "findings_raw": {"findings": run} if run is not None else None,
        "status": {"status": "completed" if run is not None else "running"},
        "config": {"diagnostics": {"enabled": False}},  # only the stored findings decide, as in the app
    })
    report = {r["item"]: r["status"] for r in rows}
    app = {n: view.status_of(n) for n in range(1, 8)}
    assert app == report
    # The same numbers behind each status, in the app and in the report.
    assert {n: view.status_text(n) for n in range(1, 8)} == {r["item"]: r["status_line"] for r in rows}
    shown = {view.tree.topLevelItem(n - 1).text(1) for n in range(1, 8)}
    assert {r["status_line"] for r in rows} == shown
    if run:  # the run's findings: the plateau (item 4) and the border shortcut (item 7)
        assert app[4] == "warning" and app[7] == "problem"
    # The duplicates the data checks found count; a run's imbalance note alone is only a note.
    assert app[3] == ("warning" if data else "note" if run else "passed")
    assert app[1] == "passed" and app[6] == "not checked"


def test_the_app_keeps_its_data_check_findings_for_the_report(window, shapes_dataset) -> None:
    from workbench.core.dataset_findings import load_dataset_record
    from workbench.core.events import FindingRaised

    window.project.update("data.source", str(shapes_dataset))
    found = [FindingRaised("class-imbalance", "warning", "Classes are imbalanced (14.3 : 1)", "…", "Weight the loss.",
                           {"ratio": 14.3, "patch": {"training.class_weighting": True}}, "data")]
    window._on_data_findings(found)  # what the background data checks hand back
    assert [f.code for f in window.findings.all()] == ["class-imbalance"]
    record = load_dataset_record(window.project.effective_config().runs_dir, str(shapes_dataset))
    assert record["checked"] and record["findings"][0]["code"] == "class-imbalance"
    assert record["findings"][0]["evidence"]["ratio"] == 14.3


def test_a_finished_run_with_data_checks_supersedes_the_earlier_ones_in_app_and_report(window, tmp_path) -> None:
    from workbench.core.events import RunFinished

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.toml").write_text("[diagnostics]\nenabled = true\ndata_checks = true\n", encoding="utf-8")
    window.findings.replace("data", DATA_FINDINGS)
    window.findings.replace("run", RUN_FINDINGS)
    dialog = window.show_checklist()
    assert dialog.view.status_of(3) == "warning"  # the duplicates found before the run
    window.runner.run_finished.emit(RunFinished("r", str(run_dir), "completed", 1, {}, 1))
    report = {r["item"]: r["status"] for r in pitfall_checklist({
        "dataset_record": {"checked": "2026-12-01 10:00:00", "findings": DATA_FINDINGS},
        "findings_raw": {"findings": RUN_FINDINGS}, "status": {"status": "completed"},
        "config": {"diagnostics": {"enabled": True, "data_checks": True}}})}
    app = {n: dialog.view.status_of(n) for n in range(1, 8)}
    assert app == report and app[3] == "note"  # only the run's imbalance note is left on item 3
    dialog.close()
