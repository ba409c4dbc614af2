"""Exports of the sales lists (leads, deals, orders, products) and the sales part of the full
export: what the list shows, visibility, CSV injection, jobs, and reading the files back."""

from __future__ import annotations

import csv
import io
import zipfile
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from kliento.customers import services as customer_services
from kliento.customers.models import Company, Contact, ContactCompany, Interaction, SearchEntry
from kliento.dataio.transfer import exports, services
from kliento.dataio.transfer.engine import import_run
from kliento.dataio.transfer.fields import LEAD_FIELDS
from kliento.dataio.transfer.models import ExportJob, ExternalRef, ImportJob
from kliento.dataio.transfer.tests.conftest import csv_bytes
from kliento.sales.catalog.models import CurrencyRate, PriceList, PriceListItem, Product
from kliento.sales.deals.models import Deal, LossReason, Pipeline, Stage, StageChange
from kliento.sales.deals.services import deal_create, deal_lose, deal_win
from kliento.sales.leads.models import Lead
from kliento.sales.leads.services import lead_convert, lead_create, lead_disqualify
from kliento.sales.orders.models import Order, OrderLine
from kliento.sales.orders.services import order_create


def _csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(body)))


@pytest.fixture
def book(org):
    """A pipeline, a loss reason, a catalogue with a price list, two customers of the rep."""
    main = Pipeline.objects.create(name="Sales", position=0, is_default=True)
    for i, name in enumerate(["Qualification", "Proposal", "Contract"]):
        Stage.objects.create(pipeline=main, name=name, position=i, probability=20 * (i + 1))
    LossReason.objects.create(name="Price")
    std = Product.objects.create(
        sku="CRM-STD", name="CRM Standard", cost=Decimal("300"), tax_rate=Decimal("20")
    )
    impl = Product.objects.create(
        sku="IMPL", name="Implementation", unit="h", cost=Decimal("900"), tax_rate=Decimal("20")
    )
    base = PriceList.objects.create(name="Base", currency="RUB", is_default=True)
    PriceListItem.objects.create(price_list=base, product=std, price=Decimal("1000"))
    anna = customer_services.contact_create(
        user=org.admin,
        data={"first_name": "Anna", "last_name": "Lee", "emails": ["anna@example.com"],
              "owner_id": org.rep.pk},
    )  # fmt: skip
    acme = customer_services.company_create(
        user=org.admin, data={"name": "Acme", "owner_id": org.rep.pk}
    )
    kazan = customer_services.contact_create(
        user=org.admin,
        data={"first_name": "Oleg", "emails": ["oleg@example.com"], "owner_id": org.other_rep.pk},
    )
    return type(
        "Book",
        (),
        {"main": main, "std": std, "impl": impl, "anna": anna, "acme": acme, "kazan": kazan},
    )


def _stage(name: str) -> int:
    return Stage.objects.get(name=name).pk


def _deal(user, name, stage="Qualification", **data) -> Deal:
    return deal_create(
        user=user,
        data={
            "name": name,
            "pipeline": Pipeline.objects.get(name="Sales").pk,
            "stage": _stage(stage),
            **data,
        },
    )


def _order(user, customer: dict, lines: list[tuple[Product, str, str]], **data) -> Order:
    return order_create(
        user=user,
        data={
            **customer,
            **data,
            "lines": [
                {"product": p.pk, "quantity": q, "price": price, "discount_kind": "amount",
                 "discount_value": "0"}
                for p, q, price in lines
            ],
        },
    )  # fmt: skip


# --- list exports -------------------------------------------------------------------------


def test_a_rep_exports_only_the_leads_the_rep_sees_with_the_lists_filter(org, login, book):
    lead_create(
        user=org.admin, data={"first_name": "Ann", "email": "a@x.ru", "owner_id": org.rep.pk}
    )
    lead_create(
        user=org.admin,
        data={"first_name": "Bob", "email": "b@x.ru", "owner_id": org.rep.pk, "status": "working"},
    )
    lead_create(
        user=org.admin,
        data={"first_name": "Hidden", "email": "h@x.ru", "owner_id": org.other_rep.pk},
    )
    client = login(org.rep)
    everything = _csv(client.get("/data/export/leads/?go=1&columns=first_name&columns=owner"))
    assert sorted(everything) == [["Ann", "rep"], ["Bob", "rep"], ["First name", "Owner"]]
    working = _csv(client.get("/data/export/leads/?go=1&status=working&columns=first_name"))
    assert working == [["First name"], ["Bob"]]
    by_name = _csv(client.get("/data/export/leads/?go=1&sort=name&columns=first_name"))
    assert by_name == [["First name"], ["Ann"], ["Bob"]]


def test_deal_export_follows_filter_sort_and_team_visibility(org, login, book):
    _deal(org.admin, "Beta", owner=org.rep.pk, contact=book.anna.pk, amount="1500.50")
    won = _deal(org.admin, "Alpha", stage="Proposal", owner=org.rep.pk, company=book.acme.pk)
    deal_win(user=org.admin, deal=won)
    _deal(org.admin, "Kazan deal", owner=org.other_rep.pk, contact=book.kazan.pk)
    columns = "&columns=name&columns=stage&columns=status&columns=contact_email&columns=company"
    rep_rows = _csv(login(org.rep).get(f"/data/export/deals/?go=1&sort=name{columns}"))
    assert rep_rows == [
        ["Name", "Stage", "Status", "Contact email", "Company"],
        ["Alpha", "Proposal", "Won", "", "Acme"],
        ["Beta", "Qualification", "Open", "anna@example.com", ""],
    ]
    head_won = _csv(login(org.head).get(f"/data/export/deals/?go=1&status=won{columns}"))
    assert [r[0] for r in head_won] == ["Name", "Alpha"]
    head_all = _csv(login(org.head).get("/data/export/deals/?go=1&sort=name&columns=name"))
    assert head_all == [["Name"], ["Alpha"], ["Beta"], ["Kazan deal"]]


def test_unknown_filter_of_a_sales_list_is_refused_naming_it(org, api, login, book):
    response = api(org.rep).post(
        "/api/v1/exports",
        {"entity": "deals", "query": "colour=red"},
        content_type="application/json",
    )
    assert response.status_code == 422
    assert response.json()["fields"] == {"colour": "Unknown filter."}
    assert not ExportJob.objects.exists()
    assert login(org.rep).get("/data/export/orders/?go=1&status=lost").status_code == 302


def test_orders_export_one_row_per_line_and_read_back_as_the_same_orders(
    org, login, book, run_import
):
    _order(org.rep, {"contact": book.anna.pk}, [(book.std, "2", "1000"), (book.impl, "3", "3000")])
    _order(org.rep, {"company": book.acme.pk}, [(book.std, "1", "999.99")],
           note='=HYPERLINK("http://evil")')  # fmt: skip
    _order(org.other_rep, {"contact": book.kazan.pk}, [(book.impl, "1", "10")])
    rows = _csv(login(org.rep).get("/data/export/orders/?go=1&sort=date"))
    header = rows[0]
    assert header == [
        "Order number", "Order date", "Status", "Channel", "Currency", "Contact name",
        "Contact email", "Company", "Owner", "Product SKU", "Product name", "Quantity", "Price",
        "Discount", "Unit cost", "Order total",
    ]  # fmt: skip
    body = [dict(zip(header, r, strict=True)) for r in rows[1:]]
    assert [(r["Contact email"], r["Company"], r["Product SKU"], r["Quantity"]) for r in body] == [
        ("anna@example.com", "", "CRM-STD", "2.000"),
        ("anna@example.com", "", "IMPL", "3.000"),
        ("", "Acme", "CRM-STD", "1.000"),
    ]
    # The note (hidden by default) is neutralised when chosen.
    notes = _csv(login(org.rep).get("/data/export/orders/?go=1&sort=date&columns=note"))
    assert notes[1:] == [[""], [""], ['\'=HYPERLINK("http://evil")']]

    # The same file imported (headers guessed) into a database without those orders.
    before = _lines()
    data = "\n".join(",".join(f'"{c}"' for c in r) for r in rows).encode()
    Interaction.objects.filter(related_type="order").delete()
    Order.objects.all().delete()
    job = run_import(data, entity="orders", user=org.admin, options={"date_format": "ymd"})
    assert (job.created, job.failed) == (3, 0), list(job.row_errors.values("row", "reasons"))
    assert _lines() == [line for line in before if line[1] != "oleg@example.com"]


def _lines():
    return sorted(
        (
            o.ordered_at.isoformat(),
            o.contact.email if o.contact else None,
            o.company.name if o.company else None,
            o.owner.username,
            o.status,
            o.total,
            line.product.sku,
            line.quantity,
            line.price,
            line.cost,
        )
        for o in Order.objects.select_related("contact", "company", "owner")
        for line in o.lines.select_related("product")
    )


def test_products_export_filters_and_keeps_formulas_as_text_in_xlsx(org, login, book):
    Product.objects.create(sku="OLD", name="=cmd|' /C calc'!A0", active=False)
    client = login(org.rep)
    active = _csv(client.get("/data/export/products/?go=1&active=true&columns=sku&columns=name"))
    assert active == [["SKU", "Name"], ["CRM-STD", "CRM Standard"], ["IMPL", "Implementation"]]
    response = client.get("/data/export/products/?go=1&active=false&format=xlsx")
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0] == ["SKU", "Name", "Category", "Unit", "Cost", "Tax rate, %", "Active"]
    assert rows[1] == ["OLD", "=cmd|' /C calc'!A0", None, "pcs", 0, 0, False]
    assert sheet["B2"].data_type == "s"


def test_a_large_sales_export_is_a_job_with_progress_through_the_api(
    org, api, login, book, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(exports, "PAGE", 2)
    for i in range(3):
        _deal(org.admin, f"D{i}", owner=org.rep.pk, amount="1000")
    _deal(org.admin, "Hidden", owner=org.other_rep.pk)
    with django_capture_on_commit_callbacks(execute=True):
        response = api(org.rep).post(
            "/api/v1/exports",
            {"entity": "deals", "query": "sort=name", "columns": ["name", "amount"]},
            content_type="application/json",
        )
    assert response.status_code == 202
    job = ExportJob.objects.get()
    assert (job.entity, job.status, job.processed, job.total) == ("deals", "done", 3, 3)
    detail = api(org.rep).get(f"/api/v1/exports/{job.pk}").json()
    assert detail["percent"] == 100 and detail["download_url"].endswith(f"/exports/{job.pk}/file")
    download = api(org.rep).get(f"/api/v1/exports/{job.pk}/file")
    assert _csv(download) == [["Name", "Amount"], ["D0", "1000.00"], ["D1", "1000.00"],
                              ["D2", "1000.00"]]  # fmt: skip
    assert api(org.other_rep).get(f"/api/v1/exports/{job.pk}/file").status_code == 404


def test_orders_period_filter_is_read_as_the_list_reads_it(org, login, book):
    _order(org.rep, {"contact": book.anna.pk}, [(book.std, "1", "5")])
    _order(org.rep, {"contact": book.anna.pk}, [(book.std, "1", "6")], ordered_at="2001-05-05")
    client = login(org.rep)
    this_year = _csv(client.get("/data/export/orders/?go=1&period=this_year&columns=price"))
    assert this_year == [["Price"], ["5.00"]]
    assert len(_csv(client.get("/data/export/orders/?go=1&period=custom&columns=price"))) == 3


@pytest.mark.parametrize("entity", ["leads", "deals", "orders", "products"])
def test_the_export_page_of_each_sales_list_offers_its_columns(org, login, book, entity):
    response = login(org.rep).get(f"/data/export/{entity}/?q=abc")
    assert response.status_code == 200
    page = response.content.decode()
    assert '<input type="hidden" name="q" value="abc">' in page
    first_key = exports.list_columns(entity)[0][0]
    assert f'value="{first_key}"' in page


# --- the full export round trip -------------------------------------------------------------


def _sales_snapshot():
    def who(obj, name):
        related = getattr(obj, name)
        return (related.email if name == "contact" else related.name) if related else None

    products = sorted(
        Product.objects.values_list(
            "sku", "name", "category", "unit", "description", "cost", "tax_rate", "active"
        )
    )
    prices = sorted(PriceListItem.objects.values_list("price_list__name", "product__sku", "price"))
    price_lists = sorted(
        PriceList.objects.values_list("name", "currency", "segment", "is_default", "active")
    )
    rates = sorted(CurrencyRate.objects.values_list("currency", "rate", "valid_from"))
    stages = sorted(
        Stage.objects.values_list("pipeline__name", "pipeline__is_default", "name", "probability")
    )
    leads = sorted(
        (x.first_name, x.last_name, x.company_name, x.email, x.phone, x.status, x.source,
         x.channel, x.campaign, x.message, x.tags, x.owner.username)
        for x in Lead.objects.select_related("owner")
    )  # fmt: skip
    deals = sorted(
        (d.name, d.pipeline.name, d.stage.name, d.status, d.amount, d.currency,
         str(d.expected_close), d.owner.username, who(d, "contact"), who(d, "company"),
         d.loss_reason.name if d.loss_reason else None, d.loss_note)
        for d in Deal.objects.select_related("pipeline", "stage", "owner", "contact", "company",
                                             "loss_reason")
    )  # fmt: skip
    orders = sorted(
        (o.number, o.ordered_at.isoformat(), o.status, o.channel, o.currency, o.note,
         o.owner.username, who(o, "contact"), who(o, "company"), o.subtotal, o.discount_total,
         o.tax_total, o.total, o.revenue_company, o.cost_company, o.margin_company,
         tuple(o.lines.order_by("position", "id").values_list(
             "product__sku", "description", "quantity", "price", "discount", "tax_rate", "net",
             "cost")))
        for o in Order.objects.select_related("owner", "contact", "company")
    )  # fmt: skip
    timeline = sorted(
        (i.kind, i.subject, i.occurred_at.isoformat() if i.kind == "purchase" else "",
         i.contact.email if i.contact else None)
        for i in Interaction.objects.select_related("contact")
        if i.related_type in {"order", ""} and i.kind in {"purchase", "call"}
    )  # fmt: skip
    return {
        "products": products,
        "prices": prices,
        "price_lists": price_lists,
        "rates": rates,
        "stages": stages,
        "leads": leads,
        "deals": deals,
        "orders": orders,
        "timeline": timeline,
    }


def test_full_export_round_trips_the_sales_data_into_an_empty_database(org, book):
    from kliento.sales.catalog.services import currency_rate_create

    PriceList.objects.create(name="Dealers", currency="USD", segment="dealers")
    currency_rate_create(
        user=org.admin, data={"currency": "USD", "rate": "90.5", "valid_from": "2020-01-01"}
    )
    partners = Pipeline.objects.create(name="Partners", position=1)
    Stage.objects.create(pipeline=partners, name="Intro", position=0, probability=15)
    retired = Product.objects.create(sku="OLD-1", name="Retired", cost=Decimal("5"))
    PriceListItem.objects.create(
        price_list=PriceList.objects.get(name="Base"), product=book.impl, price=Decimal("3000")
    )
    lead_create(
        user=org.admin,
        data={"first_name": "Ivan", "last_name": "Petrov", "company_name": "=Evil",
              "email": "ivan@lead.ru", "phone": "+79161234567", "message": "Call me",
              "campaign": "spring", "channel": "email", "owner_id": org.rep.pk,
              "tags": ["hot"]},
    )  # fmt: skip
    lead_create(
        user=org.admin,
        data={"first_name": "Olga", "email": "olga@lead.ru", "owner_id": org.other_rep.pk,
              "status": "qualified"},
    )  # fmt: skip
    gone = lead_create(
        user=org.admin, data={"first_name": "Petr", "email": "petr@lead.ru", "owner_id": org.rep.pk}
    ).lead
    lead_disqualify(user=org.admin, lead=gone, reason="no_budget", note="Next year")
    won_lead = lead_create(
        user=org.admin, data={"first_name": "Vera", "email": "vera@lead.ru", "owner_id": org.rep.pk}
    ).lead
    lead_convert(user=org.admin, lead=won_lead, data={"create_deal": False})
    _deal(org.admin, "Open one", stage="Proposal", owner=org.rep.pk, contact=book.anna.pk,
          company=book.acme.pk, amount="1500.50", expected_close="2030-12-31")  # fmt: skip
    won = _deal(org.admin, "Partner win", owner=org.other_rep.pk, company=book.acme.pk)
    deal_win(user=org.admin, deal=won)
    lost = _deal(org.admin, "Lost one", owner=org.rep.pk, contact=book.kazan.pk)
    deal_lose(user=org.admin, deal=lost, reason=LossReason.objects.get(), note="Too dear")
    _order(org.rep, {"contact": book.anna.pk},
           [(book.std, "2", "1000"), (book.impl, "1.5", "3000")],
           ordered_at="2024-03-01", note="First\nsecond line")  # fmt: skip
    _order(org.admin, {"company": book.acme.pk}, [(retired, "1", "10")], ordered_at="2024-04-02")
    _order(org.admin, {"contact": book.kazan.pk, "company": book.acme.pk},
           [(book.std, "3", "950")], ordered_at="2025-01-15", currency="USD",
           owner=org.other_rep.pk, price_list=PriceList.objects.get(name="Dealers").pk)  # fmt: skip
    order = Order.objects.get(ordered_at__year=2024, contact=book.anna)
    from kliento.sales.orders.services import order_set_status

    order_set_status(user=org.admin, order=order, status="paid")
    Product.objects.filter(pk=retired.pk).update(active=False)
    customer_services.interaction_create(
        user=org.rep, data={"kind": "call", "subject": "Hello", "contact_id": book.anna.pk}
    )
    before = _sales_snapshot()
    assert len(before["orders"]) == 3 and len(before["deals"]) == 3
    assert [x[5] for x in before["leads"]] == ["new", "qualified", "disqualified", "converted"]

    out = io.BytesIO()
    counts = exports.full_export_write(out, user=org.admin)
    assert (counts["sales/order_lines.csv"], counts["sales/deals.csv"]) == (4, 3)
    archive = zipfile.ZipFile(io.BytesIO(out.getvalue()))
    interactions = archive.read("interactions.csv").decode()
    assert "Hello" in interactions and "purchase" not in interactions
    assert "'=Evil" in archive.read("sales/leads.csv").decode()

    # An empty database: the same users and teams, nothing else.
    for model in (
        Interaction, StageChange, OrderLine, Order, Deal, Lead, PriceListItem, PriceList,
        CurrencyRate, Product, Stage, Pipeline, LossReason, ContactCompany, Contact, Company,
        SearchEntry, ExternalRef,
    ):  # fmt: skip
        model.objects.all().delete()

    jobs = services.full_import_create(user=org.admin, stream=io.BytesIO(out.getvalue()))
    assert [j.entity for j in jobs][-6:] == [
        "products", "products", "leads", "deals", "orders", "products"
    ]  # fmt: skip
    for job in jobs:
        finished = import_run(job_id=job.pk)
        assert (finished.status, finished.failed) == ("done", 0), (
            job.file_name,
            list(finished.row_errors.values("row", "reasons")),
        )
    assert _sales_snapshot() == before

    # Reading the same export again changes none of the sales records: the order whose line
    # names the product retired since (inactive by the end of the first run) keeps it.
    for job in services.full_import_create(user=org.admin, stream=io.BytesIO(out.getvalue())):
        finished = import_run(job_id=job.pk)
        assert finished.failed == 0, (
            job.file_name,
            list(finished.row_errors.values("row", "reasons")),
        )
        if job.entity in {"deals", "leads", "orders"}:
            assert (finished.created, finished.updated) == (0, 0), job.file_name
    assert _sales_snapshot() == before


def _restore(data: bytes, user) -> dict[str, ImportJob]:
    """Read a full export back as an administrator does; the last job of each entity."""
    jobs = {}
    for job in services.full_import_create(user=user, stream=io.BytesIO(data)):
        jobs[job.entity] = import_run(job_id=job.pk)
    return jobs


def test_restoring_orders_keeps_the_lines_of_products_no_longer_sold(org, book):
    _order(org.rep, {"contact": book.anna.pk}, [(book.std, "2", "1000"), (book.impl, "1", "50")],
           ordered_at="2024-03-01")  # fmt: skip
    Product.objects.filter(pk=book.impl.pk).update(active=False)
    before = _sales_snapshot()["orders"]
    out = io.BytesIO()
    exports.full_export_write(out, user=org.admin)
    Interaction.objects.filter(related_type="order").delete()
    Order.objects.all().delete()

    jobs = _restore(out.getvalue(), org.admin)

    orders = jobs["orders"]
    assert (orders.created, orders.failed) == (2, 0), list(orders.row_errors.values("reasons"))
    assert _sales_snapshot()["orders"] == before
    assert Product.objects.get(pk=book.impl.pk).active is False


def test_closed_leads_are_restored_from_a_full_export_but_refused_in_a_leads_file(
    org, login, book, run_import
):
    gone = lead_create(
        user=org.admin, data={"first_name": "Petr", "email": "petr@lead.ru", "owner_id": org.rep.pk}
    ).lead
    lead_disqualify(user=org.admin, lead=gone, reason="no_budget", note="Next year")
    won = lead_create(
        user=org.admin, data={"first_name": "Vera", "email": "vera@lead.ru", "owner_id": org.rep.pk}
    ).lead
    lead_convert(user=org.admin, lead=won, data={"create_deal": False})
    listed = _csv(login(org.admin).get("/data/export/leads/?go=1&sort=name"))
    out = io.BytesIO()
    exports.full_export_write(out, user=org.admin)
    Lead.objects.all().delete()

    leads = _restore(out.getvalue(), org.admin)["leads"]

    assert (leads.created, leads.failed) == (2, 0), list(leads.row_errors.values("reasons"))
    # Vera's email is her contact's now: the converted lead is restored, not attached to it.
    assert sorted(Lead.objects.values_list("first_name", "status", "owner__username")) == [
        ("Petr", "disqualified", "rep"),
        ("Vera", "converted", "rep"),
    ]
    again = _restore(out.getvalue(), org.admin)["leads"]
    assert (again.created, again.updated, again.skipped, again.failed) == (0, 0, 2, 0)

    # The leads list, read back as an ordinary file: closing a lead is done in Kliento.
    data = "\n".join(",".join(f'"{c}"' for c in r) for r in listed).encode()
    job = run_import(data, entity="leads", options={"date_format": "ymd"})
    refusal = "An import sets new, working or qualified; convert or disqualify the lead in Kliento."
    assert [e.reasons for e in job.row_errors.order_by("row")] == [
        {"Status": refusal},
        {"Status": refusal},
    ]
    assert Lead.objects.count() == 2


@pytest.mark.skipif(
    not {"created_at", "disqualify_reason", "disqualify_note", "converted_at"} <= set(LEAD_FIELDS),
    reason="the lead import fields (fields.LEAD_FIELDS) have no dates or disqualification yet",
)
def test_a_restored_lead_keeps_its_dates_and_disqualification_reason(org, book, run_import):
    gone = lead_create(
        user=org.admin, data={"first_name": "Petr", "email": "petr@lead.ru", "owner_id": org.rep.pk}
    ).lead
    lead_disqualify(user=org.admin, lead=gone, reason="no_budget", note="Next year")
    won = lead_create(user=org.admin, data={"first_name": "Vera", "email": "vera@lead.ru"}).lead
    lead_convert(user=org.admin, lead=won, data={"create_deal": False})
    Lead.objects.filter(pk=gone.pk).update(created_at="2023-05-06T07:08:09+00:00")
    fields = ["first_name", "status", "disqualify_reason", "disqualify_note", "created_at",
              "converted_at"]  # fmt: skip
    before = sorted(Lead.objects.values_list(*fields))
    out = io.BytesIO()
    exports.full_export_write(out, user=org.admin)
    Lead.objects.all().delete()

    leads = _restore(out.getvalue(), org.admin)["leads"]

    assert (leads.created, leads.failed) == (2, 0), list(leads.row_errors.values("reasons"))
    assert sorted(Lead.objects.values_list(*fields)) == before
    # An ordinary file gives the created date, not a disqualification.
    rows = [["Email", "Created", "Disqualification reason"],
            ["new@lead.ru", "2022-01-02 10:00", ""],
            ["bad@lead.ru", "", "no_budget"]]  # fmt: skip
    job = run_import(csv_bytes(rows), entity="leads", options={"date_format": "ymd"})
    assert (job.created, job.failed) == (1, 1)
    assert Lead.objects.get(email="new@lead.ru").created_at.date().isoformat() == "2022-01-02"
    assert [e.reasons for e in job.row_errors.all()] == [
        {"Disqualification reason": (
            "Set when a lead is converted or disqualified in Kliento, not by an import."
        )}
    ]  # fmt: skip


def test_an_orders_list_read_back_into_the_same_database_duplicates_nothing(
    org, login, book, run_import
):
    _order(org.rep, {"contact": book.anna.pk}, [(book.std, "2", "1000"), (book.impl, "3", "3000")])
    _order(org.rep, {"company": book.acme.pk}, [(book.std, "1", "999.99")])
    before = _sales_snapshot()["orders"]
    rows = _csv(login(org.rep).get("/data/export/orders/?go=1&sort=date"))
    data = "\n".join(",".join(f'"{c}"' for c in r) for r in rows).encode()

    job = run_import(data, entity="orders", user=org.rep, options={"date_format": "ymd"})

    assert (job.created, job.updated, job.skipped, job.failed) == (0, 0, 3, 0), list(
        job.row_errors.values("row", "reasons")
    )
    assert _sales_snapshot()["orders"] == before
    # Matched by their numbers once; from now on by the stored external ids.
    numbers = sorted(Order.objects.values_list("number", "id"))
    assert (
        sorted(ExternalRef.objects.filter(entity="order").values_list("external_id", "object_id"))
        == numbers
    )
    again = run_import(data, entity="orders", user=org.rep, options={"date_format": "ymd"})
    assert (again.created, again.updated, again.skipped) == (0, 0, 3)
