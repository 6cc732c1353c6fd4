"""The settings of a training run (``python -m attention_course.train CONFIG``) and their rules.

A config is a JSON object with ``name``, an optional ``description`` and three sections:
``model`` (the fields of :class:`~attention_course.models.seq2seq.ModelConfig`), ``data``
(:class:`DataConfig`) and ``train`` (:class:`TrainConfig`). Every setting has a type and an
allowed range: :data:`RULES` for the data and train sections and the name, and for the model
section the rules a saved model's ``config.json`` is loaded with
(:func:`attention_course.checkpoint.validate_model_config`). :meth:`RunConfig.from_dict` checks
them all, so that a mistake is reported in one line naming the setting, its value and what is
allowed ("train.epochs is 0, expected an integer >= 1"), before any data is loaded.

Resuming (``--resume``) continues a run only with the settings it was started with; only those
in :data:`MAY_CHANGE_ON_RESUME` may differ, because they change neither which batches are drawn,
nor the random numbers, nor how the parameters are updated: ``train.epochs`` (to extend a run: the
learning rate depends on the epoch only, so a run extended from k to n epochs equals an n-epoch
run), ``train.checkpoint_every`` (how often the state is saved), ``train.threads`` (speed; CPU
results may then differ in the last bits, as on another machine) and the free-text
``description``. The device (``--device``, not a setting of the config) may change too.
:func:`settings_differences` lists the other settings that differ.
"""
from __future__ import annotations

import difflib
import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

from .checkpoint import RESTORE_HINT, CheckpointError
from .models.seq2seq import ModelConfig

try:
    from .checkpoint import validate_model_config
except ImportError:             # a checkpoint module without it: model settings checked by type only
    validate_model_config = None

__all__ = ["ConfigError", "DataConfig", "TrainConfig", "RunConfig", "RULES", "MAY_CHANGE_ON_RESUME",
           "check_setting", "validate_config", "settings_differences"]


class ConfigError(ValueError):
    """A setting (of the config, the command line or the output folder) is not allowed; the
    one-line message names it, its value and what is allowed."""


@dataclass
class DataConfig:
    min_freq: int = 3          # vocabulary threshold (training split counts)
    max_len: int = 50          # drop training pairs longer than this (tokens, either side)
    subset: int | None = None  # use only the first N training pairs (for quick runs)
    dev_subset: int | None = None


@dataclass
class TrainConfig:
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    lr_decay: float = 0.8            # lr · decay^(epoch - 1): a run stopped after k epochs equals a k-epoch run
    clip: float = 1.0
    seed: int = 1234
    checkpoint_every: int = 500      # batches
    threads: int | None = None       # torch CPU threads (None: leave as is)
    projection: str = "auto"         # precision of the vocabulary projection while training: float32,
                                     # bfloat16 (mixed precision) or auto (bfloat16 on CPUs with native bf16)


# ---------------------------------------------------------------------------------------------
# The rules: one per setting
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rule:
    allowed: str                       # what is allowed, in words ("an integer >= 1")
    ok: Callable[[Any], bool]
    optional: bool = False             # null (None) allowed too

    def check(self, key: str, value: Any, origin: str = "") -> None:
        if value is None and self.optional:
            return
        if not self.ok(value):
            where = f" ({origin})" if origin else ""
            raise ConfigError(f"{key} is {show(value)}{where}, expected {self.allowed}")


class _Absent:
    def __repr__(self) -> str:
        return "(absent)"


ABSENT = _Absent()   # a setting one of two configs lacks (see settings_differences)


def show(value: Any, limit: int = 60) -> str:
    """A value as it is written in JSON (strings quoted, null, true/false), cut to ``limit`` characters."""
    if value is ABSENT:
        return "(absent)"
    try:
        text_ = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text_ = repr(value)
    return text_ if len(text_) <= limit else text_[: limit - 3] + "..."


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return (isinstance(v, (int, float)) and not isinstance(v, bool)) and math.isfinite(v)


def integer(low: int, high: int | None = None, optional: bool = False) -> Rule:
    allowed = f"an integer >= {low}" if high is None else f"an integer from {low} to {high}"
    return Rule(allowed + (" or null" if optional else ""),
                lambda v: _is_int(v) and v >= low and (high is None or v <= high), optional)


def number(low: float, high: float | None = None) -> Rule:
    """A finite number in (low, high]."""
    return Rule(f"a number > {low:g}" + ("" if high is None else f" and <= {high:g}"),
                lambda v: _is_number(v) and v > low and (high is None or v <= high))


def choice(*options: str) -> Rule:
    return Rule("one of " + ", ".join(options), lambda v: isinstance(v, str) and v in options)


def text(optional: bool = False) -> Rule:
    return Rule("a string" + (" or null" if optional else ""), lambda v: isinstance(v, str), optional)


def _good_name(v) -> bool:
    return (isinstance(v, str) and v.strip() == v and v not in ("", ".", "..")
            and not any(c in v for c in "/\\") and all(c.isprintable() for c in v))


TOP_RULES = {
    "name": Rule("a non-empty string without / or \\, not . or .. (it names the default output folder "
                 "runs/NAME)", _good_name),
    "description": text(optional=True),
}
# The data and train sections here; the model section is checked by checkpoint.validate_model_config
# (the rules a saved model's config.json is loaded with), see _check_model.
RULES: dict[str, dict[str, Rule]] = {
    "data": {
        "min_freq": integer(1),
        "max_len": integer(1),
        "subset": integer(1, optional=True),
        "dev_subset": integer(1, optional=True),
    },
    "train": {
        "epochs": integer(1),
        "batch_size": integer(1),
        "lr": number(0),
        "lr_decay": number(0, 1),
        "clip": number(0),
        "seed": integer(0, 2**32 - 1),
        "checkpoint_every": integer(1),
        "threads": integer(1, optional=True),
        "projection": choice("auto", "float32", "bfloat16"),
    },
}
SECTIONS = ("model", "data", "train")
assert set(RULES["data"]) == {f.name for f in fields(DataConfig)}, "every data setting needs a rule"
assert set(RULES["train"]) == {f.name for f in fields(TrainConfig)}, "every train setting needs a rule"

# Settings that may differ between a run's start and its resumption (see the module docstring).
MAY_CHANGE_ON_RESUME = frozenset({"description", "train.epochs", "train.threads", "train.checkpoint_every"})


def _known(section: str) -> list[str]:
    if section == "model":
        return [f.name for f in fields(ModelConfig)]
    return list(RULES[section])


def _no_such(key: str, value: Any, known: list[str], what: str) -> ConfigError:
    name = key.rsplit(".", 1)[-1]
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return ConfigError(f"{key} is {show(value)}, but there is no such {what}{hint}; known: {', '.join(known)}")


def check_setting(key: str, value: Any, origin: str = "") -> Any:
    """Check one data, train or top-level setting ("train.epochs") given elsewhere than in the
    config (``origin``, e.g. "from --epochs"); returns the value."""
    section, _, name = key.partition(".")
    rule = RULES[section][name] if name else TOP_RULES[section]
    rule.check(key, value, origin)
    return value


def validate_config(d: Any) -> None:
    """Raise :class:`ConfigError` for the first setting of the config dict ``d`` that is missing,
    unknown, of the wrong type or out of range; return None when every one is allowed."""
    if not isinstance(d, dict):
        raise ConfigError(f"the config is {show(d)}, expected a JSON object with name, model, data and train")
    top = [*TOP_RULES, *SECTIONS]
    for key in d:
        if key not in top:
            raise _no_such(key, d[key], top, "config section (unknown config sections are refused)")
    if "name" not in d:
        raise ConfigError(f"name is missing, expected {TOP_RULES['name'].allowed}")
    for key, rule in TOP_RULES.items():
        if key in d:
            rule.check(key, d[key])
    for section in SECTIONS:
        values = d.get(section, {})
        if not isinstance(values, dict):
            raise ConfigError(f"{section} is {show(values)}, expected a JSON object of {section} settings")
        for key in values:
            if key not in _known(section):
                raise _no_such(f"{section}.{key}", values[key], _known(section), f"{section} setting")
        if section == "model":
            _check_model(values)
        else:
            for key, rule in RULES[section].items():
                if key in values:
                    rule.check(f"{section}.{key}", values[key])


_HERE = Path("the training config")


def _check_model(values: dict) -> None:
    """The model settings: their types and ranges, and those that must fit together (a dot score
    needs decoder_size = 2 x hidden_size), by the rules :mod:`attention_course.checkpoint` loads a
    model's config.json with; without those rules (an older checkpoint module), by type only."""
    if validate_model_config is None:
        for f in fields(ModelConfig):
            if f.name not in values:
                continue
            v, kind = values[f.name], type(f.default)
            ok = (isinstance(v, bool) if kind is bool else _is_int(v) if kind is int
                  else _is_number(v) if kind is float else isinstance(v, kind))
            if not ok:
                raise ConfigError(f"model.{f.name} is {show(v)}, expected a value of type {kind.__name__}")
        return
    try:
        validate_model_config(values, _HERE)
    except CheckpointError as e:    # its message, without what it says about a saved model's file
        why = str(e)
        head, tail = f"the model configuration {_HERE} is invalid: ", f". To restore it, {RESTORE_HINT}."
        why = why[len(head):] if why.startswith(head) else why
        raise ConfigError(why[: -len(tail)] if why.endswith(tail) else why) from None


# ---------------------------------------------------------------------------------------------
# The run's settings
# ---------------------------------------------------------------------------------------------

@dataclass
class RunConfig:
    name: str
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    @classmethod
    def from_dict(cls, d: dict) -> "RunConfig":
        """The settings of a config dict, checked (:class:`ConfigError` names the first wrong one)."""
        validate_config(d)
        return cls(d["name"], ModelConfig.from_dict(d.get("model", {})), DataConfig(**d.get("data", {})),
                   TrainConfig(**d.get("train", {})))

    @classmethod
    def load(cls, path: str | Path) -> "RunConfig":
        """Read and check a JSON config; every problem is a one-line :class:`ConfigError` naming the file."""
        try:
            text_ = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"cannot read the config {path}: {getattr(e, 'strerror', None) or e}") from None
        try:
            d = json.loads(text_, object_pairs_hook=_no_duplicates)
        except json.JSONDecodeError as e:
            raise ConfigError(f"{path}: not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})") from None
        except ConfigError as e:
            raise ConfigError(f"{path}: {e}") from None
        try:
            return cls.from_dict(d)
        except ConfigError as e:
            raise ConfigError(f"{path}: {e}") from None

    def validate(self) -> "RunConfig":
        """Check settings changed after loading (or a RunConfig built by hand); returns self."""
        validate_config(self.to_dict())
        return self

    def to_dict(self) -> dict:
        return {"name": self.name, "model": self.model.to_dict(), "data": asdict(self.data), "train": asdict(self.train)}


def _no_duplicates(pairs):
    d = {}
    for key, value in pairs:
        if key in d:
            raise ConfigError(f"{key} is given twice in one JSON object ({show(d[key])} and {show(value)}), "
                              f"expected once")
        d[key] = value
    return d


def _flatten(d: dict) -> dict[str, Any]:
    flat = {}
    for key, value in d.items():
        if key in SECTIONS and isinstance(value, dict):
            flat.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            flat[key] = value
    return flat


def _normalized(d: dict) -> dict:
    """A stored config dict with the defaults of settings it lacks (written by an older version)."""
    try:
        return RunConfig.from_dict({k: v for k, v in d.items() if k != "description"}).to_dict()
    except ConfigError:
        return d


def settings_differences(stored: dict, given: dict) -> list[tuple[str, Any, Any]]:
    """``(key, stored value, given value)`` for every setting that differs and may not change
    on resume (:data:`MAY_CHANGE_ON_RESUME`)."""
    a, b = _flatten(_normalized(stored)), _flatten(_normalized(given))
    out = []
    for key in [*a, *(k for k in b if k not in a)]:
        if key in MAY_CHANGE_ON_RESUME:
            continue
        old, new = a.get(key, ABSENT), b.get(key, ABSENT)
        same_type = type(old) is type(new) or (_is_number(old) and _is_number(new))
        if old is ABSENT or new is ABSENT or old != new or not same_type:
            out.append((key, old, new))
    return out
