"""The run report: one self-contained HTML page and a PDF, each holding every section."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import numpy as np
import pytest

from tests.core.eval_fixtures import *  # noqa: F403
from tests.helpers import write_shapes_dataset
from workbench.core.evaluation.evaluate import evaluate_run
from workbench.core.evaluation.external import evaluate_external
from workbench.core.export.report import write_report
from workbench.core.export.report.checklists import finding_item, pitfall_checklist, reporting_checklist
from workbench.core.export.report.render import SECTIONS
from workbench.core.runs import read_json
from workbench.qt.report_pdf import html_to_pdf

FINDINGS = [
    {"code": "duplicates-across-splits", "severity": "problem", "title": "Duplicate images across splits",
     "explanation": "4 test images also appear in training.", "fix": "Remove the duplicates.",
     "evidence": {"pairs": 4, "paper_item": "II-A.3"}},
    {"code": "input-size", "severity": "info", "title": "Detail survives resizing", "explanation": "ok", "fix": "",
     "evidence": {}, "paper_item": "II-A.1"},
]


def _pdf_text(path: Path) -> str:
    pypdf = pytest.importorskip("pypdf")
    text = unicodedata.normalize("NFKC", " ".join(page.extract_text() for page in pypdf.PdfReader(path).pages))
    # Text extraction splits "10. Summary" into "1 0 . Summary"; join digits and dots again.
    return re.sub(r"(\d)\s+(?=[\d.])", r"\1", re.sub(r"\s+", " ", text))


def test_report_holds_every_section_in_html_and_pdf(eval_run: Path, tmp_path: Path) -> None:
    evaluate_run(eval_run, "test", tta=["hflip"], robustness=True, gallery=4, bootstrap_samples=50)
    evaluate_external(eval_run, write_shapes_dataset(tmp_path / "site-b", classes=3, per_class=5, seed=7),
                      bootstrap_samples=50)
    (eval_run / "findings.json").write_text(json.dumps(FINDINGS))
    rng = np.random.default_rng(0)
    (eval_run / "projection.json").write_text(json.dumps(
        {"method": "PCA", "points": rng.normal(size=(30, 2)).tolist(), "labels": rng.integers(0, 3, 30).tolist()}))
    files = write_report(eval_run, tmp_path / "report", pdf_renderer=html_to_pdf)
    assert files.pdf is not None, files.pdf_error
    page = files.html.read_text(encoding="utf-8")
    for number, section in enumerate(SECTIONS, start=1):
        assert f"{number}. {section}" in page, section
    # Self-contained: every image is embedded, nothing is fetched.
    sources = re.findall(r'<img src="([^"]{0,30})', page)
    assert len(sources) >= 10 and all(s.startswith("data:image/png;base64,") for s in sources)
    for text in ("Duplicate images across splits", "site-b", "PCA", "Horizontal flip", "Gaussian noise", "SHA-256",
                 "Questions only you can answer", "used <b>1</b>", "torch"):
        assert text in page, text
    assert files.pdf.read_bytes()[:5] == b"%PDF-" and files.pdf.stat().st_size > 50_000
    text = _pdf_text(files.pdf)
    for number, section in enumerate(SECTIONS, start=1):
        assert f"{number}. {section}" in text, section
    assert len(read_json(eval_run / "run.json")["test_evaluations"]) == 1  # the report did not use the test set


def test_report_of_an_unevaluated_run_uses_the_validation_split(eval_run: Path, tmp_path: Path) -> None:
    files = write_report(eval_run, tmp_path / "r", pdf=False)
    page = files.html.read_text(encoding="utf-8")
    assert files.pdf is None and "has not been evaluated" in page and "Validation split shown" in page
    assert "Not checked: the data diagnostics have not been run" in page
    assert not read_json(eval_run / "run.json").get("test_evaluations")


def test_pitfall_checklist_statuses() -> None:
    rows = {r["item"]: r for r in pitfall_checklist({"findings_raw": FINDINGS, "norm_stats": {"mode": "zscore",
                                                                                                "mean": [0.2], "std": [0.3]}})}
    assert rows[3]["status"] == "problem" and "Duplicate images" in rows[3]["evidence"][0]
    assert rows[1]["status"] == "note"  # an informational finding, as the in-app checklist shows it
    assert rows[2]["status"] == "passed"  # Workbench's own evidence: z-score from the training split
    assert rows[5]["status"] == "not checked"
    assert rows[6]["status"] == "not checked"  # the test set has not been used yet: decided at its first look
    once = {r["item"]: r for r in pitfall_checklist({"test_uses": {"project_uses": 1, "test_set_sha256": "ab" * 32}})}
    assert once[6]["status"] == "passed" and "looked at once" in once[6]["evidence"][0]
    looks = [{"time": f"2026-01-0{i} 10:00:00", "run_id": f"run-{i}", "project": "p"} for i in (1, 2, 3)]
    many = {r["item"]: r for r in pitfall_checklist({"test_uses": {"project_uses": 3, "distinct_configs": 2,
                                                                   "project_history": looks}})}
    assert many[6]["status"] == "warning" and "3 times" in many[6]["evidence"][0]
    assert [e for e in many[6]["evidence"] if e.startswith("look on")] == [
        "look on 2026-01-01 10:00:00 by run run-1 (project p)", "look on 2026-01-02 10:00:00 by run run-2 (project p)",
        "look on 2026-01-03 10:00:00 by run run-3 (project p)"]
    assert many[7]["status"] == "warning"  # internal test only


def test_findings_map_to_items_by_paper_item_or_code() -> None:
    assert finding_item({"paper_item": "II-A.2"}) == 2
    assert finding_item({"code": "x", "evidence": {"paper_item": "II-A.4"}}) == 4
    assert finding_item({"code": "near-duplicates"}) == 3
    assert finding_item({"code": "class-imbalance", "paper_item": "II-C"}) == 3  # imbalance is data quality
    assert finding_item({"code": "something-else"}) is None


def test_reporting_checklist_separates_answers_from_questions() -> None:
    answered, questions = reporting_checklist({"config": {"training": {"monitor": "val_loss"}}, "class_names": ["a"]})
    assert any(a["item"] == "Model selection" and "val_loss" in a["answer"] for a in answered)
    assert {q["source"] for q in questions} == {"CLAIM", "PROBAST"}
    assert any("labels" in q["question"] for q in questions)


def test_no_pdf_page_is_nearly_empty(eval_run: Path, tmp_path: Path) -> None:
    pypdf = pytest.importorskip("pypdf")
    files = write_report(eval_run, tmp_path / "r", pdf_renderer=html_to_pdf)  # sections not run are one-line notes
    assert files.pdf is not None, files.pdf_error
    pages = pypdf.PdfReader(files.pdf).pages
    thin = [n for n, page in enumerate(pages[:-1], start=1)
            if len(page.extract_text() or "") < 400 and not list(page.images)]
    assert thin == [], f"pages {thin} of {len(pages)} hold almost nothing"
