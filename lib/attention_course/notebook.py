"""Make a chapter reproducible wherever it runs: fixed seeds, one thread count,
quiet progress bars and rounded printing."""
from __future__ import annotations

import os
import random
import warnings

import numpy as np
import torch

THREADS = 2
COLUMN_CHARS = 78   # monospace characters in a line of the online book's column (tests/test_layout.py)


def setup_notebook(seed: int = 0, threads: int = THREADS) -> None:
    """Seed Python, NumPy and torch, fix torch's thread count (results of reductions
    depend on it) and round printed tensors, so stored outputs match on another machine."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.set_printoptions(precision=3, sci_mode=False, linewidth=COLUMN_CHARS)
    np.set_printoptions(precision=3, suppress=True, linewidth=COLUMN_CHARS)
    os.environ.setdefault("TQDM_DISABLE", "1")
    warnings.filterwarnings("ignore", category=UserWarning, module="torch")
