"""Models of duplicates: candidate pairs found by a scan, merges (with what undo needs), jobs."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Entity(models.TextChoices):
    CONTACT = "contact", _("Contact")
    COMPANY = "company", _("Company")


class DuplicatePair(models.Model):
    """Two records that may be one customer. `a_id < b_id`; one row per pair, ever.

    A "not a duplicate" decision stays on the row, so a rescan that finds the pair again
    leaves it dismissed.
    """

    class Status(models.TextChoices):
        OPEN = "open", pgettext_lazy("duplicate pair", "Open")
        MERGED = "merged", pgettext_lazy("duplicate pair", "Merged")
        NOT_DUPLICATE = "not_duplicate", _("Not a duplicate")

    entity = models.CharField(_("entity"), max_length=10, choices=Entity.choices)
    a_id = models.BigIntegerField()
    b_id = models.BigIntegerField()
    confidence = models.FloatField(_("confidence"))
    # [{"feature": "email", "weight": 11.2, "a": "...", "b": "..."}, ...]
    evidence = models.JSONField(_("evidence"), default=list)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.OPEN
    )
    found_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["entity", "a_id", "b_id"], name="dedup_pair_uniq"),
            models.CheckConstraint(
                condition=models.Q(a_id__lt=models.F("b_id")), name="dedup_a_lt_b"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "-confidence", "id"], name="dedup_queue_idx"),
            models.Index(fields=["entity", "b_id"], name="dedup_pair_b_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.entity} {self.a_id}~{self.b_id} ({self.confidence:.2f})"


class MergeRecord(models.Model):
    """Everything needed to undo one merge: the loser's full row, the rows moved, the fields
    of the survivor that were overwritten."""

    entity = models.CharField(max_length=10, choices=Entity.choices)
    survivor_id = models.BigIntegerField()
    other_id = models.BigIntegerField()
    other_row = models.JSONField(default=dict)
    # {"app_label.Model.field": [ids moved to the survivor], ...} plus deleted/changed side rows
    moved = models.JSONField(default=dict)
    survivor_before = models.JSONField(default=dict)
    side = models.JSONField(default=dict)
    pair = models.ForeignKey(
        DuplicatePair, null=True, blank=True, on_delete=models.SET_NULL, related_name="merges"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["entity", "survivor_id"], name="dedup_merge_surv_idx")]


class DedupJob(models.Model):
    """A scan or a bulk merge running in the background, with its progress."""

    class Kind(models.TextChoices):
        SCAN = "scan", _("Scan")
        BULK_MERGE = "bulk_merge", _("Bulk merge")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    kind = models.CharField(max_length=16, choices=Kind.choices)
    entity = models.CharField(max_length=10, choices=Entity.choices, blank=True)
    params = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    stage = models.CharField(max_length=40, blank=True)
    done = models.BigIntegerField(default=0)
    total = models.BigIntegerField(default=0)
    result = models.JSONField(default=dict)
    error = models.TextField(blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 0
