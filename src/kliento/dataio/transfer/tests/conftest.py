"""Fixtures for import/export tests: write a file, run an import to the end."""

from __future__ import annotations

import csv
import io

import pytest

from kliento.dataio.transfer import services
from kliento.dataio.transfer.engine import import_run


def csv_bytes(rows: list[list[str]], *, delimiter: str = ",", encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode(encoding)


@pytest.fixture
def run_import(org):
    """run_import(data: bytes, entity="contacts", user=admin, name="people.csv", **kw) → job."""

    def run(data: bytes, entity: str = "contacts", user=None, name: str = "people.csv", **kwargs):
        options = kwargs.pop("options", {})
        mapping = kwargs.pop("mapping", None)
        job = services.import_create(
            user=user or org.admin,
            entity=entity,
            stream=io.BytesIO(data),
            file_name=name,
            options=options,
            mapping=mapping,
        )
        job.status = "queued"
        job.save(update_fields=["status"])
        return import_run(job_id=job.pk, **kwargs)

    return run
