"""One projection, as the task of a helper process (diagnostics/helper_process.py): scores, partial layouts, the layout.

`project_job(payload, send, should_stop)` is the HelperJob target the ProjectionWorker submits each job to. It
computes the separability scores, sends them, fits the layout (t-SNE streams partial layouts, sent at most every
`partial_interval_s` seconds) and returns the layout with the points as the event carries them, so the training
process only unpickles them. numpy, scikit-learn, openTSNE and UMAP hold the GIL for long stretches; in a helper
process they never freeze the window or the training loop. Where HelperJob falls back to a thread
(WORKBENCH_DIAGNOSTICS_IN_PROCESS=1), this function runs there unchanged.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

# What a pre-started helper imports while it waits for its job (the method's own library is added).
WARM = ("numpy", "sklearn.metrics", "sklearn.model_selection", "sklearn.neighbors", "sklearn.decomposition")
METHOD_MODULES = {"tsne": ("openTSNE",), "umap": ("umap",)}


def points_of(embedding: np.ndarray) -> tuple[tuple[float, float], ...]:
    """The layout as a ProjectionReady carries it: a tuple of (x, y), rounded to 4 decimals."""
    return tuple((float(a), float(b)) for a, b in np.round(embedding, 4).tolist())


def project_job(payload: dict[str, Any], send: Callable[[Any], None], should_stop: Callable[[], bool]) -> dict:
    """Scores, then the layout of `payload["features"]`; sends ("started", pid), ("scores", scores) and
    ("partial", points, iteration)."""
    from workbench.core.projection.methods import project
    from workbench.core.projection.scores import separability_scores
    from workbench.core.projection.umap_warmup import fitting_here

    send(("started", os.getpid()))
    features, labels, seed = payload["features"], payload["labels"], int(payload.get("seed", 0))
    scores = separability_scores(features, labels, seed=seed)
    send(("scores", scores))
    if should_stop():
        raise InterruptedError("projection cancelled")
    interval = float(payload.get("partial_interval_s", 0.5))
    last_sent = [0.0]

    def partial(embedding: np.ndarray, iteration: int) -> None:
        now = time.monotonic()
        if now - last_sent[0] >= interval:
            last_sent[0] = now
            send(("partial", points_of(embedding), iteration))

    # On a helper process's main thread, UMAP fits right here; in the in-thread fallback it keeps its own helper.
    here = threading.current_thread() is threading.main_thread()
    with fitting_here() if here else contextlib.nullcontext():
        embedding = project(features, payload["method"], seed=seed, init=payload.get("init"), on_partial=partial,
                            should_stop=should_stop)
    if should_stop():
        raise InterruptedError("projection cancelled")
    return {"embedding": np.asarray(embedding, dtype=np.float64), "points": points_of(embedding), "scores": scores}
