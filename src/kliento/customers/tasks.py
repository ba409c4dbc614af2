"""Scheduled customer work, run by the job consumer (`kliento worker` / `kliento serve`)."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from kliento.customers.services import task_reminders_send


@db_periodic_task(crontab(minute="*"), retries=2, retry_delay=30)
def send_task_reminders() -> int:
    return task_reminders_send()
