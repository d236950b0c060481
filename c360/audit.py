"""Batch reconciliation records: raw rows = stage rows + quarantined rows + deduplicated rows, per source."""

from __future__ import annotations

from dataclasses import dataclass

from c360.storage import Lake

FIELDS = ("source", "batch_id", "raw_rows", "stage_rows", "quarantined_rows", "deduplicated_rows", "balanced")


@dataclass(frozen=True)
class SourceAudit:
    source: str
    batch_id: str
    raw_rows: int
    stage_rows: int
    quarantined_rows: int
    deduplicated_rows: int
    finished_at: str

    @property
    def balanced(self) -> bool:
        return self.raw_rows == self.stage_rows + self.quarantined_rows + self.deduplicated_rows

    def as_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "batch_id": self.batch_id,
            "raw_rows": self.raw_rows,
            "stage_rows": self.stage_rows,
            "quarantined_rows": self.quarantined_rows,
            "deduplicated_rows": self.deduplicated_rows,
            "balanced": self.balanced,
            "finished_at": self.finished_at,
        }


def latest_audits(lake: Lake) -> list[SourceAudit]:
    """The latest batch audit record of every source that has one, sorted by source."""
    audits = []
    for info in lake.list_files(lake.uri("logs", "audit"), suffix="latest.json"):
        record = lake.read_json(info.uri)
        audits.append(
            SourceAudit(
                source=str(record["source"]),
                batch_id=str(record["batch_id"]),
                raw_rows=int(record["raw_rows"]),
                stage_rows=int(record["stage_rows"]),
                quarantined_rows=int(record["quarantined_rows"]),
                deduplicated_rows=int(record["deduplicated_rows"]),
                finished_at=str(record.get("finished_at", "")),
            )
        )
    return sorted(audits, key=lambda a: a.source)
