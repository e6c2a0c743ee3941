"""Honest evaluation of finished runs.

- `evaluate`: loading a run and `evaluate_run`, the one entry point (the test split is locked, see `test_lock`);
- `metrics`: headline and per-class metrics, ROC/PR curves, calibration, bootstrap intervals;
- `inference`: forward passes over decoded images, with perturbations and test-time augmentation (`tta`, `tta_eval`);
- `robustness` and `perturbations`: the perturbed-copy check; `gallery` and `saliency`: the worst errors, explained;
- `external`: validation on a separately supplied dataset; `predict`: new images; `compare`: runs side by side;
- `storage`: where results live in a run folder; `summaries`: plain-text output for the CLI.
"""
