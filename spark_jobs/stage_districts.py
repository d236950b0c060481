"""Stage job: districts (mainframe extract ``district``, copybook ``district.cpy``) -> ``<stage>/districts/``.

Glue:  --lake s3://bucket-prefix (or --raw_uri/--stage_uri/--logs_uri) [--encoding cp037] [--full_refresh true]
Local: called by ``c360 stage`` in the shared SparkSession, or ``python -m spark_jobs.stage_districts --lake ./lake``

Reference data: the demographics of the 77 districts the bank's branches are in, one row per ``district_id``
(the record of the latest extract). A numeric field of spaces means "not reported" and stages as null. Bad
records go to ``<stage>/_quarantine/districts/`` with their reason, file and line.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import types as T

from spark_jobs.common.copybook_frames import (
    CopybookSource,
    copybook_main,
    copybook_run,
    number,
    text,
)

SOURCE = CopybookSource(
    name="districts",
    raw_prefix="district",
    copybook="district",
    key="district_id",
    columns=(
        number("district_id", T.LongType(), required=True, positive=True),
        text("district_name", required=True),
        text("region", required=True),
        number("inhabitants", T.IntegerType()),
        number("urban_ratio", T.DecimalType(4, 1)),
        number("average_salary", T.IntegerType()),
        number("unemployment_95", T.DecimalType(4, 2)),
        number("unemployment_96", T.DecimalType(4, 2)),
        number("entrepreneurs_per_1000", T.IntegerType()),
        number("crimes_95", T.IntegerType()),
        number("crimes_96", T.IntegerType()),
    ),
)
STAGE_SCHEMA = SOURCE.schema


run = copybook_run(SOURCE)


def main(argv: Sequence[str] | None = None) -> None:
    copybook_main(SOURCE, argv, run)


if __name__ == "__main__":
    main()
