"""Stage job: cards (mainframe extract ``card``, copybook ``card.cpy``) -> ``<stage>/cards/``.

Glue:  --lake s3://bucket-prefix (or --raw_uri/--stage_uri/--logs_uri) [--encoding cp037] [--full_refresh true]
Local: called by ``c360 stage`` in the shared SparkSession, or ``python -m spark_jobs.stage_cards --lake ./lake``

One row per ``card_id`` (the record of the latest extract). ``card_type`` is ``junior``, ``classic`` or ``gold``;
``issued_date`` is the day of issue and ``issued_at`` the moment (UTC; null when the time is not reported).
``is_orphan`` is true when the disposition is not in ``<stage>/dispositions/``.
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
    timestamp,
)
from spark_jobs.common.foreign_keys import ForeignKey
from spark_jobs.common.pkdd_codes import CARD_TYPE

SOURCE = CopybookSource(
    name="cards",
    raw_prefix="card",
    copybook="card",
    key="card_id",
    columns=(
        number("card_id", T.LongType(), required=True, positive=True),
        number("disp_id", T.LongType(), required=True),
        code("card_type", CARD_TYPE, required=True),
        date("issued_date", required=True),
        timestamp("issued_at", date_field="issued_date", time_field="issued_time"),
    ),
    foreign_keys=(ForeignKey("disp_id", "dispositions", "disp_id"),),
)
STAGE_SCHEMA = SOURCE.schema


run = copybook_run(SOURCE)


def main(argv: Sequence[str] | None = None) -> None:
    copybook_main(SOURCE, argv, run)


if __name__ == "__main__":
    main()
