"""The import's duplicate check, with the review queue (setting TRANSFER_DUPLICATE_FINDER).

The match itself stays the exact normalised keys manual entry checks (email, phone, tax id):
an import must never merge on a guess. What this adds is the review queue: a row imported
with "create and flag for review" leaves its pair in the duplicates queue, scored and
explained like a scan's pair, so it can be merged there (in bulk or by hand) or dismissed.
"""

from __future__ import annotations

from kliento.dataio.dedup.candidates import score_records
from kliento.dataio.dedup.selectors import MODELS
from kliento.dataio.dedup.services import pairs_flag
from kliento.dataio.transfer.matching import ExactKeyFinder


class Finder(ExactKeyFinder):
    def flag(self, *, job, entity: str, object_id: int, candidate_id: int, row: int) -> None:
        model = MODELS.get(entity)
        if model is None:
            return
        records = model.objects.in_bulk([object_id, candidate_id])
        if len(records) < 2:
            return
        confidence, evidence = score_records(entity, records[object_id], records[candidate_id])
        pairs_flag(entity=entity, pairs=[(object_id, candidate_id, confidence, evidence)])
