"""Config dataclasses as the single source of command-line flags, defaults and help.

A config field declared with :func:`option` carries its help text; :func:`add_options` turns
every such field of a dataclass into a ``--flag`` (underscores become dashes, the default
shown in ``--help``), and :func:`config_from_args` builds the dataclass back from the parsed
flags. Validation lives in the dataclass's ``__post_init__`` (a ``ValueError`` naming the
flag), so the library and the command line refuse the same values with the same words.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import re
from typing import Any, TypeVar

__all__ = [
    "DefaultsFormatter",
    "add_options",
    "check_range",
    "check_seconds",
    "config_from_args",
    "flag_name",
    "option",
    "parse_bytes",
]

T = TypeVar("T")


class DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows ``(default: X)`` after a flag's help, except for defaults of None or False (the
    help says what happens then)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default in (None, False) or "(default" in (action.help or ""):
            return action.help or ""
        return super()._get_help_string(action)


def option(default: Any = dataclasses.MISSING, *, help: str, choices=None, factory=None, **kw):
    """A dataclass field that is also a command-line flag with ``help`` (and ``choices``;
    ``const=VALUE``: the flag may be given without a value, meaning ``VALUE``)."""
    metadata = {"help": help, "choices": choices, **kw}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def flag_name(field_name: str) -> str:
    """``time_limit`` -> ``--time-limit``."""
    return "--" + field_name.replace("_", "-")


def _parser_type(field: dataclasses.Field) -> Any:
    kind = str(field.type)
    for name, parse in (("int", int), ("float", float), ("str", str)):
        if kind.startswith(name):
            return parse
    return None


def add_options(
    parser: argparse.ArgumentParser, config: type, *, skip: tuple[str, ...] = ()
) -> None:
    """Add one ``--flag`` per :func:`option` field of the dataclass ``config``."""
    for field in dataclasses.fields(config):
        meta = field.metadata
        if "help" not in meta or field.name in skip:
            continue
        metavar = meta.get("metavar") or (
            "SECONDS" if field.name == "time_limit" else field.name.split("_")[-1].upper()
        )
        default = (
            field.default if field.default is not dataclasses.MISSING else field.default_factory()
        )
        help_text = meta["help"]
        if str(field.type).startswith("bool"):
            parser.add_argument(
                flag_name(field.name),
                action=argparse.BooleanOptionalAction,
                default=default,
                help=help_text,
            )
            continue
        optional_value = {"nargs": "?", "const": meta["const"]} if "const" in meta else {}
        parser.add_argument(
            flag_name(field.name),
            type=_parser_type(field),
            default=default,
            **optional_value,
            choices=meta.get("choices"),
            metavar=None if meta.get("choices") else metavar,
            help=help_text,
        )


def config_from_args(config: type[T], args: argparse.Namespace, **overrides: Any) -> T:
    """Build ``config`` from the parsed flags (fields without a flag keep their defaults)."""
    values = {
        field.name: getattr(args, field.name)
        for field in dataclasses.fields(config)
        if "help" in field.metadata and hasattr(args, field.name)
    }
    values.update(overrides)
    return config(**values)


def _shown(value: object) -> str:
    """A value as a message echoes it: at most 24 characters."""
    text = str(value)
    return text if len(text) <= 24 else text[:21] + "..."


def check_range(name: str, value: float | int | None, low=None, high=None) -> None:
    """ValueError naming the flag unless ``low <= value <= high`` (None: no limit)."""
    if value is None:
        return
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{flag_name(name)} must be a finite number, got {value}")
    if (low is not None and value < low) or (high is not None and value > high):
        if low is not None and high is not None:
            span = f"between {low} and {high}"
        elif low is not None:
            span = f"at least {low}"
        else:
            span = f"at most {high}"
        raise ValueError(f"{flag_name(name)} must be {span}, got {_shown(value)}")


#: The longest time limit accepted, in seconds (a week).
MAX_SECONDS = 7 * 24 * 3600.0


def check_seconds(name: str, value: float | None) -> None:
    """ValueError naming the flag unless ``value`` is None or a time limit in (0, a week]."""
    if value is None:
        return
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{flag_name(name)} must be positive and finite (seconds), got {value}")
    if value > MAX_SECONDS:
        raise ValueError(
            f"{flag_name(name)} must be at most {MAX_SECONDS:g} seconds, got {_shown(value)}"
        )


_UNITS = {"": 1, "B": 1, "K": 2**10, "KB": 2**10, "M": 2**20, "MB": 2**20, "G": 2**30,
          "GB": 2**30, "T": 2**40, "TB": 2**40}  # fmt: skip


def parse_bytes(name: str, text: str, low: int = 0, high: int = 2**50) -> int:
    """``"2GB"``, ``"512MB"``, ``"1.5G"`` or a plain number of bytes -> bytes (binary units),
    checked against ``[low, high]``; a ``ValueError`` naming the flag otherwise."""
    match = re.fullmatch(r"\s*([0-9]{1,12}(?:\.[0-9]{1,6})?)\s*([A-Za-z]{0,2})\s*", str(text))
    unit = match.group(2).upper() if match else None
    if match is None or unit not in _UNITS:
        raise ValueError(
            f"{flag_name(name)} must be a size such as 2GB or 512MB, got {_shown(text)}"
        )
    value = int(float(match.group(1)) * _UNITS[unit])
    if not low <= value <= high:
        raise ValueError(
            f"{flag_name(name)} must be between {low >> 20} MB and {high >> 30} GB, "
            f"got {_shown(text)}"
        )
    return value
