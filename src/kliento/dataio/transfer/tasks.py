"""Background jobs of import and export (discovered by the consumer: `kliento worker`)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from kliento.dataio.transfer.engine import import_run
from kliento.dataio.transfer.models import ExportJob, ImportJob, JobStatus

# A running job writes its heartbeat with every batch (seconds apart); one silent this long
# lost its worker (restart, crash) and is resumed from its checkpoint.
STALE_AFTER = timedelta(minutes=5)


@db_task(retries=2, retry_delay=30)
def run_import(job_id: int) -> None:
    import_run(job_id=job_id)


@db_task(retries=2, retry_delay=30)
def run_export(job_id: int) -> None:
    from kliento.dataio.transfer.exports import export_run

    export_run(job_id=job_id)


@db_periodic_task(crontab(minute="*/2"))
def resume_lost_jobs() -> int:
    """Requeue imports and exports whose worker went away; they resume where they stopped."""
    cutoff = timezone.now() - STALE_AFTER
    lost = list(
        ImportJob.objects.filter(status=JobStatus.RUNNING, heartbeat_at__lt=cutoff).values_list(
            "id", flat=True
        )
    ) + list(
        ImportJob.objects.filter(
            status=JobStatus.QUEUED, created_at__lt=cutoff, heartbeat_at=None
        ).values_list("id", flat=True)
    )
    for job_id in lost:
        ImportJob.objects.filter(pk=job_id).update(heartbeat_at=timezone.now())
        run_import(job_id)
    exports = list(
        ExportJob.objects.filter(
            status__in=[JobStatus.QUEUED, JobStatus.RUNNING], created_at__lt=cutoff - STALE_AFTER
        ).values_list("id", flat=True)
    )
    for job_id in exports:
        run_export(job_id)
    return len(lost) + len(exports)
