"""Panels other apps contribute to a customer's page, without customers depending on them.

`customers` may not import the sales, marketing or service apps (STYLE.md: dependencies
point one way), yet a contact's page must show their deals, orders and leads. Those apps
register a panel function here from their AppConfig.ready(); the customer detail view asks
for the panels of the record it shows. A panel function gets the viewing user, the entity
("contact" or "company") and the record, applies the user's visibility itself, and returns
`{"template": ..., **context}` or None to show nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Panel = Callable[[Any, str, Any], dict[str, Any] | None]

_panels: list[tuple[int, Panel]] = []


def register(panel: Panel, *, order: int = 100) -> Panel:
    if all(p is not panel for _o, p in _panels):
        _panels.append((order, panel))
        _panels.sort(key=lambda item: item[0])
    return panel


def panels_for(user, entity: str, obj) -> list[dict[str, Any]]:
    shown = []
    for _order, panel in _panels:
        result = panel(user, entity, obj)
        if result:
            shown.append(result)
    return shown
