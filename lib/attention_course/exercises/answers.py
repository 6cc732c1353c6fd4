"""Reading a reader's answer as numbers, and the small numeric helpers the checkers share."""
from __future__ import annotations

import numpy as np


def as_array(x, what: str, dtype=np.float64) -> np.ndarray:
    """A tensor, array or nested list as a NumPy array; anything else fails with a hint."""
    if hasattr(x, "detach"):                       # a torch tensor
        x = x.detach().cpu().numpy()
    try:
        return np.asarray(x, dtype=dtype)
    except (TypeError, ValueError):
        raise AssertionError(f"{what} should be a tensor, an array or a list of numbers, "
                             f"got {type(x).__name__}.") from None


def as_float(x, what: str) -> float:
    """One number (a Python number or a one-element tensor); anything else fails with a hint."""
    if hasattr(x, "detach"):
        if x.numel() != 1:
            raise AssertionError(f"{what} is one number, got a tensor of shape {tuple(x.shape)}.")
        x = x.item()
    if isinstance(x, bool):
        raise AssertionError(f"{what} should be a number, not {x!r}.")
    try:
        return float(x)
    except (TypeError, ValueError):
        raise AssertionError(f"{what} should be a number, got {type(x).__name__}.") from None


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


def rounded_normal(seed: int, shapes: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """Seeded exercise data: standard normal numbers rounded to one decimal (easy to read)."""
    rng = np.random.default_rng(seed)
    return {k: np.round(rng.normal(size=shape), 1) + 0.0 for k, shape in shapes.items()}


def as_function(x, name: str):
    """The reader's function itself; a result or None fails with a hint naming the function."""
    if not callable(x):
        raise AssertionError(f"Set answer to your function itself (answer = {name}), not to its result.")
    return x


def mean_over_words(losses, batch) -> float:
    """Mean of per-position losses over the real target tokens (padding, index 0, left out)."""
    real = batch.tgt_out != 0
    return float(losses[real].sum() / real.sum())


def run_on_copy(answer, model, *args):
    """``answer(copy of model, *args)`` without gradients, on a fresh eval-mode copy (the reader's
    code may change the model it gets); an exception in the reader's code becomes the check's error."""
    import copy

    import torch

    mine = copy.deepcopy(model).eval()
    try:
        with torch.no_grad():
            return answer(mine, *args)
    except Exception as e:  # the reader's code failed: say so plainly
        raise AssertionError(f"Your function raised {e.__class__.__name__}: {e}") from None
