"""The heavy diagnostics as helper-process jobs: data checks, the shortcut probe and the end-of-run label check.

Each `*_job(payload, send, should_stop)` runs inside a `HelperJob` child; it sends ("progress", done, total)
and ("finding", Finding) messages and returns its result. The `*_payload` functions, called in the training
or GUI process, pack what a job needs: the prepared data (a large image cache travels as a file name, not
through the pipe) and, for the model checks, a CPU copy of the trained model.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import io
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from torch import nn

    from workbench.core.config import ProjectConfig
    from workbench.core.data.pipeline import PreparedData

Send = Callable[[Any], None]
PIPE_LIMIT_BYTES = 128 * 2**20  # larger image caches go to the helper as a memory-mapped .npy file


# --- packing, in the calling process ---------------------------------------------------------------


def portable_data(prepared: PreparedData) -> tuple[dict[str, Any], str | None]:
    """(what the helper needs to rebuild `prepared`, a temporary file to delete after the job or None)."""
    array = prepared.images.array
    path, temporary = None, None
    if isinstance(array, np.memmap) and getattr(array, "filename", None):
        path = str(array.filename)
    elif array.nbytes > PIPE_LIMIT_BYTES:
        handle, temporary = tempfile.mkstemp(prefix="workbench-images-", suffix=".npy")
        os.close(handle)
        np.save(temporary, array)
        path = temporary
    if path is None:
        return {"prepared": prepared, "array_path": None}, None
    empty = np.zeros((0, *array.shape[1:]), dtype=array.dtype)
    light = dataclasses.replace(prepared, images=dataclasses.replace(prepared.images, array=empty))
    return {"prepared": light, "array_path": path}, temporary


def restore_data(packed: dict[str, Any]) -> PreparedData:
    prepared = packed["prepared"]
    if packed.get("array_path"):
        array = np.load(packed["array_path"], mmap_mode="r")
        prepared = dataclasses.replace(prepared, images=dataclasses.replace(prepared.images, array=array,
                                                                            on_disk=True))
    return prepared


def portable_model(model: nn.Module, as_bytes: bool = True) -> bytes | nn.Module:
    """A CPU copy of the model without hooks (monitors' hooks hold threads and locks): as bytes for a helper
    process, or the copy itself for a job in a thread of this process (its own copy: the other end-of-run
    checks switch the run's model between training and evaluation mode)."""
    import torch

    clone = copy.deepcopy(model).to("cpu").eval()
    for module in clone.modules():
        for hooks in ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks",
                      "_forward_hooks_with_kwargs", "_forward_pre_hooks_with_kwargs"):
            if isinstance(getattr(module, hooks, None), dict):
                getattr(module, hooks).clear()
    if not as_bytes:
        return clone
    buffer = io.BytesIO()
    torch.save(clone, buffer)
    return buffer.getvalue()


def remove_temporary(path: str | None) -> None:
    if path:
        with contextlib.suppress(OSError):
            os.unlink(path)


# --- the jobs, in the helper process ---------------------------------------------------------------


def _load_model(data: bytes | nn.Module) -> nn.Module:
    if not isinstance(data, (bytes, bytearray)):  # a job in a thread got the copy itself
        return data.eval()
    import torch

    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=False).eval()


def _run_context(prepared: PreparedData, config: ProjectConfig, run_dir: str | None) -> SimpleNamespace:
    """What the model checks read from a run's MonitorContext: the data, the config and CPU batch sources."""
    import torch

    from workbench.core.training.loop import BatchSource

    def source(split: str) -> BatchSource:
        return BatchSource(data=prepared, indices=prepared.indices(split), batch_size=config.training.batch_size,
                           device=torch.device("cpu"), stats=prepared.stats)

    return SimpleNamespace(data=prepared, config=config, train_source=source("train"), val_source=source("val"),
                           run_dir=run_dir)


def data_checks_job(payload: dict[str, Any], send: Send, should_stop: Callable[[], bool]) -> dict[str, Any]:
    """The data checks of prepared data, from the store or computed (and stored)."""
    from workbench.core.diagnostics.check_store import checked_data

    prepared = restore_data(payload["data"])
    stored = checked_data(prepared, payload["config"], evidence_dir=payload.get("evidence_dir"),
                          progress=lambda done, total: send(("progress", done, total)), should_stop=should_stop,
                          on_finding=lambda finding: send(("finding", finding)))
    return {"key": stored.key, "reused": stored.reused, "created": stored.created, "findings": len(stored.findings)}


def project_checks_job(payload: dict[str, Any], send: Send, should_stop: Callable[[], bool]) -> dict[str, Any]:
    """For the GUI and the doctor: read the project's data, then its data checks (from the store where known)."""
    from workbench.core.data.pipeline import prepare_data

    config = payload["config"]
    prepared = prepare_data(config, should_stop=should_stop,
                            stage_progress=lambda stage, done, total: send(("stage", stage, done, total)))
    result = data_checks_job({"data": {"prepared": prepared, "array_path": None}, "config": config}, send,
                             should_stop)
    return {**result, "images": len(prepared.splits)}


def shortcut_job(payload: dict[str, Any], send: Send, should_stop: Callable[[], bool]) -> Any:
    """The shortcut probe of a trained model; returns its ShortcutReport (findings, maps, evidence paths)."""
    from workbench.core.diagnostics.shortcut import shortcut_check_for_run

    prepared = restore_data(payload["data"])
    context = _run_context(prepared, payload["config"], payload.get("run_dir"))
    return shortcut_check_for_run(_load_model(payload["model"]), context, max_per_class=payload["max_per_class"],
                                  should_stop=should_stop, progress=lambda *progress: send(("progress", *progress)),
                                  known_probs=payload.get("known_probs"))


def label_check_job(payload: dict[str, Any], send: Send, should_stop: Callable[[], bool]) -> int:
    """cleanlab on the trained network's predictions for the validation images; returns the findings sent."""
    from workbench.core.diagnostics.label_issues import after_training_findings, save_out_of_sample_probs
    from workbench.core.training.loop import predict

    prepared = restore_data(payload["data"])
    context = _run_context(prepared, payload["config"], payload.get("run_dir"))
    send(("progress", 0, 2))
    rows = context.val_source.indices
    # The last validation pass's probabilities where the engine kept them; else the model predicts again.
    probs = payload["probs"] if "probs" in payload else predict(_load_model(payload["model"]), context.val_source)["probs"]
    if should_stop():
        raise InterruptedError("label check cancelled")
    send(("progress", 1, 2))
    if payload.get("evidence_dir"):
        save_out_of_sample_probs(Path(payload["evidence_dir"]), rows, probs)
    sent = 0
    for finding in after_training_findings(prepared.labels[rows], probs, [prepared.samples[i] for i in rows],
                                           prepared.class_names, [prepared.splits[i] for i in rows]):
        send(("finding", finding))
        sent += 1
    send(("progress", 2, 2))
    return sent
