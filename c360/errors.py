"""Errors a user can act on. The CLI prints their message (no traceback) and exits non-zero."""


class C360Error(RuntimeError):
    """Base class: the message says what was wrong, where, and what to do."""


class BuildError(C360Error):
    """dbt failed: some model or test did not pass."""


class ServiceError(C360Error):
    """A local service (PostgreSQL, the DynamoDB endpoint) could not be started or reached."""


class ExportError(C360Error):
    """The export could not read the marts or write its output."""
