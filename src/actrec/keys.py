"""Typed `key=value` settings: coercion to a field's type, its rule, "did you mean" for a typo.

Beside the flow, under `config`: the machinery that `config`'s dataclasses are filled with, for
YAML configs and command options alike. Imports nothing of actrec but its error type.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Callable
from dataclasses import field, fields, is_dataclass
from typing import Any

import yaml

from actrec.errors import ActrecError


def opt(default: Any, help: str = "", rule: Callable[[Any], bool] | None = None,
        expects: str = "", choices: tuple = ()) -> Any:  # fmt: skip
    """A field with its help line and an optional check (`rule`, or one of `choices`)."""
    meta = dict(help=help, rule=rule, expects=expects, choices=choices)
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


def positive(v: Any) -> bool:
    return v is None or v > 0


def unit_interval(v: Any) -> bool:
    return 0 <= v <= 1


MAX_IMGSZ = 4096  # larger frames are decoded before any model could refuse them: 24 GB at 99968


def image_size(v: Any) -> bool:
    """An image size the YOLO models take: a multiple of 32 (their stride), at most MAX_IMGSZ."""
    return 0 < v <= MAX_IMGSZ and v % 32 == 0


IMAGE_SIZE = f"a multiple of 32 from 32 to {MAX_IMGSZ}"


def flat_keys(obj: Any, prefix: str = "") -> dict[str, Any]:
    """{'data.train': field, ...} for every leaf of a dataclass tree (with its resolved type)."""
    hints = typing.get_type_hints(type(obj))
    out: dict[str, Any] = {}
    for f in fields(obj):
        value = getattr(obj, f.name)
        if is_dataclass(value):
            out.update(flat_keys(value, f"{prefix}{f.name}."))
        else:
            out[f"{prefix}{f.name}"] = (hints[f.name], f.metadata)
    return out


def unknown_key(key: str, known: list[str], what: str = "key") -> ActrecError:
    """The error for a key nobody knows, with the closest known one as a hint."""
    tails: dict[str, list[str]] = {}
    for k in known:
        tails.setdefault(k.rsplit(".", 1)[-1], []).append(k)
    close = tails.get(key, [])  # 'imgsz' → 'features.imgsz' or 'people.imgsz'
    close = close or difflib.get_close_matches(key, known, n=1, cutoff=0.5)
    if not close:  # 'epoch' → 'train.epochs': match on the last part too
        best = difflib.get_close_matches(key, list(tails), n=1, cutoff=0.6)
        close = tails[best[0]] if best else []
    hint = " or ".join(f"'{c}'" for c in close)
    hint = f"; did you mean {hint}?" if close else ""
    return ActrecError(f"unknown {what} '{key}'{hint}")


def _coerce(key: str, value: Any, hint: Any) -> Any:
    """Check `value` against the field's type; ints are accepted where floats are expected."""
    allowed = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    if Any in allowed or value is None and type(None) in allowed:
        return value
    origins = [typing.get_origin(t) or t for t in allowed]
    for origin in origins:  # an exact match first: `source=3` stays an int for `str | int`
        if isinstance(value, origin) and not (origin in (int, float) and isinstance(value, bool)):
            return value
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    for origin in origins:
        if origin is float and number and isinstance(value, int):
            return float(value)
        if origin is str and number:
            return str(value)
        if origin is str and value is None:  # `train.init=` clears a text option
            return ""
        if origin is list and isinstance(value, (str, int)):
            return [value]
    names = " or ".join(getattr(t, "__name__", str(t)) for t in allowed if t is not type(None))
    raise ActrecError(f"{key} expects {names}, got {value!r}")


def check_value(key: str, value: Any, hint: Any, meta: typing.Mapping) -> Any:
    """`_coerce`, then the field's rule or choices."""
    value = _coerce(key, value, hint)
    if value is None:
        return value
    if meta.get("choices") and value not in meta["choices"]:
        raise ActrecError(f"{key} expects one of {', '.join(meta['choices'])}, got {value!r}")
    if meta.get("rule") and not meta["rule"](value):
        raise ActrecError(f"{key} expects {meta['expects']}, got {value!r}")
    return value


def set_key(obj: Any, key: str, value: Any, known: dict[str, Any], what: str = "key") -> None:
    if key not in known:
        raise unknown_key(key, list(known), what)
    *parents, leaf = key.split(".")
    for p in parents:
        obj = getattr(obj, p)
    setattr(obj, leaf, check_value(key, value, *known[key]))


def flatten(tree: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in tree.items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def parse_overrides(args: list[str]) -> dict[str, Any]:
    """['a.b=1', 'c=x'] → {'a.b': 1, 'c': 'x'}; values are parsed as YAML (true, 3, [4, 6])."""
    out: dict[str, Any] = {}
    for arg in args:
        key, sep, raw = arg.partition("=")
        if not sep or not key:
            raise ActrecError(f"expected key=value, got '{arg}'")
        try:
            out[key] = yaml.safe_load(raw) if raw else None
        except yaml.YAMLError:
            out[key] = raw
    return out
