"""Which accelerator to train on: CUDA, then Apple's MPS, then the CPU."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DeviceReport:
    available: list[str]
    recommended: str
    description: str
    problem: str = ""  # e.g. CUDA built in but unusable


def detect_devices() -> DeviceReport:
    import torch

    available = ["cpu"]
    problem = ""
    description = f"CPU ({torch.get_num_threads()} threads)"
    cuda_built = torch.version.cuda is not None
    try:
        if torch.cuda.is_available():
            available.insert(0, "cuda")
            props = torch.cuda.get_device_properties(0)
            description = f"CUDA: {props.name}, {props.total_memory / 2**30:.0f} GiB"
    except Exception as error:  # a broken driver raises rather than answering False
        problem = f"CUDA is installed but not usable: {error}"
    if "cuda" not in available and cuda_built and not problem:
        problem = ""  # a CUDA build on a machine without an NVIDIA GPU: nothing to fix
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        available.insert(0 if "cuda" not in available else 1, "mps")
        if "cuda" not in available:
            description = "Apple GPU (MPS)"
    return DeviceReport(available, available[0], description, problem)


def select_device(setting: str) -> str:
    """The device to use for a config value of 'auto', 'cpu', 'cuda' or 'mps'; raises when unavailable."""
    report = detect_devices()
    if setting == "auto":
        return report.recommended
    if setting not in report.available:
        detail = f" ({report.problem})" if report.problem else ""
        raise RuntimeError(
            f"device '{setting}' is not available on this machine{detail}; available: {', '.join(report.available)}. "
            "Set training.device to 'auto'"
        )
    return setting
