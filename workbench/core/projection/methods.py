"""Registry of 2-D projections of feature vectors: t-SNE (openTSNE, streamed), UMAP and PCA.

Every method takes the same keyword arguments: `seed`; `init`, a previous N×2 embedding of the same
points (so successive epochs move smoothly instead of jumping); `on_partial(embedding, iteration)`,
called with intermediate layouts by methods that can stream; and `should_stop()`, polled between
steps, which makes the method raise InterruptedError.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

# The registry lives in the torch-free catalog; re-exported here, where the functions it names are.
from workbench.core.catalog.projections import PROJECTIONS, ProjectionInfo, register_projection

__all__ = ["PROJECTIONS", "ProjectionInfo", "prepare_features", "project", "project_pca", "project_tsne",
           "project_umap", "register_projection"]

OnPartial = Callable[[np.ndarray, int], None]
ShouldStop = Callable[[], bool]


def prepare_features(features: np.ndarray, max_dims: int = 50, seed: int = 0) -> np.ndarray:
    """Standardised features, reduced by PCA to `max_dims` dimensions (t-SNE and UMAP run faster on those)."""
    x = np.nan_to_num(np.asarray(features, dtype=np.float64))
    x = x - x.mean(axis=0)
    scale = x.std(axis=0)
    x = x / np.where(scale > 1e-12, scale, 1.0)
    if x.shape[1] > max_dims and len(x) > max_dims:
        from sklearn.decomposition import PCA

        x = PCA(max_dims, random_state=seed).fit_transform(x)
    return np.ascontiguousarray(x, dtype=np.float32)


def _align(embedding: np.ndarray, init: np.ndarray | None) -> np.ndarray:
    """Flip axes so the layout agrees with the previous one (PCA's signs are arbitrary)."""
    if init is None or init.shape != embedding.shape:
        return embedding
    signs = np.sign(np.sum(embedding * init, axis=0))
    return embedding * np.where(signs == 0, 1.0, signs)


def project_pca(features: np.ndarray, *, seed: int = 0, init: np.ndarray | None = None,
                on_partial: OnPartial | None = None, should_stop: ShouldStop | None = None) -> np.ndarray:
    x = prepare_features(features, seed=seed).astype(np.float64)
    if len(x) < 2:
        return np.zeros((len(x), 2))
    _, _, vt = np.linalg.svd(x - x.mean(axis=0), full_matrices=False)
    components = vt[:2]
    if len(components) < 2:
        components = np.vstack([components, np.zeros((2 - len(components), x.shape[1]))])
    return _align(x @ components.T, init)


def _probe_packages_without_importing() -> None:
    """openTSNE asks whether pynndescent is installed by importing it, and that import JIT-compiles with numba
    for about half a second while holding the GIL: the window freezes. Finding the package answers the same
    question without running it (and our dense euclidean features never need pynndescent)."""
    import importlib.util

    import openTSNE.affinity as affinity

    affinity.is_package_installed = lambda name: importlib.util.find_spec(name) is not None


def project_tsne(features: np.ndarray, *, seed: int = 0, init: np.ndarray | None = None,
                 on_partial: OnPartial | None = None, should_stop: ShouldStop | None = None,
                 partial_every: int = 25, n_iter: int = 500) -> np.ndarray:
    """openTSNE on one thread; partial layouts every `partial_every` iterations."""
    from openTSNE import TSNE
    from openTSNE.initialization import rescale

    _probe_packages_without_importing()
    x = prepare_features(features, seed=seed)
    n = len(x)
    if n < 8:
        return project_pca(features, seed=seed, init=init)
    perplexity = float(min(30.0, max(2.0, (n - 1) / 3.0)))
    done = [0]
    stopped = [False]

    def callback(_iteration: int, _error: float, embedding: np.ndarray) -> bool:
        done[0] += partial_every
        if should_stop is not None and should_stop():
            stopped[0] = True
            return True
        if on_partial is not None:
            on_partial(np.array(embedding, dtype=np.float64), done[0])
        return False

    start = rescale(np.asarray(init, dtype=np.float64)) if init is not None and init.shape == (n, 2) else "pca"
    tsne = TSNE(n_components=2, perplexity=perplexity, n_jobs=1, random_state=seed, n_iter=n_iter,
                callbacks=callback, callbacks_every_iters=partial_every, verbose=False)
    embedding = tsne.fit(x, initialization=start)
    if stopped[0]:
        raise InterruptedError("projection cancelled")
    return np.array(embedding, dtype=np.float64)


def project_umap(features: np.ndarray, *, seed: int = 0, init: np.ndarray | None = None,
                 on_partial: OnPartial | None = None, should_stop: ShouldStop | None = None) -> np.ndarray:
    """UMAP with a fixed seed, fitted in the warmed-up helper process (see `umap_warmup`)."""
    from workbench.core.projection.umap_warmup import fit_umap

    x = prepare_features(features, seed=seed)
    n = len(x)
    if n < 16:
        return project_pca(features, seed=seed, init=init)
    if should_stop is not None and should_stop():
        raise InterruptedError("projection cancelled")
    start: np.ndarray | str = "spectral"
    if init is not None and init.shape == (n, 2):
        start = (init - init.mean(0)) / max(float(init.std()), 1e-9) * 5.0  # UMAP wants a spread-out start
    embedding = fit_umap(x, int(min(15, n - 1)), seed, start, should_stop)
    if should_stop is not None and should_stop():
        raise InterruptedError("projection cancelled")
    return embedding


def project(features: np.ndarray, method: str = "tsne", **kwargs) -> np.ndarray:
    """N×2 layout of `features` by the registered `method`."""
    if method not in PROJECTIONS:
        raise ValueError(f"unknown projection {method!r}; choose one of {sorted(PROJECTIONS)}")
    return PROJECTIONS[method].load()(features, **kwargs)
