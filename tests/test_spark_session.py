"""The local session started in the background (``c360 run`` overlaps the JVM's start with generation), and
stopped with its JVM (``c360 run`` frees the JVM's memory for the dbt build and the export)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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
    # a running JVM is reused, whatever it compiles with
    assert local_session(settings, small_input=True) is spark


def test_a_background_start_that_fails_is_reported_by_the_stages_call(tmp_path: Path) -> None:
    settings = Settings().with_overrides(lake=str(tmp_path / "lake"), java_home=str(tmp_path / "no-java"))
    thread = start_in_background(settings)
    thread.join(timeout=60)
    assert not thread.is_alive()  # the failure ended the thread quietly...
    with pytest.raises(SparkSetupError, match="Java 17"):
        local_session(settings)  # ... and the stage's own call reports it


STOP_SCRIPT = """
import json, os, sys, threading, time
from pyspark import SparkContext
from c360.settings import Settings
from c360.spark import local_session, session_running, stop_local_session

settings = Settings().with_overrides(lake=sys.argv[1])
seen = {"before": session_running()}


def compiler_level(spark):
    jvm = spark.sparkContext._jvm
    hotspot = jvm.java.lang.Class.forName("com.sun.management.HotSpotDiagnosticMXBean")
    bean = jvm.java.lang.management.ManagementFactory.getPlatformMXBean(hotspot)
    return bean.getVMOption("TieredStopAtLevel").getValue()


spark = local_session(settings)
seen["first_level"] = compiler_level(spark)
seen["count"] = spark.range(7).count()
# a job of Python tasks: the JVM connects to pyspark's accumulator server, as the stage jobs' Python readers do
seen["python_sum"] = spark.sparkContext.parallelize(range(4), 2).map(lambda x: x + 1).sum()
seen["running"] = session_running()
first = SparkContext._gateway.proc.pid
stopping = threading.Thread(target=stop_local_session)  # as `c360 run` stops it: on a thread of its own
stopping.start()
stopping.join()
seen["stopped"] = not session_running()
try:
    os.kill(first, 0)
    seen["first_jvm"] = "running"
except ProcessLookupError:
    seen["first_jvm"] = "ended"
spark = local_session(settings, small_input=True)  # a new session, in a new JVM, for a stage of little input
seen["again"] = spark.range(5).count()
seen["second_level"] = compiler_level(spark)
seen["new_jvm"] = SparkContext._gateway.proc.pid != first
second = SparkContext._gateway.proc.pid
stop_local_session()
stop_local_session()  # (nothing left to stop: no error)
time.sleep(1.5)  # (what the accumulator server's thread would print after the JVM's end comes within its 1-s poll)
seen["pids"] = [first, second]
print(json.dumps(seen))
"""


def test_stopping_the_local_session_ends_its_jvm_and_a_new_one_can_start(tmp_path: Path) -> None:
    """Stopping the session ends its JVM and a new session starts another one, which compiles with C1 alone
    when the stage ahead reads little."""
    # In a process of its own: the test session's JVM (the spark fixture) must not be stopped.
    result = subprocess.run(
        [sys.executable, "-c", STOP_SCRIPT, str(tmp_path / "lake")],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["before"] is False and seen["running"] is True
    assert seen["count"] == 7 and seen["python_sum"] == 10
    assert seen["stopped"] is True and seen["first_jvm"] == "ended"
    assert seen["again"] == 5 and seen["new_jvm"] is True
    # C2 and C1 (HotSpot's tiers up to 4) for a stage of unknown or large input; C1 alone (tier 1) for a small one
    assert (seen["first_level"], seen["second_level"]) == ("4", "1")
    for pid in seen["pids"]:  # no JVM outlives its stop (nor the script)
        assert not Path(f"/proc/{pid}").exists()
    # A quiet stop: pyspark's accumulator server reads no end of stream from the ended JVM (it printed an EOFError
    # traceback at the end of every `c360 run` stage).
    assert "Traceback" not in result.stderr and "EOFError" not in result.stderr, result.stderr[-3000:]


@pytest.mark.parametrize("session_before", [False, True])
def test_c360_run_stops_the_session_it_started_once_the_stage_is_done(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, session_before: bool
) -> None:
    """The order of ``c360 run``'s steps (each step faked: they are tested on their own): the session it started
    is stopped after the stage, while dbt builds; a session that was running before it (a caller's) is left."""
    import contextlib
    import threading

    from typer.testing import CliRunner

    import c360.dbt_runner
    import c360.export.dynamodb_loader
    import c360.services.source_db
    import c360.spark
    from c360 import cli

    steps: list[str] = []
    stopped = threading.Event()

    class Database:
        display = "postgresql://fake"

    def step(name: str):
        def run(**_: object) -> None:
            if (
                name == "build"
            ):  # the stop runs beside the build: wait for it, so the order is the same each run
                stopped.wait(timeout=10)
            steps.append(name)

        return run

    def stop() -> None:
        steps.append("stop")
        stopped.set()

    def started(settings: object) -> threading.Thread:
        thread = threading.Thread(target=lambda: None)
        thread.start()
        return thread

    monkeypatch.setattr(
        c360.services.source_db, "source_database", lambda lake: contextlib.nullcontext(Database())
    )
    monkeypatch.setattr(c360.dbt_runner, "parsed_ahead", lambda settings: contextlib.nullcontext())
    monkeypatch.setattr(c360.export.dynamodb_loader, "local_endpoint", lambda: contextlib.nullcontext(None))
    monkeypatch.setattr(c360.spark, "session_running", lambda: session_before)
    monkeypatch.setattr(c360.spark, "start_in_background", started)
    monkeypatch.setattr(c360.spark, "stop_local_session", stop)
    for name in ("generate", "stage", "build", "export"):
        monkeypatch.setattr(cli, name, step(name))
    result = CliRunner().invoke(cli.app, ["run", "--lake", str(tmp_path / "lake")])
    assert result.exit_code == 0, result.output
    if session_before:
        assert steps == ["generate", "stage", "build", "export"]
    else:
        assert steps == ["generate", "stage", "stop", "build", "export"]


def test_the_local_jvm_runs_with_the_jit_thresholds_of_a_short_batch(spark) -> None:
    from c360.spark import JIT_OPTIONS

    jvm = spark.sparkContext._jvm
    hotspot = jvm.java.lang.Class.forName("com.sun.management.HotSpotDiagnosticMXBean")
    bean = jvm.java.lang.management.ManagementFactory.getPlatformMXBean(hotspot)
    asked = dict(option.removeprefix("-XX:").split("=") for option in JIT_OPTIONS.split())
    assert asked, JIT_OPTIONS
    running = {name: bean.getVMOption(name).getValue() for name in asked}
    assert running == asked  # HotSpot's defaults (5000, 600, 15000, 40000) if the options did not reach it
