"""Stage job: standing orders (mainframe extract ``standing_order``, copybook ``standing_order.cpy``) ->
``<stage>/standing_orders/``.

Glue:  --lake s3://bucket-prefix (or --raw_uri/--stage_uri/--logs_uri) [--encoding cp037] [--full_refresh true]
Local: called by ``c360 stage`` in the shared SparkSession, or ``python -m spark_jobs.stage_standing_orders --lake ./lake``

One row per ``order_id`` (the record of the latest extract). ``k_symbol`` is the purpose in English (``household``,
``loan payment``, ``insurance payment``, ``leasing``; null when blank); ``account_to`` keeps its leading zeros.
``is_orphan`` is true when the paying account is not in ``<stage>/accounts/``.
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
    text,
)
from spark_jobs.common.foreign_keys import ForeignKey
from spark_jobs.common.pkdd_codes import K_SYMBOL

SOURCE = CopybookSource(
    name="standing_orders",
    raw_prefix="standing_order",
    copybook="standing_order",
    key="order_id",
    columns=(
        number("order_id", T.LongType(), required=True, positive=True),
        number("account_id", T.LongType(), required=True),
        text("bank_to", required=True),
        text("account_to", required=True),
        number("amount", T.DecimalType(9, 2), required=True, positive=True),
        code("k_symbol", K_SYMBOL),
        date("start_date", required=True),
    ),
    foreign_keys=(ForeignKey("account_id", "accounts", "account_id"),),
)
STAGE_SCHEMA = SOURCE.schema


run = copybook_run(SOURCE)


def main(argv: Sequence[str] | None = None) -> None:
    copybook_main(SOURCE, argv, run)


if __name__ == "__main__":
    main()
