"""Shared fixtures: a temporary lake per test, and one local SparkSession for the whole test run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from c360.settings import Settings
from c360.storage import Lake

REPO = Path(__file__).resolve().parent.parent
REFERENCE_DATA = (REPO.parent / "shared" / "reference-data").resolve()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings().with_overrides(lake=str(tmp_path / "lake"), scale=0.05, seed=7)


@pytest.fixture
def lake(settings: Settings) -> Lake:
    store = Lake(settings.lake)
    store.ensure_zones()
    return store


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """The one SparkSession of the test run (a JVM start costs seconds; every Spark test shares it)."""
    from c360.spark import local_session

    base = tmp_path_factory.mktemp("spark")
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    session = local_session(Settings().with_overrides(lake=str(base / "lake")))
    yield session
    session.stop()


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """One throwaway PostgreSQL cluster (the local `sourcemf`) for the whole test run."""
    from c360.services.postgres import PostgresCluster

    cluster = PostgresCluster(str(tmp_path_factory.mktemp("pg") / "lake"))
    info = cluster.start()
    yield info
    cluster.destroy()


@pytest.fixture(scope="session", autouse=True)
def _destroy_every_local_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """After the run, delete the local PostgreSQL cluster of every lake a test made (``c360 run`` and friends
    create one per lake). As root the data lives outside pytest's closed temp folders, in a private folder that
    deleting the lake would not remove: without this, every test run left some GB behind in the temp dir."""
    yield
    from c360.services.postgres import destroy_clusters_under

    destroy_clusters_under(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A moto server over real HTTP on 127.0.0.1: the stand-in for AWS APIs (S3, DynamoDB, ...)."""
    from moto.server import ThreadedMotoServer

    from c360.services.postgres import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def aws_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point boto3 and pyarrow at the moto server with dummy credentials."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    return moto_endpoint
