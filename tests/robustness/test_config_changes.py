"""One validated way to change a config: `with_updates`, used by every CLI override and on resume (issue 17, case 6).

Also: a project name can never lead an export out of its folder (case 5), and relative paths stay relative.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.core.config import ConfigError, ProjectConfig, load_config, save_config, with_updates
from workbench.core.training.engine import train


@pytest.fixture
def project_file(tiny_project, tmp_path: Path) -> Path:
    path = tmp_path / "project.toml"
    save_config(tiny_project, path)
    return path


def test_with_updates_revalidates_and_names_the_flag() -> None:
    config = ProjectConfig()
    assert with_updates(config, {"training.epochs": 30, "training.lr": 0.01}).training.epochs == 30
    assert config.training.epochs == 15, "the original is untouched"
    with pytest.raises(ConfigError) as error:
        with_updates(config, {"training.epochs": -3}, source="--epochs")
    assert str(error.value) == ("--epochs has 1 invalid setting(s):\n  - training.epochs = -3: Input should be greater "
                                "than or equal to 1 (allowed: >= 1 and <= 10000; Passes over the training split.)")
    with pytest.raises(ConfigError, match=r"training\.epoch is not a setting; check its spelling"):
        with_updates(config, {"training.epoch": 3})
    with pytest.raises(ConfigError, match=r"tranining\.lr is not a setting"):
        with_updates(config, {"tranining.lr": 3})


@pytest.mark.parametrize(("value", "expected"), [
    ("0", "training.epochs = 0: Input should be greater than or equal to 1"),
    ("-3", "training.epochs = -3: Input should be greater than or equal to 1"),
    ("20000", "training.epochs = 20000: Input should be less than or equal to 10000"),
], ids=["zero", "negative", "too-many"])
def test_bad_epochs_are_refused_before_any_run(project_file: Path, tmp_path: Path, value: str, expected: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", str(project_file), "--epochs", value]) == 2
    err = capsys.readouterr().err
    assert f"workbench: error: --epochs has 1 invalid setting(s):\n  - {expected}" in err
    assert not list((tmp_path / "runs").glob("2*")), "no run folder is left behind"


def test_bad_epochs_on_resume_and_k_fold_are_refused(project_file: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--resume", str(tmp_path / "nowhere"), "--epochs", "-3"]) == 2
    assert "training.epochs = -3" in capsys.readouterr().err
    assert main(["train", str(project_file), "--k-fold", "30"]) == 2
    assert "data.k_folds = 30: Input should be less than or equal to 20" in capsys.readouterr().err


def test_resume_applies_edited_epochs_and_lr_and_names_what_it_keeps(tiny_project, tmp_path: Path) -> None:
    first = train(tiny_project)
    assert first.status == "completed" and first.epochs_run == 2
    edited = with_updates(tiny_project, {"training.epochs": 4, "training.lr": 1e-3, "training.batch_size": 8})
    messages: list[str] = []

    class Log:
        def on_event(self, event) -> None:
            messages.append(getattr(event, "message", ""))

    resumed = train(edited, Log(), resume=first.run_dir)
    assert resumed.status == "completed" and resumed.epochs_run == 4, resumed.reason
    assert "resumed with training.epochs = 4 (the run had 2)" in messages
    assert "resumed with training.lr = 0.001 (the run had 0.003)" in messages
    assert any("kept the run's own settings for training.batch_size (the run has 16, the project 8)" in m
               for m in messages)
    saved = load_config(first.run_dir / "config.toml")
    assert (saved.training.epochs, saved.training.lr, saved.training.batch_size) == (4, 1e-3, 16)
    import json

    lrs = [json.loads(line)["lr"] for line in (first.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert len(lrs) == 4 and max(lrs[2:]) <= 1e-3 + 1e-12, lrs


def test_resume_with_fewer_epochs_than_done_is_refused_and_leaves_the_run(tiny_project, tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    first = train(tiny_project)
    assert main(["train", "--resume", str(first.run_dir), "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert "has already trained 2 epoch(s), and training.epochs is 1; give more epochs" in err
    import json

    assert json.loads((first.run_dir / "run.json").read_text())["status"] == "completed"
    assert main(["train", "--resume", str(first.run_dir), "--epochs", "3"]) == 0
    assert json.loads((first.run_dir / "run.json").read_text())["epochs_run"] == 3


@pytest.mark.parametrize("name", ["../../../../ESCAPED/x", "a/b", "a\\b", "..", "tab\there"])
def test_project_names_that_could_be_paths_are_refused(name: str) -> None:
    from workbench.core.config import config_from_dict

    with pytest.raises(ConfigError) as error:
        config_from_dict({"name": name})
    assert f"  - name = {name!r}: a project name may not contain '/', '\\', '..' or control characters" in str(error.value)


def test_received_run_with_escaping_name_cannot_export_outside(trained_run: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    run = tmp_path / "received" / "runs" / trained_run.name
    shutil.copytree(trained_run, run, ignore=shutil.ignore_patterns("exports", "report"))
    text = (run / "config.toml").read_text()
    (run / "config.toml").write_text(text.replace('name = "tiny"', 'name = "../../../../ESCAPED/x"'))
    assert main(["export", str(run), "--no-onnx"]) == 2
    assert "a project name may not contain '/'" in capsys.readouterr().err
    assert not list(tmp_path.rglob("ESCAPED")), "nothing was written outside the run"


def test_bundle_file_name_is_sanitised(trained_run: Path, tmp_path: Path) -> None:
    from workbench.core.evaluation.evaluate import load_run
    from workbench.core.export.bundle import write_bundle

    run = load_run(trained_run, device="cpu")
    run.config.name = "Cells: v2 *final*?"
    path = write_bundle(run, tmp_path / "out")
    assert path.parent == tmp_path / "out" and path.name == f"Cells_v2_final-{trained_run.name}.wbmodel"
    assert zipfile.is_zipfile(path)


def test_relative_paths_stay_relative_when_saved(tmp_path: Path, shapes_dataset: Path) -> None:
    import shutil

    project_dir = tmp_path / "proj"
    shutil.copytree(shapes_dataset, project_dir / "images")
    (project_dir / "p.toml").write_text('name = "rel"\n[data]\nsource = "images"\n')
    config = load_config(project_dir / "p.toml")
    assert Path(config.data.source).is_absolute() and config.runs_dir == str((project_dir / "runs").resolve())
    config.training.epochs = 3
    save_config(with_updates(config, {"training.lr": 0.01}), project_dir / "p.toml")
    text = (project_dir / "p.toml").read_text()
    assert 'source = "images"' in text and 'runs_dir = ""' in text and "epochs = 3" in text
    other = tmp_path / "elsewhere"
    other.mkdir()
    save_config(config, other / "p.toml")  # Save As into another folder: "images" would point elsewhere
    assert f'source = "{(project_dir / "images").resolve()}"' in (other / "p.toml").read_text()
