"""Models of import and export.

Uploaded files and finished exports are stored in the database, in 1 MiB chunks
(StoredFile + FileChunk): every serve and worker host reads them through the one database,
a worker restart loses nothing, and no shared disk is needed when the app scales out.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

CHUNK_SIZE = 1024 * 1024


class Entity(models.TextChoices):
    CONTACTS = "contacts", _("Contacts")
    COMPANIES = "companies", _("Companies")
    INTERACTIONS = "interactions", _("Interactions")
    LEADS = "leads", _("Leads")
    DEALS = "deals", _("Deals")
    PRODUCTS = "products", _("Products")
    ORDERS = "orders", _("Orders (one row per line)")


class StoredFile(models.Model):
    name = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(max_length=100, blank=True)
    size = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name


class FileChunk(models.Model):
    file = models.ForeignKey(StoredFile, on_delete=models.CASCADE, related_name="chunks")
    seq = models.PositiveIntegerField()
    data = models.BinaryField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["file", "seq"], name="filechunk_seq_uniq")]


class JobStatus(models.TextChoices):
    DRAFT = "draft", _("Waiting for mapping")
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


class DuplicateAction(models.TextChoices):
    MERGE = "merge", _("Merge into the existing record")
    SKIP = "skip", _("Skip the row")
    FLAG = "flag", _("Create and flag for review")


class ImportJob(models.Model):
    entity = models.CharField(_("record type"), max_length=20, choices=Entity.choices)
    file = models.ForeignKey(
        StoredFile, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # A file read in place on the host running the job (`kliento import FILE`), instead of
    # an uploaded copy: a 1 GB file need not be copied into the database first.
    source_path = models.CharField(max_length=1000, blank=True)
    file_name = models.CharField(_("file"), max_length=255, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    mapping = models.JSONField(_("column mapping"), default=dict, blank=True)
    # {"date_format": "dmy|ymd|mdy", "decimal": "," | ".", "duplicates": merge|skip|flag,
    #  "dry_run": bool, "encoding": "", "delimiter": ""}
    options = models.JSONField(_("options"), default=dict, blank=True)
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.DRAFT)
    message = models.TextField(blank=True)
    total = models.BigIntegerField(null=True, blank=True)
    processed = models.BigIntegerField(default=0)
    created = models.BigIntegerField(default=0)
    updated = models.BigIntegerField(default=0)
    skipped = models.BigIntegerField(default=0)
    failed = models.BigIntegerField(default=0)
    # The last data row (1-based, header excluded) whose batch is committed: a rerun resumes here.
    checkpoint = models.BigIntegerField(default=0)
    rows_per_s = models.FloatField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Written with every batch: a running job whose heartbeat stops was lost with its worker.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"], name="importjob_user_idx")]

    def __str__(self) -> str:
        return f"{self.get_entity_display()} · {self.file_name}"

    @property
    def dry_run(self) -> bool:
        return bool(self.options.get("dry_run"))

    @property
    def percent(self) -> int:
        if self.status == JobStatus.DONE:
            return 100
        if not self.total:
            return 0
        return min(99, int(self.processed * 100 / self.total))

    @property
    def eta_seconds(self) -> int | None:
        if not self.total or not self.rows_per_s or self.status != JobStatus.RUNNING:
            return None
        return max(0, int((self.total - self.processed) / self.rows_per_s))

    @property
    def is_active(self) -> bool:
        return self.status in {JobStatus.QUEUED, JobStatus.RUNNING}


class ImportRowError(models.Model):
    class Kind(models.TextChoices):
        ERROR = "error", _("Not imported")
        FLAGGED = "flagged", _("Possible duplicate")

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="row_errors")
    row = models.BigIntegerField(_("row"))
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.ERROR)
    values = models.JSONField(_("original values"), default=list)
    # {"column or field": "reason", ...}
    reasons = models.JSONField(_("reasons"), default=dict)

    class Meta:
        ordering = ["job", "row", "id"]
        indexes = [models.Index(fields=["job", "row"], name="importerror_job_row_idx")]


class SavedMapping(models.Model):
    name = models.CharField(_("name"), max_length=100)
    entity = models.CharField(_("record type"), max_length=20, choices=Entity.choices)
    # {"column header": "field", ...}
    columns = models.JSONField(default=dict)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["entity", "name"], name="savedmapping_name_uniq")
        ]

    def __str__(self) -> str:
        return self.name


class ExternalRef(models.Model):
    """The id a record has in another system, so a re-import updates instead of duplicating.

    `job`/`row` remember which import wrote it last: the same id met again later in the same
    file is a duplicate inside the file, found without holding every id in memory.
    """

    entity = models.CharField(max_length=20)
    external_id = models.CharField(max_length=100)
    object_id = models.BigIntegerField()
    job = models.ForeignKey(
        ImportJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    row = models.BigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["entity", "external_id"], name="externalref_uniq")
        ]
        indexes = [models.Index(fields=["entity", "object_id"], name="externalref_obj_idx")]


class ExportJob(models.Model):
    entity = models.CharField(max_length=20)
    format = models.CharField(max_length=4, default="csv")
    # The list's own query string (filters, sort) and the chosen columns.
    query = models.CharField(max_length=2000, blank=True)
    columns = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    message = models.TextField(blank=True)
    total = models.BigIntegerField(null=True, blank=True)
    processed = models.BigIntegerField(default=0)
    file = models.ForeignKey(
        StoredFile, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    @property
    def percent(self) -> int:
        if self.status == JobStatus.DONE:
            return 100
        if not self.total:
            return 0
        return min(99, int(self.processed * 100 / self.total))


class Erasure(models.Model):
    """The fact that a contact's personal data was erased: when and by whom (nothing personal)."""

    contact_id = models.BigIntegerField(unique=True)
    at = models.DateTimeField(default=timezone.now)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
