"""Stage job: accounts (mainframe extract ``account``, copybook ``account.cpy``) -> ``<stage>/accounts/``.

Glue:  --lake s3://bucket-prefix (or --raw_uri/--stage_uri/--logs_uri) [--encoding cp037] [--full_refresh true]
Local: called by ``c360 stage`` in the shared SparkSession, or ``python -m spark_jobs.stage_accounts --lake ./lake``

One row per ``account_id``: the record of the latest extract (the full unload and the nightly increments are read
together). ``frequency`` is the statement frequency in English (``monthly``, ``weekly``, ``after each
transaction``; the extract's POPLATEK MESICNE, POPLATEK TYDNE, POPLATEK PO OBRATU). ``district_id`` is the branch's
district (the design's branch_id); ``is_orphan`` is true when it is not in ``<stage>/districts/``.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import types as T

from spark_jobs.common.copybook_frames import (
    CopybookSource,
    code,
    copybook_main,
    copybook_run,
    date,
    number,
)
from spark_jobs.common.foreign_keys import ForeignKey
from spark_jobs.common.pkdd_codes import FREQUENCY

SOURCE = CopybookSource(
    name="accounts",
    raw_prefix="account",
    copybook="account",
    key="account_id",
    columns=(
        number("account_id", T.LongType(), required=True, positive=True),
        number("district_id", T.LongType(), required=True),
        code("frequency", FREQUENCY, required=True),
        date("open_date", required=True),
    ),
    foreign_keys=(ForeignKey("district_id", "districts", "district_id"),),
)
STAGE_SCHEMA = SOURCE.schema


run = copybook_run(SOURCE)


def main(argv: Sequence[str] | None = None) -> None:
    copybook_main(SOURCE, argv, run)


if __name__ == "__main__":
    main()
