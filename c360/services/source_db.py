"""The transactions source database (the design's Aurora ``sourcemf``): ``C360_PG_DSN`` when set (AWS, or any
PostgreSQL), otherwise the throwaway local cluster under the lake, started for the duration of a block."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from c360.errors import ServiceError
from c360.services.postgres import PostgresCluster, PostgresInfo


@dataclass(frozen=True)
class SourceDatabase:
    """How to reach the source database: a libpq DSN for psycopg and the JDBC pieces for Spark."""

    dsn: str = field(repr=False)
    jdbc_url: str
    user: str
    password: str = field(repr=False)
    display: str
    """A printable form without the password."""


_URI_CREDENTIALS = re.compile(r"(?i)(postgres(?:ql)?://[^:/@\s\"']*:)[^@\s\"']*@")
_PASSWORD_FIELD = re.compile(r"(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)")


def redact(message: str, dsn: str | None = None) -> str:
    """``message`` (e.g. a libpq error, which may quote the connection string) without credentials: the DSN
    itself, the password of a ``postgresql://user:password@`` URI and ``password=...`` fields are masked."""
    if dsn:
        message = message.replace(dsn, "<C360_PG_DSN>")
    message = _URI_CREDENTIALS.sub(r"\1***@", message)
    return _PASSWORD_FIELD.sub(r"\1***", message)


@contextmanager
def quiet_response_bodies() -> Iterator[None]:
    """botocore logs every response body at DEBUG, a secret's value included: not while the block reads one."""
    logger = logging.getLogger("botocore.parsers")
    previous = logger.level
    logger.setLevel(max(previous, logging.INFO))
    try:
        yield
    finally:
        logger.setLevel(previous)


def from_info(info: PostgresInfo) -> SourceDatabase:
    return SourceDatabase(info.dsn, info.jdbc_url, info.user, info.password, info.redacted())


def from_dsn(dsn: str) -> SourceDatabase:
    """Parse a libpq DSN (``host=... port=... dbname=... user=... password=...`` or a ``postgresql://`` URI)."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(dsn)
    except Exception as exc:  # psycopg raises ProgrammingError subclasses for bad DSNs
        # libpq quotes the malformed connection string in some messages: never echo its password.
        raise ServiceError(
            f"C360_PG_DSN is not a valid PostgreSQL connection string: {redact(str(exc).strip(), dsn)}"
        ) from None
    host = parts.get("host") or "127.0.0.1"
    port = parts.get("port") or "5432"
    database = parts.get("dbname") or "sourcemf"
    user = str(parts.get("user") or "")
    password = str(parts.get("password") or "")
    return SourceDatabase(
        dsn=dsn,
        jdbc_url=f"jdbc:postgresql://{host}:{port}/{database}",
        user=user,
        password=password,
        display=f"postgresql://{user}:***@{host}:{port}/{database}",
    )


def configured_dsn() -> str | None:
    """The configured source database's DSN: ``C360_PG_DSN``, completed with the user and password of the
    Secrets Manager secret ``C360_PG_SECRET_ARN`` when set (as on AWS, where the DSN carries no password).
    None when nothing is configured."""
    dsn = os.environ.get("C360_PG_DSN")
    secret_id = os.environ.get("C360_PG_SECRET_ARN")
    if not dsn:
        if secret_id:
            raise ServiceError("C360_PG_SECRET_ARN is set but C360_PG_DSN (host, port, dbname) is not")
        return None
    if not secret_id:
        return dsn
    import json

    import boto3
    from botocore.exceptions import BotoCoreError, ClientError
    from psycopg.conninfo import make_conninfo

    try:
        with quiet_response_bodies():
            secret = boto3.client("secretsmanager").get_secret_value(SecretId=secret_id)
        values = json.loads(secret["SecretString"])
    except (BotoCoreError, ClientError, KeyError, ValueError) as exc:
        raise ServiceError(f"cannot read the database secret {secret_id}: {exc}") from None
    if not isinstance(values, dict) or "password" not in values:
        raise ServiceError(f"the database secret {secret_id} has no password field")
    try:
        return make_conninfo(
            dsn, user=values.get("username") or values.get("user"), password=values["password"]
        )
    except Exception as exc:  # psycopg's ProgrammingError for a malformed DSN
        raise ServiceError(
            f"C360_PG_DSN is not a valid PostgreSQL connection string: {redact(str(exc).strip(), dsn)}"
        ) from None


@contextmanager
def source_database(lake_root: str) -> Iterator[SourceDatabase]:
    """The source database for a block: the configured one, or the local cluster (started, then stopped again
    if this block started it)."""
    configured = configured_dsn()
    if configured:
        yield from_dsn(configured)
        return
    cluster = PostgresCluster(lake_root)
    existing = cluster.load()
    was_running = bool(existing and cluster.is_running(existing))
    info = cluster.start()
    try:
        yield from_info(info)
    finally:
        if not was_running:
            cluster.stop()
