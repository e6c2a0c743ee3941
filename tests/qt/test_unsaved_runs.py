"""A run made before the project was first saved follows the project into its runs folder; the project takes
the file's name on "Save as" unless the user named it."""

from __future__ import annotations

from pathlib import Path

from workbench.core.runs import RunStore
from workbench.qt import dialogs

TIMEOUT = 120_000


def test_an_unsaved_then_saved_project_keeps_its_run(make_window, qtbot, tmp_path, shapes_dataset, monkeypatch) -> None:
    import workbench.qt.project_model as project_model

    unsaved = tmp_path / "per-user" / "unsaved"
    monkeypatch.setattr(project_model, "default_runs_base", lambda: unsaved)
    window = make_window(runs=False)
    assert window.project.path is None and window.project.config.name == "untitled"
    errors = window.project.update_many({
        "data.source": str(shapes_dataset), "preprocessing.image_size": 16, "model.small_cnn.width": 8,
        "model.small_cnn.depth": 2, "training.epochs": 1, "training.batch_size": 16})
    assert errors == {}
    from workbench.core.dataset_findings import load_dataset_record
    from workbench.core.events import FindingRaised

    window._on_data_findings([FindingRaised("small-data", "info", "Few training images per class", "…", "", {}, "data")])
    window.runner.start(window.project.effective_config())
    qtbot.waitUntil(lambda: window.runner.last_result is not None and not window.runner.is_running, timeout=TIMEOUT)
    old = Path(window.runner.run_dir)
    assert old.parent == unsaved / "runs" and (old / "checkpoints" / "best.pt").is_file()
    qtbot.waitUntil(lambda: window.runs.current == str(old), timeout=TIMEOUT)

    project_file = tmp_path / "study" / "elpv.toml"
    project_file.parent.mkdir()
    monkeypatch.setattr(dialogs, "choose_project_to_save", lambda *args, **kwargs: str(project_file))
    assert window.save_project()  # no file yet: Save asks where, as Save As
    new = project_file.parent / "runs" / old.name
    qtbot.waitUntil(lambda: window.runs.current == str(new), timeout=TIMEOUT)
    assert not old.exists() and (new / "checkpoints" / "best.pt").is_file()
    assert RunStore(new.parent).get(old.name).run_dir == str(new)  # the Runs view lists it from the index
    assert RunStore(old.parent).get(old.name) is None
    assert [r.run_dir for r in window.runs.usable_runs()] == [str(new)]  # Evaluate and Export offer it
    assert window.project.config.name == "elpv" and "name = \"elpv\"" in project_file.read_text(encoding="utf-8")
    # What the data checks found while the project was unsaved is beside its runs now, for the report.
    assert load_dataset_record(new.parent, str(shapes_dataset))["findings"][0]["code"] == "small-data"


def test_a_name_the_user_chose_stays_on_save_as(make_window, tmp_path, monkeypatch) -> None:
    window = make_window()
    window.project.update("name", "solar cells")
    monkeypatch.setattr(dialogs, "choose_project_to_save", lambda *args, **kwargs: str(tmp_path / "elpv.toml"))
    assert window.save_project_as()
    assert window.project.config.name == "solar cells"
    window.project.update("name", "elpv")  # a name that follows the file follows it again
    monkeypatch.setattr(dialogs, "choose_project_to_save", lambda *args, **kwargs: str(tmp_path / "elpv-v2.toml"))
    assert window.save_project_as()
    assert window.project.config.name == "elpv-v2"


def test_data_findings_made_before_the_first_save_follow_the_project(make_window, qtbot, tmp_path, shapes_dataset,
                                                                     monkeypatch) -> None:
    import workbench.qt.project_model as project_model
    from workbench.core.dataset_findings import load_dataset_record
    from workbench.core.events import FindingRaised

    monkeypatch.setattr(project_model, "default_runs_base", lambda: tmp_path / "unsaved")
    window = make_window(runs=False)
    window.project.update("data.source", str(shapes_dataset))
    window._on_data_findings([FindingRaised("class-imbalance", "warning", "Imbalanced", "…", "", {}, "data")])
    assert load_dataset_record(tmp_path / "unsaved" / "runs", str(shapes_dataset))["findings"]
    monkeypatch.setattr(dialogs, "choose_project_to_save", lambda *args, **kwargs: str(tmp_path / "p" / "x.toml"))
    (tmp_path / "p").mkdir()
    assert window.save_project_as()
    runs = tmp_path / "p" / "runs"
    qtbot.waitUntil(lambda: bool(load_dataset_record(runs, str(shapes_dataset))["findings"]), timeout=TIMEOUT)
    assert load_dataset_record(runs, str(shapes_dataset))["findings"][0]["code"] == "class-imbalance"
