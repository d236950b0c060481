"""One settings object, read from ``C360_*`` environment variables and overridable by CLI options."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

DEFAULT_JAVA_HOME = "/usr/lib/jvm/java-17-openjdk-amd64"
DEFAULT_END_DATE = date(2024, 12, 31)
"""The last day of simulated history when no ``--day`` is given: runs never depend on the wall clock."""


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ValueError(f"{name}={raw!r} is not a number") from exc


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name}={raw!r} is not an integer") from exc


def _java_home() -> str:
    """Java 17 for Spark 3.5: $C360_JAVA_HOME, else Debian's OpenJDK 17, else $JAVA_HOME (a newer Java breaks
    Spark 3.5, so a JAVA_HOME pointing elsewhere does not win over an installed Java 17)."""
    explicit = os.environ.get("C360_JAVA_HOME")
    if explicit:
        return explicit
    if (Path(DEFAULT_JAVA_HOME) / "bin" / "java").exists():
        return DEFAULT_JAVA_HOME
    return os.environ.get("JAVA_HOME") or DEFAULT_JAVA_HOME


_UNSAFE_LAKE = re.compile(r"['\"`;\x00-\x1f\x7f]")
"""Characters a lake root may not hold: dbt quotes it inside SQL (``read_parquet('<lake>/stage/...')``)."""


def normalize_lake(lake: str | os.PathLike[str]) -> str:
    """Return the lake root as an absolute local path or an unchanged ``s3://`` URI, without a trailing slash.
    A root with a quote, a semicolon or a control character is refused (ValueError): it would end up in SQL."""
    text = str(lake)
    bad = _UNSAFE_LAKE.search(text)
    if bad:
        raise ValueError(
            f"the lake root {text[:80]!r} contains {bad.group()!r}: quotes, semicolons and control characters "
            "are not allowed in a lake path or URI"
        )
    if "://" in text:
        return text.rstrip("/")
    return str(Path(text).expanduser().resolve())


@dataclass(frozen=True)
class Settings:
    """Everything a run needs to know, in one place."""

    lake: str = field(default_factory=lambda: normalize_lake(os.environ.get("C360_LAKE") or "lake"))
    seed: int = field(default_factory=lambda: _env_int("C360_SEED", 42))
    scale: float = field(default_factory=lambda: _env_float("C360_SCALE", 1.0))
    end_date: date = field(
        default_factory=lambda: date.fromisoformat(
            os.environ.get("C360_END_DATE") or DEFAULT_END_DATE.isoformat()
        )
    )
    dbt_target: str = field(default_factory=lambda: os.environ.get("C360_DBT_TARGET") or "local")
    spark_master: str = field(default_factory=lambda: os.environ.get("C360_SPARK_MASTER") or "local[2]")
    spark_driver_memory: str = field(
        default_factory=lambda: os.environ.get("C360_SPARK_DRIVER_MEMORY") or "4g"
    )
    duckdb_memory_limit: str = field(
        default_factory=lambda: os.environ.get("C360_DUCKDB_MEMORY_LIMIT") or "8GB"
    )
    java_home: str = field(default_factory=lambda: _java_home())

    def with_overrides(self, **overrides: object) -> Settings:
        """Return a copy with the given non-None overrides applied (CLI options win over the environment)."""
        values = {key: value for key, value in overrides.items() if value is not None}
        if "lake" in values:
            values["lake"] = normalize_lake(str(values["lake"]))
        return replace(self, **values)

    @property
    def project_dir(self) -> Path:
        """The repository root, where ``dbt_project.yml`` lives."""
        return Path(__file__).resolve().parent.parent
