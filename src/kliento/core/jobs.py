"""Huey wiring: failed jobs are recorded so an admin can see them (Huey retries first)."""

from __future__ import annotations

import logging

from huey.contrib.djhuey import HUEY
from huey.signals import SIGNAL_ERROR

log = logging.getLogger(__name__)


@HUEY.signal(SIGNAL_ERROR)
def record_failure(signal, task, exc=None):  # pragma: no cover - exercised via worker tests
    from django.db import close_old_connections

    from kliento.core.models import JobFailure

    close_old_connections()
    try:
        JobFailure.objects.create(
            task_name=task.name,
            task_id=task.id,
            args=repr((task.args, task.kwargs))[:2000],
            error=repr(exc)[:4000],
            retries_left=task.retries or 0,
        )
    except Exception:  # the failure log must never take the worker down
        log.exception("could not record job failure")
