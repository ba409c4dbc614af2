"""The "personal data" panel on a contact's page: right of access and erasure (core.panels)."""

from __future__ import annotations

from kliento.core import panels
from kliento.core.permissions import is_admin
from kliento.dataio.transfer.models import Erasure


def privacy_panel(user, entity: str, obj):
    if entity != "contact":
        return None
    return {
        "template": "transfer/partials/_privacy_panel.html",
        "erasure": Erasure.objects.filter(contact_id=obj.pk).select_related("user").first(),
        "may_erase": is_admin(user),
    }


def register() -> None:
    panels.register(privacy_panel, order=90)
