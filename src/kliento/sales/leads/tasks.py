"""Background jobs of the leads app (discovered by the consumer: `kliento worker`)."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from huey.contrib.djhuey import db_task

from kliento.sales.leads.scoring import scores_recompute_all


@db_task(retries=2, retry_delay=30)
def rescore_open_leads() -> int:
    """Recompute every open lead's score after the scoring rules changed; idempotent."""
    return scores_recompute_all()


@db_task(retries=2, retry_delay=60)
def send_inquiry_email(recipient: str, subject: str, text: str) -> int:
    """Tell a record's owner about a new inquiry from their customer (see _notify_owner)."""
    return send_mail(subject, text, settings.DEFAULT_FROM_EMAIL, [recipient])
