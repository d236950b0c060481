"""Argument parsing for job scripts: Glue passes ``--KEY value`` pairs (plus its own, such as ``--JOB_NAME``),
spark-submit and EMR steps pass whatever the step says. Both forms and ``--KEY=value`` are accepted."""

from __future__ import annotations

import re
from collections.abc import Sequence

_LOCATION_KEYS = re.compile(r"lake|.+_uri")
_UNSAFE_LOCATION = re.compile(r"['\"`;\x00-\x1f\x7f]")
"""Characters a location argument (``--lake``, ``--*_uri``) may not hold: paths end up quoted in SQL and logs."""


FULL_REFRESH_ARG = {"full_refresh": "false"}
"""The optional ``--full_refresh true`` of an incremental job: stage every raw file again."""


def is_true(value: str) -> bool:
    """A flag argument's value: ``true``, ``1`` or ``yes`` (any case)."""
    return value.strip().lower() in ("true", "1", "yes")


class JobArgumentError(ValueError):
    """A required job argument is missing or malformed."""


def parse_job_args(
    argv: Sequence[str], required: Sequence[str], optional: dict[str, str] | None = None
) -> dict[str, str]:
    """Parse ``--KEY value`` / ``--KEY=value`` pairs; unknown keys (Glue's own) are kept but not required.

    Keys are matched case-sensitively after stripping leading dashes and turning ``-`` into ``_``.
    """
    values: dict[str, str] = dict(optional or {})
    items = list(argv)
    i = 0
    while i < len(items):
        token = items[i]
        if not token.startswith("--"):
            i += 1  # positional arguments (e.g. the script path) are ignored
            continue
        key, sep, inline = token[2:].partition("=")
        key = key.replace("-", "_")
        if sep:
            values[key] = inline
            i += 1
        elif i + 1 < len(items) and not items[i + 1].startswith("--"):
            values[key] = items[i + 1]
            i += 2
        else:
            values[key] = "true"  # a bare flag
            i += 1
    for key, value in values.items():
        bad = _UNSAFE_LOCATION.search(value) if _LOCATION_KEYS.fullmatch(key) else None
        if bad:
            raise JobArgumentError(
                f"--{key} {value[:80]!r} contains {bad.group()!r}: quotes, semicolons and control characters are "
                "not allowed in a location"
            )
    missing = [key for key in required if not values.get(key)]
    if missing:
        raise JobArgumentError(f"missing job argument(s): {', '.join('--' + m for m in missing)}")
    return values
