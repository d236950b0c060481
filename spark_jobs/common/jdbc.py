"""Reading a relational source through Spark's JDBC reader: where the connection comes from, a query, and bounded
retries when the connection drops.

The connection is given as ``--jdbc_url --db_user`` (the password from ``C360_PG_PASSWORD``, preferred, or
``--db_password``), or on AWS Glue as a Glue connection name (``--connection_name``, or the
``--source_db_connection`` the deployed job gets) that ``GlueContext.extract_jdbc_conf`` resolves; when the
connection keeps its password in Secrets Manager, ``--source_db_secret_arn`` names the secret. The password is
never printed: :class:`JdbcSource` leaves it out of its ``repr`` and only :meth:`JdbcSource.display` is logged.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from pyspark.sql import DataFrame, SparkSession

from spark_jobs.common.args import JobArgumentError

log = logging.getLogger(__name__)

PASSWORD_ENV = "C360_PG_PASSWORD"
DEFAULT_DRIVER = "org.postgresql.Driver"

_TRANSIENT = (
    "SQLTransient",
    "SQLRecoverable",
    "SQLNonTransientConnectionException",
    "PSQLException",
    "SQLException",
    "Connection refused",
    "Connection reset",
    "terminating connection",
    "I/O error",
    "EOFException",
    "SocketException",
    "SocketTimeoutException",
)
"""Text of a failure that a new connection may not meet again (a dropped or refused connection)."""
_PERMANENT = (
    "authentication failed",
    "password authentication",
    "permission denied",
    "does not exist",
    "syntax error",
)
"""... unless it says the request itself is wrong: retrying cannot help."""

T = TypeVar("T")


@dataclass(frozen=True)
class JdbcSource:
    """How Spark reaches the source database."""

    url: str
    """``jdbc:postgresql://host:port/database``."""
    user: str
    password: str = field(repr=False)
    driver: str = DEFAULT_DRIVER

    @property
    def display(self) -> str:
        """The URL without its parameters or a ``user:password@`` part (either could carry credentials): safe to
        log and to keep as lineage."""
        return re.sub(r"//[^/@?;]*@", "//", self.url.split("?", 1)[0].split(";", 1)[0])

    def __repr__(self) -> str:  # the URL could carry credentials too
        return f"JdbcSource(url={self.display!r}, user={self.user!r}, driver={self.driver!r})"

    def options(self) -> dict[str, str]:
        return {"url": self.url, "user": self.user, "password": self.password, "driver": self.driver}


@contextmanager
def quiet_debug(logger_name: str) -> Iterator[None]:
    """No DEBUG records from ``logger_name`` (and its children) in the block: for libraries that log what they send
    or receive, credentials included."""
    logger = logging.getLogger(logger_name)
    previous = logger.level
    logger.setLevel(max(previous, logging.INFO))
    try:
        yield
    finally:
        logger.setLevel(previous)


def jdbc_source_from_args(args: Mapping[str, str], environ: Mapping[str, str] | None = None) -> JdbcSource:
    """The connection from the job arguments (see the module docstring); the environment's password wins."""
    env = os.environ if environ is None else environ
    connection = args.get("connection_name") or args.get("source_db_connection")
    if connection:
        conf = glue_jdbc_conf(connection)
        url = str(conf.get("fullUrl") or conf.get("url") or "")
        user = str(conf.get("user") or "")
        password = str(conf.get("password") or "")
    else:
        url = args.get("jdbc_url", "")
        user = args.get("db_user", "")
        password = args.get("db_password", "")
    password = env.get(PASSWORD_ENV) or password
    if not password and args.get("source_db_secret_arn"):
        user, password = secret_credentials(args["source_db_secret_arn"], user)
    if not url:
        raise JobArgumentError(
            "no source database: give --jdbc_url and --db_user (the password in the environment variable "
            f"{PASSWORD_ENV}, or --db_password), or --connection_name with a Glue connection"
        )
    return JdbcSource(url=url, user=user, password=password, driver=args.get("jdbc_driver") or DEFAULT_DRIVER)


def glue_jdbc_conf(connection_name: str) -> Mapping[str, object]:  # pragma: no cover - AWS Glue only
    """The url, user and password of a Glue connection (``fullUrl`` includes the database name)."""
    try:
        from awsglue.context import GlueContext
        from pyspark.context import SparkContext
    except ImportError as exc:
        raise JobArgumentError(
            f"--connection_name {connection_name} needs AWS Glue; elsewhere give --jdbc_url and --db_user"
        ) from exc
    return GlueContext(SparkContext.getOrCreate()).extract_jdbc_conf(connection_name)


def secret_credentials(secret_arn: str, user: str) -> tuple[str, str]:  # pragma: no cover - AWS only
    """``(username, password)`` from a Secrets Manager secret in the RDS format (JSON with both keys)."""
    import boto3

    with quiet_debug("botocore.parsers"):  # it logs response bodies, the secret's value included, at DEBUG
        response = boto3.client("secretsmanager").get_secret_value(SecretId=secret_arn)
    secret = json.loads(response["SecretString"])
    return str(secret.get("username") or user), str(secret["password"])


def read_query(
    spark: SparkSession, source: JdbcSource, query: str, extra: Mapping[str, str] | None = None
) -> DataFrame:
    """A lazy DataFrame over ``query`` (SQL built from constants and validated integers only)."""
    # py4j logs every command it sends to the JVM at DEBUG, the password option included.
    with quiet_debug("py4j"):
        reader = spark.read.format("jdbc").options(**source.options()).option("dbtable", f"({query}) as q")
        for key, value in (extra or {}).items():
            reader = reader.option(key, value)
        return reader.load()


def is_transient(error: BaseException) -> bool:
    """Whether ``error`` looks like a lost or refused connection (worth a retry on a new connection)."""
    text = f"{type(error).__name__}: {error}"
    return any(marker in text for marker in _TRANSIENT) and not any(
        marker in text.lower() for marker in _PERMANENT
    )


def with_retries(
    action: Callable[[int], T],
    what: str,
    attempts: int = 3,
    backoff_seconds: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``action(attempt)`` (attempt 1, 2, ...); when it fails on a lost connection, wait (``backoff_seconds``,
    doubling) and run it again, up to ``attempts`` times in all. ``action`` must be repeatable: an attempt writes
    its whole output again (best in a folder of its own, so that a straggler of a failed attempt cannot mix in)."""
    for attempt in range(1, attempts + 1):
        try:
            return action(attempt)
        except Exception as exc:  # Spark raises Py4J and captured JVM errors; is_transient sorts them
            if attempt >= attempts or not is_transient(exc):
                raise
            delay = backoff_seconds * 2 ** (attempt - 1)
            log.warning(
                "%s failed (attempt %d of %d), retrying in %.1fs: %s",
                what,
                attempt,
                attempts,
                delay,
                _first_line(exc),
            )
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:300]
