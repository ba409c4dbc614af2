"""Background jobs of the duplicates area: a scan and a bulk merge, with progress."""

from huey.contrib.djhuey import db_task

from kliento.dataio.dedup.services import job_run


@db_task()
def run_job(job_id: int) -> int:
    """Run one DedupJob; a finished job is not run again."""
    return job_run(job_id=job_id).pk
