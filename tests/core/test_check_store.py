"""Data checks belong to the dataset: stored by content and settings, reused by runs and the doctor, and run in a
niced, thread-limited helper process that a cancel ends."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from tests.core.diag_fixtures import digits, save_png, small_config, write_classes
from workbench.core.callbacks import CollectingCallback
from workbench.core.data.cache import clear_cache
from workbench.core.data.pipeline import prepare_data
from workbench.core.diagnostics.check_store import checked_data, data_checks_key
from workbench.core.diagnostics.helper_process import HelperJob, spare_cores
from workbench.core.events import FindingRaised, LogMessage, RunFinished


@pytest.fixture
def store(tmp_path: Path, monkeypatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(root))
    return root / "data-checks"


def _dataset(root: Path) -> Path:
    """Real digit scans, one copied into a second class folder: a cross-class duplicate the checks must find."""
    data = write_classes(root, digits((0, 1), 25))
    shutil.copy(sorted((data / "d0").glob("*.png"))[0], data / "d1" / "copied_from_zero.png")
    return data


def test_results_are_stored_by_content_and_settings_and_reused(tmp_path: Path, store: Path) -> None:
    config = small_config(_dataset(tmp_path / "data"), tmp_path / "runs")
    prepared = prepare_data(config)
    first = checked_data(prepared, config, evidence_dir=tmp_path / "run1")
    assert not first.reused and first.folder is not None and first.folder.parent == store
    assert "duplicates-conflicting-labels" in {f.code for f in first.findings}  # the planted copy
    again = checked_data(prepared, config, evidence_dir=tmp_path / "run2")
    assert again.reused and again.key == first.key
    assert [f.to_dict() | {"evidence": {}} for f in again.findings] == \
        [f.to_dict() | {"evidence": {}} for f in first.findings]

    # a changed setting the checks read, and a changed file, each give a new key
    other = config.model_copy(deep=True)
    other.preprocessing.image_size = 12
    assert data_checks_key(prepare_data(other), other) != first.key
    moved = config.model_copy(deep=True)
    moved.training.lr = 0.5  # a setting no data check reads: the stored results still apply
    assert data_checks_key(prepared, moved) == first.key
    clear_cache()
    victim = sorted((Path(config.data.source) / "d0").glob("*.png"))[3]
    time.sleep(0.01)
    save_png(victim, np.full((8, 8), 7, dtype=np.uint8))
    assert data_checks_key(prepare_data(config), config) != first.key


def test_a_run_and_the_doctor_share_the_stored_checks(tmp_path: Path, store: Path, capsys) -> None:
    from workbench.cli import main
    from workbench.core.config import save_config
    from workbench.core.diagnostics.run_monitors import DataChecksMonitor
    from workbench.core.training.engine import train

    config = small_config(_dataset(tmp_path / "data"), tmp_path / "runs", epochs=1)
    project = tmp_path / "project.toml"
    save_config(config, project)
    # A dataset never checked: the checks run, then are stored. Headless on a CPU that training keeps busy they run
    # once the run is reported finished, in a thread (a helper process would get no core before then); with
    # cores to spare, in a helper process while training runs.
    first = DataChecksMonitor()
    events = CollectingCallback()
    assert train(config, events, monitors=[first]).status == "completed"
    assert first.job is not None and first.job.uses_process == spare_cores()
    assert first.result and not first.result["reused"]
    if not spare_cores():
        finished = events.events.index(events.of_type(RunFinished)[0])
        assert {e.code for e in events.events[finished:] if isinstance(e, FindingRaised)}  # the data findings
    assert main(["doctor", str(project)]) in (0, 1)
    assert "were reused" in capsys.readouterr().out  # the doctor reads what the run stored
    monitor = DataChecksMonitor()
    events = CollectingCallback()
    result = train(config, events, monitors=[monitor])
    assert result.status == "completed", result.reason
    assert monitor.job is None  # known from the store: no helper process was needed
    assert monitor.result is not None and monitor.result["reused"]
    assert any("were reused" in e.message for e in events.of_type(LogMessage))
    run_codes = {e.code for e in events.of_type(FindingRaised)}
    assert run_codes and run_codes == {f.code for f in checked_data(prepare_data(config), config).findings}


def test_beside_a_window_the_data_checks_run_in_a_helper_process(tmp_path: Path, store: Path) -> None:
    """A window shares the process: its GIL stays free, so the checks go to a helper process from the start."""
    from workbench.core.diagnostics.run_monitors import DataChecksMonitor
    from workbench.core.host import set_interactive_host
    from workbench.core.training.engine import train

    config = small_config(_dataset(tmp_path / "data"), tmp_path / "runs", epochs=1)
    monitor = DataChecksMonitor()
    set_interactive_host(True)
    try:
        assert train(config, CollectingCallback(), monitors=[monitor]).status == "completed"
    finally:
        set_interactive_host(False)
    assert monitor.job is not None and monitor.job.uses_process
    assert monitor.result and not monitor.result["reused"]


def test_the_helper_runs_niced_with_one_thread_and_a_cancel_ends_it() -> None:
    messages: list = []
    job = HelperJob("tests.core.helper_targets:report_limits", {"sleep": 0.0}, messages.append).start()
    assert job.join(120) and not job.error, job.error
    limits = job.result
    assert limits["pid"] != os.getpid() and limits["niceness"] >= os.nice(0) + 10
    assert limits["torch_threads"] == 1 and limits["blas_threads"] <= 1
    if hasattr(os, "SCHED_IDLE"):  # Linux: it runs only on a core that training leaves idle
        assert limits["policy"] == os.SCHED_IDLE
    assert messages == [("started", limits["pid"])]

    slow = HelperJob("tests.core.helper_targets:report_limits", {"sleep": 60.0}, messages.append).start()
    deadline = time.monotonic() + 120
    while len(messages) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    started = time.monotonic()
    slow.cancel(wait_s=1.0)
    assert slow.done and time.monotonic() - started < 10 and slow.result is None
    slow._process.join(10)  # a killed child is gone once the busy machine lets it exit
    assert not slow._process.is_alive()


def test_evidence_files_travel_with_stored_findings_into_each_run(tmp_path: Path, store: Path) -> None:
    from workbench.core.diagnostics.check_store import copy_evidence, load_stored, save_stored
    from workbench.core.diagnostics.findings import Finding

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    (scratch / "input_size.png").write_bytes(b"png")
    finding = Finding("input-size", "warning", "t", "e", evidence={"image": str(scratch / "input_size.png"),
                                                                   "sample": "/data/a.png"})
    save_stored("k1", [finding], scratch)
    stored = load_stored("k1")
    assert stored is not None and stored.findings[0].evidence["image"] == str(store / "k1" / "evidence" /
                                                                            "input_size.png")
    moved = copy_evidence(stored, tmp_path / "run" / "diagnostics")
    assert moved[0].evidence == {"image": str(tmp_path / "run" / "diagnostics" / "input_size.png"),
                                 "sample": "/data/a.png"}  # a dataset path is not evidence: left as it was
    assert Path(moved[0].evidence["image"]).read_bytes() == b"png"


def test_where_no_helper_process_may_start_the_job_runs_in_a_thread(monkeypatch) -> None:
    monkeypatch.setenv("WORKBENCH_DIAGNOSTICS_IN_PROCESS", "1")
    messages: list = []
    job = HelperJob("tests.core.helper_targets:report_limits", None, messages.append, later=True).start()
    assert not job.uses_process and not job.done
    job.submit({"sleep": 0.0})
    assert job.join(60) and not job.error, job.error
    assert job.result["pid"] == os.getpid() and messages == [("started", os.getpid())]


def test_a_later_process_reads_the_stored_content_hashes_and_rehashes_a_changed_file(tmp_path: Path, store: Path,
                                                                                     monkeypatch) -> None:
    """The files' content hashes are kept with the store: another process (here: this one with its memory
    cleared) computes the same key without reading an unchanged file, and reads a changed one again."""
    from workbench.core.diagnostics import check_store

    config = small_config(_dataset(tmp_path / "data"), tmp_path / "runs", epochs=1)
    prepared = prepare_data(config)
    first = data_checks_key(prepared, config)
    read: list[str] = []

    def counting_open(path, *args, **kwargs):
        read.append(str(path))
        return open(path, *args, **kwargs)

    monkeypatch.setattr(check_store, "open", counting_open, raising=False)
    check_store._hashes.clear()  # a new process
    assert data_checks_key(prepared, config) == first and read == []
    changed = prepared.samples[3].path
    time.sleep(0.01)
    Path(changed).write_bytes(Path(changed).read_bytes() + b"\0")  # same image, another file
    check_store._hashes.clear()
    assert data_checks_key(prepared, config) != first and read == [changed]
