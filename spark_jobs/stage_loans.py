"""Stage job: loans (mainframe extract ``loan``, copybook ``loan.cpy``) -> ``<stage>/loans/``.

Glue:  --lake s3://bucket-prefix (or --raw_uri/--stage_uri/--logs_uri) [--encoding cp037] [--full_refresh true]
Local: called by ``c360 stage`` in the shared SparkSession, or ``python -m spark_jobs.stage_loans --lake ./lake``

One row per ``loan_id`` (the record of the latest extract, so the latest status). ``loan_status`` is the documented
meaning of the A-D code: ``finished, no problems``, ``finished, loan not paid``, ``running, OK so far``, ``running,
client in debt``. Amounts are in the account currency. ``is_orphan`` is true when the account is not in
``<stage>/accounts/``.
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
from spark_jobs.common.pkdd_codes import LOAN_STATUS

SOURCE = CopybookSource(
    name="loans",
    raw_prefix="loan",
    copybook="loan",
    key="loan_id",
    columns=(
        number("loan_id", T.LongType(), required=True, positive=True),
        number("account_id", T.LongType(), required=True),
        date("granted_date", required=True),
        number("amount", T.DecimalType(11, 2), required=True, positive=True),
        number("duration_months", T.IntegerType(), field="duration", required=True, positive=True),
        number("monthly_payment", T.DecimalType(9, 2), field="payments", required=True, positive=True),
        code("loan_status", LOAN_STATUS, required=True),
    ),
    foreign_keys=(ForeignKey("account_id", "accounts", "account_id"),),
)
STAGE_SCHEMA = SOURCE.schema


run = copybook_run(SOURCE)


def main(argv: Sequence[str] | None = None) -> None:
    copybook_main(SOURCE, argv, run)


if __name__ == "__main__":
    main()
