"""The local session started in the background (``c360 run`` overlaps the JVM's start with generation)."""

from __future__ import annotations

from pathlib import Path

import pytest

from c360.settings import Settings
from c360.spark import SparkSetupError, local_session, start_in_background


def test_a_background_start_hands_its_session_to_the_stage(spark, tmp_path: Path) -> None:
    settings = Settings().with_overrides(lake=str(tmp_path / "lake"))
    thread = start_in_background(settings)
    thread.join(timeout=120)
    assert not thread.is_alive()
    assert local_session(settings) is spark


def test_a_background_start_that_fails_is_reported_by_the_stages_call(tmp_path: Path) -> None:
    settings = Settings().with_overrides(lake=str(tmp_path / "lake"), java_home=str(tmp_path / "no-java"))
    thread = start_in_background(settings)
    thread.join(timeout=60)
    assert not thread.is_alive()  # the failure ended the thread quietly...
    with pytest.raises(SparkSetupError, match="Java 17"):
        local_session(settings)  # ... and the stage's own call reports it
