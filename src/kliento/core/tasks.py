"""Background jobs of the core app (discovered by the consumer: `kliento worker`)."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from kliento.core.jobs import job_failure_prune

JOB_FAILURE_RETENTION_DAYS = 30


@db_task(retries=3, retry_delay=60)
def prune_job_failures(older_than_days: int = JOB_FAILURE_RETENTION_DAYS) -> int:
    """Forget job failures older than the retention period; safe to run any number of times."""
    return job_failure_prune(older_than_days=older_than_days)


@db_periodic_task(crontab(hour="3", minute="17"))
def prune_job_failures_nightly() -> int:
    return job_failure_prune(older_than_days=JOB_FAILURE_RETENTION_DAYS)
