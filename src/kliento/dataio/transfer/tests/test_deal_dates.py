"""Deals brought over from another CRM keep their real dates: a deals file's created and close
dates, and a full export read back, give the sales-cycle report the cycle the deals had."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import pytest
from django.db.models import F
from django.utils import timezone

from kliento.customers import services as customer_services
from kliento.customers.models import Interaction
from kliento.dataio.transfer import exports, services
from kliento.dataio.transfer.engine import import_run
from kliento.dataio.transfer.models import ExternalRef
from kliento.dataio.transfer.tests.conftest import csv_bytes
from kliento.sales.deals.models import Deal, LossReason, Pipeline, Stage, StageChange
from kliento.sales.deals.services import deal_create, deal_lose, deal_move, deal_win

HEADER = ["External id", "Deal name", "Stage", "Status", "Amount", "Loss reason", "Created",
          "Closed", "Contact email"]  # fmt: skip


def _at(text: str) -> dt.datetime:
    return timezone.make_aware(dt.datetime.fromisoformat(text))


@pytest.fixture
def sales(org):
    pipeline = Pipeline.objects.create(name="Sales", position=0, is_default=True)
    for i, name in enumerate(["Qualification", "Proposal"]):
        Stage.objects.create(pipeline=pipeline, name=name, position=i, probability=20 * (i + 1))
    LossReason.objects.create(name="Price")
    customer_services.contact_create(
        user=org.admin, data={"first_name": "Anna", "emails": ["anna@example.com"]}
    )
    return pipeline


def _import(run_import, rows, **kwargs):
    return run_import(
        csv_bytes([HEADER, *rows]), entity="deals", options={"date_format": "ymd"}, **kwargs
    )


def _errors(job) -> list[dict]:
    return [e.reasons for e in job.row_errors.order_by("row")]


def test_a_deals_file_sets_the_real_created_and_close_dates(org, sales, run_import):
    rows = [
        ["crm-1", "Won in March", "Proposal", "won", "1000", "", "2024-03-01 09:00",
         "2024-03-11 09:00", "anna@example.com"],
        ["crm-2", "Lost in April", "Qualification", "lost", "500", "Price", "2024-04-01 10:00",
         "2024-04-21 10:00", ""],
        ["crm-3", "Still open", "Qualification", "open", "300", "", "2024-05-02", "", ""],
    ]  # fmt: skip

    job = _import(run_import, rows)

    assert (job.created, job.failed) == (3, 0), _errors(job)
    got = {d.name: (d.status, d.created_at, d.closed_at) for d in Deal.objects.all()}
    assert got == {
        "Won in March": ("won", _at("2024-03-01 09:00"), _at("2024-03-11 09:00")),
        "Lost in April": ("lost", _at("2024-04-01 10:00"), _at("2024-04-21 10:00")),
        "Still open": ("open", _at("2024-05-02 12:00"), None),  # a date alone: noon
    }
    won = Deal.objects.get(name="Won in March")
    # Its stage history and its customer's timeline are dated as the deal happened.
    assert list(
        StageChange.objects.filter(deal=won).order_by("at").values_list("at", "status")
    ) == [
        (_at("2024-03-01 09:00"), "open"),
        (_at("2024-03-11 09:00"), "won"),
    ]
    notes = Interaction.objects.filter(related_type="deal", related_id=won.pk)
    assert sorted(notes.values_list("occurred_at", flat=True)) == [
        _at("2024-03-01 09:00"),
        _at("2024-03-11 09:00"),
    ]


def test_the_sales_cycle_report_counts_the_imported_dates(org, sales, run_import, api):
    rows = [
        ["crm-1", "A", "Proposal", "won", "1000", "", "2024-03-01 09:00", "2024-03-11 09:00", ""],
        ["crm-2", "B", "Proposal", "lost", "1000", "Price", "2024-02-20 09:00",
         "2024-03-21 09:00", ""],
    ]  # fmt: skip
    assert _import(run_import, rows).failed == 0

    response = api(org.admin).get(
        "/api/v1/reports/sales-cycle", {"date_from": "2024-03-01", "date_to": "2024-03-31"}
    )

    summary = response.json()["summary"]
    assert (summary["deals"], summary["won"], summary["lost"]) == (2, 1, 1)
    assert (summary["cycle_days"], summary["won_cycle_days"]) == ("20.0", "10.0")


def test_a_closed_deal_without_a_created_date_starts_on_its_close_date(org, sales, run_import):
    job = _import(run_import, [["x", "Old win", "Proposal", "won", "1", "", "", "2023-06-30", ""]])

    assert job.failed == 0, _errors(job)
    deal = Deal.objects.get()
    assert deal.created_at == deal.closed_at == _at("2023-06-30 12:00")


def test_rerunning_a_file_changes_nothing_and_a_corrected_close_date_recloses(
    org, sales, run_import
):
    row = ["crm-1", "Won", "Proposal", "won", "1000", "", "2024-03-01 09:00", "2024-03-11 09:00",
           ""]  # fmt: skip
    _import(run_import, [row])

    again = _import(run_import, [row])
    assert (again.created, again.updated, again.skipped) == (0, 0, 1)

    corrected = _import(run_import, [[*row[:7], "2024-03-15 18:00", ""]])
    assert (corrected.updated, corrected.failed) == (1, 0), _errors(corrected)
    deal = Deal.objects.get()
    assert (deal.status, deal.created_at, deal.closed_at) == (
        "won",
        _at("2024-03-01 09:00"),
        _at("2024-03-15 18:00"),
    )


@pytest.mark.parametrize(
    ("status", "created", "closed", "column", "message"),
    [
        ("open", "", "2024-03-11", "Closed",
         "An open deal has no close date: give the status won or lost, or no date."),
        ("won", "2024-03-11 09:00", "2024-03-01 09:00", "Closed",
         "The deal was created on 2024-03-11 09:00, after this date."),
        ("won", "", "2199-01-01", "Closed", "The date is in the future."),
        ("won", "2199-01-01", "", "Created", "The date is in the future."),
    ],
)  # fmt: skip
def test_impossible_dates_are_row_errors_and_nothing_is_written(
    org, sales, run_import, status, created, closed, column, message
):
    job = _import(run_import, [["x", "Bad", "Proposal", status, "1", "", created, closed, ""]])

    assert (job.created, job.failed) == (0, 1)
    assert _errors(job) == [{column: message}]
    assert not Deal.objects.exists() and not StageChange.objects.exists()


def test_full_export_read_back_keeps_the_deals_created_and_close_dates(org, sales):
    anna = customer_services.contact_create(
        user=org.admin, data={"first_name": "Olga", "emails": ["olga@example.com"]}
    )
    stage = Stage.objects.get(name="Proposal").pk
    won = deal_create(
        user=org.admin,
        data={"name": "Won", "stage": stage, "contact": anna.pk},
        created_at=_at("2023-01-10 08:30:15.123456"),
    )
    deal_win(user=org.admin, deal=won, closed_at=_at("2023-02-14 17:45:00.654321"))
    lost = deal_create(user=org.admin, data={"name": "Lost"}, created_at=_at("2023-05-01 10:00"))
    deal_lose(
        user=org.admin, deal=lost, reason=LossReason.objects.get(), closed_at=_at("2023-06-01")
    )
    deal_create(user=org.admin, data={"name": "Open"}, created_at=_at("2024-01-02 03:04"))
    before = sorted(Deal.objects.values_list("name", "status", "created_at", "closed_at"))
    out = io.BytesIO()
    exports.full_export_write(out, user=org.admin)
    deals_csv = zipfile.ZipFile(io.BytesIO(out.getvalue())).read("sales/deals.csv").decode()
    assert "2023-02-14T17:45:00.654321+00:00" in deals_csv
    for model in (Interaction, StageChange, Deal, ExternalRef):
        model.objects.all().delete()

    jobs = [import_run(job_id=j.pk) for j in services.full_import_create(
        user=org.admin, stream=io.BytesIO(out.getvalue())
    )]  # fmt: skip

    deals = next(j for j in jobs if j.entity == "deals")
    assert (deals.created, deals.failed) == (3, 0), _errors(deals)
    assert sorted(Deal.objects.values_list("name", "status", "created_at", "closed_at")) == before
    # Read back once more: the dates are the same, so nothing is closed again.
    again = [import_run(job_id=j.pk) for j in services.full_import_create(
        user=org.admin, stream=io.BytesIO(out.getvalue())
    )]  # fmt: skip
    deals = next(j for j in again if j.entity == "deals")
    assert (deals.created, deals.updated, deals.skipped) == (0, 0, 3)
    assert sorted(Deal.objects.values_list("name", "status", "created_at", "closed_at")) == before


def test_a_close_date_before_the_last_stage_change_is_a_row_error_and_good_rows_land(
    org, sales, run_import
):
    first = ["crm-1", "Moved today", "Qualification", "open", "1000", "", "2024-03-01 09:00", "",
             ""]  # fmt: skip
    assert _import(run_import, [first]).created == 1
    moved = deal_move(
        user=org.admin, deal=Deal.objects.get(), stage=Stage.objects.get(name="Proposal")
    )
    moved_at = StageChange.objects.filter(deal=moved).latest("at", "id").at
    rows = [
        ["crm-1", "Moved today", "Proposal", "won", "1000", "", "2024-03-01 09:00",
         "2024-03-11 09:00", ""],
        ["crm-2", "Won in March", "Proposal", "won", "500", "", "2024-03-01 09:00",
         "2024-03-11 09:00", ""],
    ]  # fmt: skip

    job = _import(run_import, rows)

    assert (job.created, job.updated, job.failed) == (1, 0, 1)
    assert _errors(job) == [
        {
            "Closed": "The close date can't be before the last stage change on "
            f"{timezone.localtime(moved_at).strftime('%Y-%m-%d %H:%M')}."
        }
    ]
    assert sorted(Deal.objects.values_list("name", "stage__name", "status", "closed_at")) == [
        ("Moved today", "Proposal", "open", None),
        ("Won in March", "Proposal", "won", _at("2024-03-11 09:00")),
    ]
    assert StageChange.objects.filter(deal=moved).count() == 2


def _history(deal: Deal) -> list[tuple]:
    """The deal's stage history in the order it was written: (at, from, to, status)."""
    return list(
        StageChange.objects.filter(deal=deal)
        .order_by("id")
        .values_list("at", "from_stage__name", "to_stage__name", "status")
    )


def test_a_known_open_deal_moved_and_closed_in_the_past_is_moved_on_its_close_date(
    org, sales, run_import
):
    opened = ["crm-1", "Moved late", "Qualification", "open", "1000", "", "2024-03-01 09:00", "",
              ""]  # fmt: skip
    assert _import(run_import, [opened]).created == 1

    job = _import(run_import, [[*opened[:2], "Proposal", "won", *opened[4:7], "2024-03-11 09:00",
                                ""]])  # fmt: skip

    assert (job.updated, job.failed) == (1, 0), _errors(job)
    deal = Deal.objects.get()
    assert (deal.stage.name, deal.status, deal.closed_at) == (
        "Proposal",
        "won",
        _at("2024-03-11 09:00"),
    )
    history = _history(deal)
    assert history == [
        (_at("2024-03-01 09:00"), None, "Qualification", "open"),
        (_at("2024-03-11 09:00"), "Qualification", "Proposal", "open"),
        (_at("2024-03-11 09:00"), "Proposal", "Proposal", "won"),
    ]
    assert [row[0] for row in history] == sorted(row[0] for row in history)


def test_a_corrected_close_date_leaves_no_reopen_and_the_cycle_is_the_new_one(
    org, sales, run_import, api
):
    row = ["crm-1", "Won", "Proposal", "won", "1000", "", "2024-03-01 09:00", "2024-03-11 09:00",
           "anna@example.com"]  # fmt: skip
    assert _import(run_import, [row]).created == 1

    job = _import(run_import, [[*row[:7], "2024-03-15 09:00", row[8]]])

    assert (job.updated, job.failed) == (1, 0), _errors(job)
    deal = Deal.objects.get()
    assert (deal.status, deal.closed_at) == ("won", _at("2024-03-15 09:00"))
    assert _history(deal) == [
        (_at("2024-03-01 09:00"), None, "Proposal", "open"),
        (_at("2024-03-15 09:00"), "Proposal", "Proposal", "won"),
    ]
    notes = Interaction.objects.filter(related_type="deal", related_id=deal.pk)
    assert sorted(notes.values_list("occurred_at", flat=True)) == [
        _at("2024-03-01 09:00"),
        _at("2024-03-15 09:00"),
    ]
    response = api(org.admin).get(
        "/api/v1/reports/sales-cycle", {"date_from": "2024-03-01", "date_to": "2024-03-31"}
    )
    summary = response.json()["summary"]
    assert (summary["won"], summary["won_cycle_days"]) == (1, "14.0")


def test_bad_history_rows_are_reported_and_good_rows_still_land(org, sales, run_import):
    rows = [
        ["crm-1", "Open A", "Qualification", "open", "100", "", "2024-03-01 09:00", "", ""],
        ["crm-2", "Open B", "Qualification", "open", "200", "", "2024-03-01 09:00", "", ""],
        ["crm-3", "Won C", "Proposal", "won", "300", "", "2024-03-01 09:00", "2024-03-11 09:00",
         ""],
        ["crm-4", "Won D", "Proposal", "won", "400", "", "2024-03-01 09:00", "2024-03-11 09:00",
         ""],
    ]  # fmt: skip
    assert _import(run_import, rows).created == 4
    before = {d.name: (d.stage.name, d.status, d.closed_at, d.version) for d in Deal.objects.all()}
    history = StageChange.objects.count()

    job = _import(
        run_import,
        [
            # moved and closed before it was created: refused
            [*rows[0][:2], "Proposal", "won", *rows[0][4:7], "2024-02-20 09:00", ""],
            [*rows[1][:2], "Proposal", "won", *rows[1][4:7], "2024-03-12 09:00", ""],
            # a close date corrected into the future: refused
            [*rows[2][:7], "2199-01-01 09:00", ""],
            [*rows[3][:7], "2024-03-13 09:00", ""],
        ],
    )

    assert (job.updated, job.failed) == (2, 2)
    assert _errors(job) == [
        {"Closed": "The deal was created on 2024-03-01 09:00, after this date."},
        {"Closed": "The date is in the future."},
    ]
    after = {d.name: (d.stage.name, d.status, d.closed_at, d.version) for d in Deal.objects.all()}
    assert after["Open A"] == before["Open A"]
    assert after["Won C"] == before["Won C"]
    assert after["Open B"][:3] == ("Proposal", "won", _at("2024-03-12 09:00"))
    assert after["Won D"][:3] == ("Proposal", "won", _at("2024-03-13 09:00"))
    # Two rows for the move and close of B, none for the corrected close of D.
    assert StageChange.objects.count() == history + 2
    assert not StageChange.objects.filter(status="open", from_stage=F("to_stage")).exists()
