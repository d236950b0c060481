"""Import bookkeeping: per input table, records in = records landed + records quarantined (with reasons)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq

from c360.storage import Lake


@dataclass(frozen=True)
class Rejected:
    source_file: str
    line_number: int
    raw_record: str
    reason: str


@dataclass
class TableImport:
    """The accounting of one imported table (``source`` e.g. ``import_berka_trans``)."""

    source: str
    input_rows: int = 0
    landed_rows: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def reject(self, source_file: str, line_number: int, raw_record: str, reason: str) -> None:
        self.rejected.append(Rejected(source_file, line_number, raw_record, reason))

    @property
    def quarantined_rows(self) -> int:
        return len(self.rejected)

    @property
    def balanced(self) -> bool:
        return self.input_rows == self.landed_rows + self.quarantined_rows

    def batch_id(self) -> str:
        digest = hashlib.sha256("\n".join(self.files).encode()).hexdigest()[:16]
        return f"{self.source}-{digest}"


def record(lake: Lake, table: TableImport) -> dict[str, object]:
    """Write the rejected records to ``stage/_quarantine/<source>/`` and the audit record to ``logs/audit/``.

    For an import, ``raw_rows`` counts the input records and ``stage_rows`` those landed in the raw zone (or the
    source database): raw = landed + quarantined, as for every stage batch.
    """
    if not table.balanced:
        raise RuntimeError(
            f"{table.source}: {table.input_rows} input records != {table.landed_rows} landed + "
            f"{table.quarantined_rows} quarantined"
        )
    batch_id = table.batch_id()
    if table.rejected:
        rows = [
            {"source": table.source, "_batch_id": batch_id, **{k: v for k, v in asdict(r).items()}}
            for r in table.rejected
        ]
        frame = pa.Table.from_pylist(rows).rename_columns(
            ["source", "_batch_id", "_source_file", "_line_number", "raw_record", "reason"]
        )
        sink = pa.BufferOutputStream()
        pq.write_table(frame, sink)
        uri = lake.uri("stage", "_quarantine", table.source, f"batch_id={batch_id}", "part-00000.parquet")
        lake.write_bytes(uri, sink.getvalue().to_pybytes())
    audit = {
        "source": table.source,
        "batch_id": batch_id,
        "raw_rows": table.input_rows,
        "stage_rows": table.landed_rows,
        "quarantined_rows": table.quarantined_rows,
        "deduplicated_rows": 0,
        "balanced": table.balanced,
        "files": table.files,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    text = json.dumps(audit, indent=2, sort_keys=True) + "\n"
    lake.write_bytes(lake.uri("logs", "audit", table.source, f"{batch_id}.json"), text.encode())
    lake.write_bytes(lake.uri("logs", "audit", table.source, "latest.json"), text.encode())
    return audit
