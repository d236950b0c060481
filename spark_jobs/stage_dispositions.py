"""Stage job: dispositions (mainframe extract ``gbank``, copybook ``disposition.cpy``) -> ``<stage>/dispositions/``.

Glue:  --lake s3://bucket-prefix (or --raw_uri/--stage_uri/--logs_uri) [--encoding cp037] [--full_refresh true]
Local: called by ``c360 stage`` in the shared SparkSession, or ``python -m spark_jobs.stage_dispositions --lake ./lake``

Who may operate which account: one row per ``disp_id`` (the record of the latest extract), with the columns in the
copybook's order (the original workshop read them in the wrong order). ``disp_type`` is ``owner`` or ``disponent``
(the extract's OWNER, DISPONENT). ``is_orphan`` is true when the account is not in ``<stage>/accounts/`` or the
client is not in ``<stage>/crm_customers/``.
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
from spark_jobs.common.pkdd_codes import DISPOSITION_TYPE

SOURCE = CopybookSource(
    name="dispositions",
    raw_prefix="gbank",
    copybook="disposition",
    key="disp_id",
    columns=(
        number("disp_id", T.LongType(), required=True, positive=True),
        number("client_id", T.LongType(), required=True),
        number("account_id", T.LongType(), required=True),
        code("disp_type", DISPOSITION_TYPE, required=True),
        date("valid_from", required=True),
    ),
    foreign_keys=(
        ForeignKey("account_id", "accounts", "account_id"),
        ForeignKey("client_id", "crm_customers", "client_id"),
    ),
)
STAGE_SCHEMA = SOURCE.schema


run = copybook_run(SOURCE)


def main(argv: Sequence[str] | None = None) -> None:
    copybook_main(SOURCE, argv, run)


if __name__ == "__main__":
    main()
