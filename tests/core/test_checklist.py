"""The checklist rule shared by the app and the report: statuses from findings, checks run and own evidence."""

from __future__ import annotations

from workbench.core.checklist import checklist_item, item_statuses


def test_statuses_follow_findings_checks_and_evidence() -> None:
    findings = [{"code": "duplicates-across-splits", "severity": "problem", "evidence": {"paper_item": "II-A.3"}},
                {"code": "class-imbalance", "severity": "warning", "paper_item": "II-C"},
                {"code": "loss-diverging", "severity": "warning", "status": "resolved"},
                {"code": "feature-structure", "severity": "info",
                 "evidence": {"verdict": "passed", "paper_item": "II-A.5", "basis": "k-NN accuracy 0.91 > 0.33"}}]
    rows = item_statuses(findings, {"data", "run"}, {2: [("info", "z-score from the training split")],
                                                     6: [("pending", "not used yet")]})
    status = {n: r.status for n, r in rows.items()}
    assert status == {1: "passed", 2: "passed", 3: "problem", 4: "passed", 5: "passed", 6: "not checked",
                      7: "not checked"}
    assert len(rows[3].findings) == 2 and rows[4].findings[0]["status"] == "resolved"  # history, kept
    # Before any check ran, nothing passes; item 5 never passes because a run merely finished.
    assert {n: r.status for n, r in item_statuses([], set()).items()} == dict.fromkeys(range(1, 8), "not checked")
    assert item_statuses([], {"data", "run"})[5].status == "not checked"
    assert item_statuses([{"code": "small-data", "severity": "info"}], {"data"})[3].status == "note"
    assert checklist_item({"code": "shortcut-border", "paper_item": "II-E"}) == 7
