"""Huey wiring: a failing job is visible to admins as a JobFailure row while Huey retries it.

One row per task id: each failed attempt updates it (error, retries left); a later successful
attempt deletes it, so only jobs that are failing right now, or failed for good
(retries_left == 0), stay listed.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import close_old_connections, connections
from django.utils import timezone
from huey.contrib.djhuey import HUEY
from huey.signals import SIGNAL_COMPLETE, SIGNAL_ERROR

log = logging.getLogger(__name__)


def _fresh_connection() -> None:
    # Signal handlers run in consumer threads after the task; make sure the thread's connection
    # is usable. In immediate mode (tests) the caller's connection and transaction are reused.
    if not HUEY.immediate:
        close_old_connections()


@HUEY.signal(SIGNAL_ERROR)
def record_failure(signal, task, exc=None):
    from kliento.core.models import JobFailure

    _fresh_connection()
    try:
        JobFailure.objects.update_or_create(
            task_id=task.id,
            defaults={
                # The full dotted name, as the consumer lists it: "kliento.core.tasks.x".
                "task_name": f"{type(task).__module__}.{task.name}"[:200],
                "args": repr((task.args, task.kwargs))[:2000],
                "error": repr(exc)[:4000],
                # Huey decrements the count after this signal, when it requeues the task.
                "retries_left": task.retries or 0,
                "at": timezone.now(),
            },
        )
    except Exception:  # the failure log must never take the worker down
        log.exception("could not record job failure")


@HUEY.signal(SIGNAL_COMPLETE)
def clear_failure(signal, task):
    from kliento.core.models import JobFailure

    _fresh_connection()
    try:
        # Read first: almost every job never failed, and a read takes no write lock on SQLite.
        failures = JobFailure.objects.filter(task_id=task.id)
        if failures.exists():
            failures.delete()
    except Exception:
        log.exception("could not clear job failure")


@HUEY.on_shutdown()
def close_connections():
    """Each consumer thread closes its own database connections when the consumer stops."""
    connections.close_all()


def job_failure_prune(*, older_than_days: int) -> int:
    """Delete failure rows older than the given age; returns how many were deleted."""
    from kliento.core.models import JobFailure

    cutoff = timezone.now() - timedelta(days=older_than_days)
    deleted, _ = JobFailure.objects.filter(at__lt=cutoff).delete()
    return deleted
