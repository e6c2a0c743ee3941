"""The bad cases of issue 17, each reproduced by a test (written first, seen to fail, then fixed).

Case 5 (project name as a path) and case 6 (`--epochs`) are in test_config_changes.py; case 7 (test files
present at evaluation) belongs to the test-set ledger's tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]


# --- case 4: class order must not depend on Python's hash seed -----------------------------------

_SCAN = """
import json, sys
from workbench.core.data.discovery import scan_dataset
from workbench.core.data.splits import splits_for
from workbench.core.config import DataConfig
scan = scan_dataset(sys.argv[1])
splits = splits_for(scan.samples, scan.labels(), DataConfig(seed=3))
print(json.dumps({"classes": scan.classes, "files": [s.path for s in scan.samples],
                  "test": [scan.samples[i].path for i, s in enumerate(splits) if s == "test"]}))
"""


def test_class_order_is_the_same_under_every_hash_seed(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    names = ["Cat", "cat", "c1", "c01", "CAT", "c001", "b2", "B2"]
    for k, name in enumerate(names):
        (tmp_path / name).mkdir()
        for i in range(6):
            pixels = np.clip(rng.normal(40 + 20 * k, 10, (8, 8)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(tmp_path / name / (f"x{i}.png" if i % 2 else f"x0{i}.png"))
    outputs = set()
    for seed in ("0", "1", "2", "3", "4", "5"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
        done = subprocess.run([sys.executable, "-c", _SCAN, str(tmp_path)], env=env, capture_output=True,
                              text=True, timeout=120, check=True)
        outputs.add(done.stdout)
    assert len(outputs) == 1, "class order, file order or test split changed with PYTHONHASHSEED"
    classes = json.loads(outputs.pop())["classes"]
    assert classes == ["B2", "b2", "c001", "c01", "c1", "CAT", "Cat", "cat"]
