"""The "possible duplicates" panel on a contact's or company's page (kliento.core.panels)."""

from __future__ import annotations

from django.db.models import Q

from kliento.core import panels
from kliento.core.permissions import record_q
from kliento.dataio.dedup.models import DuplicatePair
from kliento.dataio.dedup.selectors import MODELS

LIMIT = 5


def duplicates_panel(user, entity: str, obj):
    """Open pairs with this record whose other record the viewer may see, most likely first."""
    if entity not in MODELS:
        return None
    pairs = list(
        DuplicatePair.objects.filter(
            Q(a_id=obj.pk) | Q(b_id=obj.pk), entity=entity, status=DuplicatePair.Status.OPEN
        ).order_by("-confidence", "id")[: LIMIT * 4]
    )
    if not pairs:
        return None
    other_ids = {p.b_id if p.a_id == obj.pk else p.a_id: p for p in pairs}
    others = MODELS[entity].objects.filter(pk__in=other_ids)
    q = record_q(user, entity, probe_shares=False)  # a handful of ids: no need to probe
    if q is not None:
        others = others.filter(q)
    by_id = {o.pk: o for o in others.select_related("owner")}
    rows = [
        {
            "pair": pair,
            "other": by_id[other_id],
            "title": by_id[other_id].full_name if entity == "contact" else by_id[other_id].name,
            "percent": round(pair.confidence * 100),
        }
        for other_id, pair in other_ids.items()
        if other_id in by_id
    ][:LIMIT]
    if not rows:
        return None
    return {"template": "dedup/partials/_record_panel.html", "duplicate_rows": rows}


def register() -> None:
    panels.register(duplicates_panel, order=5)
