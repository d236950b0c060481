from __future__ import annotations

import os
import pwd
import shutil
import tempfile
from pathlib import Path

import psycopg
import pytest

from c360.errors import ServiceError
from c360.services.postgres import PRIVATE_PREFIX, PostgresCluster, destroy_clusters_under

pytestmark = pytest.mark.postgres


def test_throwaway_cluster_runs_unprivileged_on_a_local_port(tmp_path: Path) -> None:
    cluster = PostgresCluster(str(tmp_path / "lake"))
    info = cluster.start()
    try:
        assert info.host == "127.0.0.1" and info.database == "sourcemf"
        with psycopg.connect(info.dsn) as conn:
            server_user_uid = conn.execute("select current_setting('data_directory')").fetchone()[0]
            assert server_user_uid == info.data_dir
        owner = Path(info.data_dir).stat().st_uid
        assert owner != 0, "the server never runs as root"
        if os.geteuid() == 0:
            assert pwd.getpwuid(owner).pw_name == cluster.user
        assert cluster.start().port == info.port, "starting again reuses the running cluster"
        assert "***" in info.redacted() and info.password not in info.redacted()
    finally:
        cluster.stop()
    assert not cluster.is_running(info)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(info.dsn, connect_timeout=2)


def test_cluster_needs_a_local_lake() -> None:
    with pytest.raises(ServiceError, match="needs a local lake"):
        PostgresCluster("s3://bucket/lake")


def test_destroy_deletes_the_data_wherever_it_lives(tmp_path: Path) -> None:
    # pytest's temp folders are closed to other users: as root, this cluster's data lives in a private temp folder
    closed = PostgresCluster(str(tmp_path / "lake"))
    open_parent = Path(tempfile.mkdtemp(prefix="c360-test-open-"))
    os.chmod(open_parent, 0o755)
    try:
        in_lake = PostgresCluster(str(open_parent / "lake"))
        infos = [(closed, closed.start()), (in_lake, in_lake.start())]
        assert Path(infos[1][1].data_dir).parent == in_lake.home, "an open lake keeps the data inside it"
        if os.geteuid() == 0:
            assert Path(infos[0][1].data_dir).parent.name.startswith(PRIVATE_PREFIX)
        for cluster, info in infos:
            if cluster is closed:  # found by its state file, as the test run and the benchmarks find theirs
                assert destroy_clusters_under(tmp_path) == 1
            else:
                cluster.destroy()
            assert not Path(info.data_dir).exists() and cluster.load() is None
            assert not cluster.state_file.exists()
            with pytest.raises(psycopg.OperationalError):
                psycopg.connect(info.dsn, connect_timeout=2)
            if os.geteuid() == 0 and cluster is closed:
                assert not Path(info.data_dir).parent.exists(), "the private temp folder goes too"
            cluster.destroy()  # again: nothing left to do
        assert destroy_clusters_under(tmp_path) == 0
    finally:
        shutil.rmtree(open_parent, ignore_errors=True)


def test_c360_clean_deletes_a_lake_and_its_cluster_and_nothing_else(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from c360.cli import app

    lake = tmp_path / "lake"
    cluster = PostgresCluster(str(lake))
    info = cluster.start()
    (lake / "raw" / "crm").mkdir(parents=True)
    (lake / "raw" / "crm" / "crm_1.jsonl").write_text("{}\n")
    runner = CliRunner()

    kept = runner.invoke(app, ["clean", "--lake", str(lake)], input="n\n")  # asks first
    assert kept.exit_code == 1 and lake.exists() and cluster.is_running(info)

    (lake / "notes.txt").write_text("not the lake's")  # a folder that is more than a lake is refused
    refused = runner.invoke(app, ["clean", "--lake", str(lake), "--yes"])
    assert refused.exit_code == 1 and "also holds notes.txt" in refused.output and lake.exists()
    (lake / "notes.txt").unlink()

    cleaned = runner.invoke(app, ["clean", "--lake", str(lake), "--yes"])
    assert cleaned.exit_code == 0, cleaned.output
    assert "and its PostgreSQL cluster" in cleaned.output
    assert not lake.exists() and not Path(info.data_dir).exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(info.dsn, connect_timeout=2)

    again = runner.invoke(app, ["clean", "--lake", str(lake), "--yes"])
    assert again.exit_code == 0 and "nothing to delete" in again.output
    lake.parent.mkdir(exist_ok=True)
    lake.write_text("a file where a lake was")
    a_file = runner.invoke(app, ["clean", "--lake", str(lake), "--yes"])
    assert a_file.exit_code == 1 and "is a file, not a lake" in a_file.output and lake.exists()
    remote = runner.invoke(app, ["clean", "--lake", "s3://bucket/lake", "--yes"])
    assert remote.exit_code == 1 and "deletes local lakes only" in remote.output
