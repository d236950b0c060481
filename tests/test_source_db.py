"""The source database's connection: from the environment, completed from Secrets Manager, never printed."""

from __future__ import annotations

import json

import boto3
import pytest

from c360.errors import ServiceError
from c360.services.source_db import configured_dsn, from_dsn


def test_dsn_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("C360_PG_DSN", "host=db.internal port=5432 dbname=sourcemf user=etl password=s3cret")
    monkeypatch.delenv("C360_PG_SECRET_ARN", raising=False)
    db = from_dsn(configured_dsn() or "")
    assert db.jdbc_url == "jdbc:postgresql://db.internal:5432/sourcemf"
    assert (db.user, db.password) == ("etl", "s3cret")
    assert "s3cret" not in db.display and "***" in db.display


def test_password_comes_from_secrets_manager(monkeypatch: pytest.MonkeyPatch, aws_env: str) -> None:
    arn = boto3.client("secretsmanager").create_secret(
        Name="c360/sourcemf", SecretString=json.dumps({"username": "c360app", "password": "p@ss word'"})
    )["ARN"]
    monkeypatch.setenv("C360_PG_DSN", "host=db.internal port=5432 dbname=sourcemf")
    monkeypatch.setenv("C360_PG_SECRET_ARN", arn)
    db = from_dsn(configured_dsn() or "")
    assert (db.user, db.password) == ("c360app", "p@ss word'")
    assert "p@ss" not in db.display


def test_missing_secret_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, aws_env: str) -> None:
    monkeypatch.setenv("C360_PG_DSN", "host=db.internal dbname=sourcemf")
    monkeypatch.setenv("C360_PG_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:nope")
    with pytest.raises(ServiceError, match="cannot read the database secret"):
        configured_dsn()


def test_nothing_configured_means_the_local_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("C360_PG_DSN", raising=False)
    monkeypatch.delenv("C360_PG_SECRET_ARN", raising=False)
    assert configured_dsn() is None


def test_bad_dsn_is_a_clear_error() -> None:
    with pytest.raises(ServiceError, match="not a valid PostgreSQL connection string"):
        from_dsn("host=a port")
