"""Rows imported with "create and flag for review" wait in the duplicates queue, scored and
explained like a scan's pairs, and can be merged there."""

from __future__ import annotations

import io

import pytest

from kliento.customers.models import Contact
from kliento.dataio.dedup.models import DuplicatePair
from kliento.dataio.transfer import services as transfer
from kliento.dataio.transfer.engine import import_run

pytestmark = pytest.mark.django_db

CSV = (
    "Фамилия;Имя;Эл. почта;Телефон\r\n"
    "Ivanov;Ivan;IVAN@example.com;8 (916) 123-45-67\r\n"
    "Петров;Пётр;petr@example.com;\r\n"
).encode("cp1251")


def _import(user, duplicates: str):
    job = transfer.import_create(
        user=user,
        entity="contacts",
        stream=io.BytesIO(CSV),
        file_name="clients.csv",
        options={"duplicates": duplicates},
        mapping=None,
    )
    job.status = "queued"
    job.save(update_fields=["status"])
    return import_run(job_id=job.pk)


def test_a_flagged_row_waits_in_the_queue_and_merges_from_there(org, contact_factory, login):
    ivan = contact_factory(
        owner=org.rep,
        first_name="Иван",
        last_name="Иванов",
        email="ivan@example.com",
        emails=["ivan@example.com"],
    )
    job = _import(org.admin, "flag")
    assert (job.created, job.failed) == (2, 0)
    copy = Contact.objects.get(last_name="Ivanov")
    pair = DuplicatePair.objects.get()
    assert (pair.entity, pair.status, {pair.a_id, pair.b_id}) == (
        "contact",
        DuplicatePair.Status.OPEN,
        {ivan.pk, copy.pk},
    )
    assert pair.confidence >= 0.95  # transliterated name and the same email
    assert {e["feature"] for e in pair.evidence} >= {"email", "last_name"}

    client = login(org.admin)
    page = client.get("/duplicates/")
    assert f'href="/duplicates/{pair.pk}/"' in page.content.decode()
    response = client.post(f"/duplicates/{pair.pk}/merge/", {"survivor": ivan.pk})
    assert response.status_code == 302
    pair.refresh_from_db()
    assert pair.status == DuplicatePair.Status.MERGED
    assert not Contact.objects.filter(pk=copy.pk).exists()

    # The same file again with "flag": two new copies, each flagged against the record it
    # repeats (the survivor, and the Petrov of the first import); the merged pair stays merged.
    _import(org.admin, "flag")
    petrov = Contact.objects.filter(last_name="Петров").order_by("pk").first()
    assert {
        frozenset((p.a_id, p.b_id)) & {ivan.pk, petrov.pk}
        for p in DuplicatePair.objects.filter(status=DuplicatePair.Status.OPEN)
    } == {frozenset({ivan.pk}), frozenset({petrov.pk})}
    assert DuplicatePair.objects.get(pk=pair.pk).status == DuplicatePair.Status.MERGED


def test_merge_and_skip_queue_nothing(org, contact_factory):
    contact_factory(owner=org.rep, email="ivan@example.com", emails=["ivan@example.com"])
    _import(org.admin, "merge")
    _import(org.admin, "skip")
    assert not DuplicatePair.objects.exists()
