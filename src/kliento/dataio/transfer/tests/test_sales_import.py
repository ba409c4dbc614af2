"""Import of leads, deals, products and orders: happy path, bad rows, re-runs, dry runs."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from kliento.core.errors import PermissionDeniedError
from kliento.core.models import AuditLog
from kliento.customers.models import Interaction
from kliento.dataio.transfer import services
from kliento.dataio.transfer.fields import guess_mapping
from kliento.dataio.transfer.models import ImportJob
from kliento.dataio.transfer.tests.conftest import csv_bytes
from kliento.sales.catalog.models import PriceList, PriceListItem, Product
from kliento.sales.deals.models import Deal, LossReason, Pipeline, Stage, StageChange
from kliento.sales.leads.models import AssignmentRule, Lead, ScoringRule
from kliento.sales.orders.models import Order, OrderLine


@pytest.fixture
def sales(org, contact_factory, company_factory):
    """Two pipelines, a loss reason, a catalogue with a default price list, two customers."""
    main = Pipeline.objects.create(name="Sales", position=0, is_default=True)
    for i, name in enumerate(["Qualification", "Proposal", "Contract"]):
        Stage.objects.create(pipeline=main, name=name, position=i, probability=20 * (i + 1))
    partners = Pipeline.objects.create(name="Partners", position=1)
    Stage.objects.create(pipeline=partners, name="Intro", position=0)
    Stage.objects.create(pipeline=partners, name="Agreement", position=1)
    LossReason.objects.create(name="Price")
    std = Product.objects.create(
        sku="CRM-STD", name="CRM Standard", cost=Decimal("300"), tax_rate=Decimal("20")
    )
    Product.objects.create(
        sku="IMPL", name="Implementation", unit="h", cost=Decimal("900"), tax_rate=Decimal("20")
    )
    Product.objects.create(sku="OLD-1", name="Retired box", active=False)
    base = PriceList.objects.create(name="Base", currency="RUB", is_default=True)
    PriceListItem.objects.create(price_list=base, product=std, price=Decimal("1000"))
    anna = contact_factory(owner=org.rep, email="anna@example.com", emails=["anna@example.com"])
    acme = company_factory(owner=org.rep, name="Acme")
    return type("Sales", (), {"main": main, "partners": partners, "anna": anna, "acme": acme})


def _errors(job) -> dict[int, dict[str, str]]:
    return {e.row: e.reasons for e in job.row_errors.filter(kind="error")}


def _audits() -> int:
    return AuditLog.objects.exclude(entity="import").count()


# --- header guessing ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entity", "headers", "expected"),
    [
        (
            "products",
            ["Артикул", "Наименование", "Ед. изм.", "Себестоимость", "НДС", "Цена", "Прайс-лист"],
            ["sku", "name", "unit", "cost", "tax_rate", "price", "price_list"],
        ),
        (
            "leads",
            ["External id", "Name", "Company", "E-mail", "Phone", "utm_source", "Owner", "Status"],
            [
                "external_id",
                "full_name",
                "company_name",
                "email",
                "phone",
                "utm_source",
                "owner",
                "status",
            ],
        ),
        (
            "deals",
            ["Сделка", "Воронка", "Этап", "Сумма", "Валюта", "Дата закрытия", "Компания"],
            ["name", "pipeline", "stage", "amount", "currency", "expected_close", "company"],
        ),
        (
            "orders",
            ["Номер заказа", "Дата", "Артикул", "Кол-во", "Цена", "Скидка", "Email", "Статус"],
            [
                "external_id",
                "ordered_at",
                "sku",
                "quantity",
                "price",
                "discount",
                "contact_email",
                "status",
            ],
        ),
        (
            "orders",
            ["Order number", "Order date", "SKU", "Qty", "Unit price", "Unit cost", "Company"],
            ["external_id", "ordered_at", "sku", "quantity", "price", "cost", "company"],
        ),
    ],
)
def test_headers_are_guessed_in_english_and_russian(db, entity, headers, expected):
    assert guess_mapping(entity, headers) == dict(zip(headers, expected, strict=True))


# --- products -------------------------------------------------------------------------------

PRODUCTS = [
    ["Артикул", "Наименование", "Категория", "Ед. изм.", "Себестоимость", "НДС", "Цена", "Активен"],
    ["CRM-STD", "", "", "", "350", "", "1200", "да"],
    ["NEW-1", "Support plan", "Services", "mo", "100", "20", "500", ""],
    ["", "No SKU", "", "", "", "", "", ""],
    ["NEW-2", "Bad cost", "", "", "abc", "", "", ""],
    ["NEW-3", "Bad flag", "", "", "", "", "", "maybe"],
    ["new-1", "Twice", "", "", "", "", "", ""],
]


def test_products_are_created_or_updated_by_sku_with_their_price(run_import, org, sales):
    job = run_import(csv_bytes(PRODUCTS), entity="products")
    assert (job.created, job.updated, job.failed) == (1, 1, 4)
    assert _errors(job) == {
        4: {"Артикул": "Required: the SKU identifies the product."},
        5: {"Себестоимость": "Not a number: 'abc'."},
        6: {"Активен": "Write yes or no (1 or 0)."},
        7: {
            "Артикул": "'NEW-1' already appeared in row 3 of this file; this row was not imported."
        },
    }
    std = Product.objects.get(sku="CRM-STD")
    assert (std.name, std.cost, std.version) == ("CRM Standard", Decimal("350.00"), 2)
    new = Product.objects.get(sku="NEW-1")
    assert (new.name, new.category, new.unit, new.cost, new.tax_rate, new.active) == (
        "Support plan",
        "Services",
        "mo",
        Decimal("100.00"),
        Decimal("20.00"),
        True,
    )
    base = PriceList.objects.get(name="Base")
    assert dict(base.items.values_list("product__sku", "price")) == {
        "CRM-STD": Decimal("1200.00"),
        "NEW-1": Decimal("500.00"),
    }
    # Through the catalogue services: audited like manual entry.
    assert AuditLog.objects.filter(entity="product").count() == 2


def test_products_rerun_changes_nothing(run_import, org, sales):
    run_import(csv_bytes(PRODUCTS), entity="products")
    audits, versions = _audits(), dict(Product.objects.values_list("sku", "version"))
    job = run_import(csv_bytes(PRODUCTS), entity="products")
    assert (job.created, job.updated, job.skipped, job.failed) == (0, 0, 2, 4)
    assert dict(Product.objects.values_list("sku", "version")) == versions
    assert _audits() == audits


def test_products_dry_run_writes_nothing(run_import, org, sales):
    job = run_import(csv_bytes(PRODUCTS), entity="products", options={"dry_run": True})
    assert (job.created, job.updated, job.failed) == (1, 1, 4)
    assert Product.objects.get(sku="CRM-STD").cost == Decimal("300.00")
    assert not Product.objects.filter(sku="NEW-1").exists()


def test_unknown_price_list_is_a_row_error(run_import, org, sales):
    rows = [["SKU", "Name", "Price", "Price list"], ["P-1", "Thing", "10", "Dealers"]]
    job = run_import(csv_bytes(rows), entity="products")
    assert _errors(job) == {2: {"Price list": "No price list is named 'Dealers'."}}
    assert not Product.objects.filter(sku="P-1").exists()


def test_only_catalogue_editors_import_products(org, login):
    with pytest.raises(PermissionDeniedError):
        services.import_create(
            user=org.rep, entity="products", stream=io.BytesIO(b"SKU\nA\n"), file_name="p.csv"
        )
    rep_page = login(org.rep).get("/data/").content.decode()
    head_page = login(org.head).get("/data/").content.decode()
    for page in (rep_page, head_page):
        for value in ("leads", "deals", "orders"):
            assert f'<option value="{value}"' in page
    assert '<option value="products"' not in rep_page
    assert '<option value="products"' in head_page


# --- leads ----------------------------------------------------------------------------------

LEADS = [
    ["External id", "Name", "Company", "Email", "Phone", "Source", "City", "Owner", "Status"],
    ["L1", "Olga Smirnova", "Vostok", "OLGA@example.com", "", "", "Kazan", "", ""],
    ["L2", "Pavel Orlov", "", "", "8 916 555-44-33", "web_form", "", "rep_peer", "qualified"],
    ["", "Anna Known", "", "anna@example.com", "", "", "", "", ""],
    ["L4", "Bad Mail", "", "bad@", "", "", "", "", ""],
    ["", "No Key", "Somewhere", "", "", "", "", "", ""],
    ["L6", "Done Deal", "", "done@example.com", "", "", "", "", "converted"],
    ["", "", "", "olga@example.com", "", "", "", "", "working"],
]


def test_leads_go_through_the_lead_services(run_import, org, sales):
    AssignmentRule.objects.create(
        name="Kazan", kind="territory", cities=["Kazan"], user=org.other_rep, position=0
    )
    ScoringRule.objects.create(
        name="Has company", kind="field_filled", field="company_name", points=15
    )
    job = run_import(csv_bytes(LEADS), entity="leads")
    assert (job.created, job.updated, job.failed) == (2, 2, 3), _errors(job)
    assert _errors(job) == {
        5: {"Email": "Invalid email 'bad@': not a valid email address"},
        6: {
            "Email": "Give an external id, an email or a phone: without one, importing the file "
            "again would duplicate the lead."
        },
        7: {
            "Status": "An import sets new, working or qualified; convert or disqualify the lead "
            "in Kliento."
        },
    }
    olga = Lead.objects.get(email="olga@example.com")
    # Assigned by the rules (an imported lead), scored, and updated by the later row by email.
    assert (olga.first_name, olga.last_name, olga.source, olga.owner, olga.score) == (
        "Olga",
        "Smirnova",
        "import",
        org.other_rep,
        15,
    )
    assert (olga.status, olga.assigned_by_rule.name, olga.version) == ("working", "Kazan", 2)
    pavel = Lead.objects.get(phone="+79165554433")
    assert (pavel.owner, pavel.status, pavel.source) == (org.rep_peer, "qualified", "web_form")
    # A known contact's inquiry is on the contact's timeline, flagged in the report; no task.
    assert Lead.objects.count() == 2
    inquiry = Interaction.objects.get(contact=sales.anna)
    assert (inquiry.kind, inquiry.subject) == ("webform", "Inquiry from Anna Known")
    flagged = job.row_errors.get(kind="flagged")
    assert flagged.row == 4 and "already contact #" in flagged.reasons["Email"]
    assert not Interaction.objects.filter(kind="task").exists()


def test_leads_rerun_changes_nothing(run_import, org, sales):
    run_import(csv_bytes(LEADS), entity="leads")
    audits, interactions = _audits(), Interaction.objects.count()
    versions = dict(Lead.objects.values_list("id", "version"))
    job = run_import(csv_bytes(LEADS), entity="leads")
    assert (job.created, job.updated, job.skipped, job.failed) == (0, 0, 4, 3)
    assert dict(Lead.objects.values_list("id", "version")) == versions
    assert (_audits(), Interaction.objects.count()) == (audits, interactions)


def test_leads_dry_run_writes_nothing(run_import, org, sales):
    job = run_import(csv_bytes(LEADS), entity="leads", options={"dry_run": True})
    assert (job.created, job.failed) == (2, 3)
    assert (Lead.objects.count(), Interaction.objects.count()) == (0, 0)


def test_a_rep_cannot_update_someone_elses_lead(run_import, org, sales):
    Lead.objects.create(first_name="Theirs", email="x@example.com", owner=org.other_rep)
    rows = [["Email", "City"], ["x@example.com", "Omsk"]]
    job = run_import(csv_bytes(rows), entity="leads", user=org.rep)
    assert "which you may not change" in _errors(job)[2]["Email"]
    assert Lead.objects.get().city == ""


# --- deals ----------------------------------------------------------------------------------

DEALS = [
    ["Id", "Deal", "Pipeline", "Stage", "Amount", "Expected close", "Company", "Contact email",
     "Status", "Loss reason"],
    ["D1", "Acme renewal", "", "Proposal", "1500.50", "31.12.2030", "Acme", "anna@example.com",
     "", ""],
    ["D2", "Partner deal", "Partners", "Agreement", "700", "", "", "", "won", ""],
    ["D3", "Lost one", "", "", "100", "", "Acme", "", "lost", "price"],
    ["D4", "Wrong stage", "Sales", "Agreement", "1", "", "", "", "", ""],
    ["D5", "No reason", "", "", "1", "", "", "", "lost", ""],
    ["D6", "Ghost", "", "", "1", "", "Nobody Ltd", "", "", ""],
    ["D7", "No such pipe", "Retail", "", "1", "", "", "", "", ""],
]  # fmt: skip


def test_deals_go_through_the_deal_services(run_import, org, sales):
    job = run_import(csv_bytes(DEALS), entity="deals")
    assert (job.created, job.failed) == (3, 4), _errors(job)
    assert _errors(job) == {
        5: {"Stage": "The stage 'Agreement' is not in the pipeline Sales (it is in Partners)."},
        6: {"Loss reason": "Say why the deal was lost."},
        7: {"Company": "No company you can see has this name."},
        8: {"Pipeline": "No pipeline is named 'Retail'."},
    }
    d1, d2, d3 = (Deal.objects.get(name=n) for n in ("Acme renewal", "Partner deal", "Lost one"))
    assert (d1.pipeline, d1.stage.name, d1.amount, d1.amount_company, d1.status) == (
        sales.main,
        "Proposal",
        Decimal("1500.50"),
        Decimal("1500.50"),
        "open",
    )
    assert (d1.company, d1.contact, d1.owner, str(d1.expected_close)) == (
        sales.acme,
        sales.anna,
        org.admin,
        "2030-12-31",
    )
    assert (d2.pipeline, d2.stage.name, d2.status) == (sales.partners, "Agreement", "won")
    assert (d3.stage.name, d3.status, d3.loss_reason.name) == ("Qualification", "lost", "Price")
    # As by hand: the stage history and the customer's timeline.
    assert list(StageChange.objects.filter(deal=d2).values_list("status", flat=True)) == [
        "open",
        "won",
    ]
    assert Interaction.objects.filter(related_type="deal", related_id=d1.pk).count() == 1


def test_deals_rerun_changes_nothing_and_a_changed_file_moves_and_closes(run_import, org, sales):
    run_import(csv_bytes(DEALS), entity="deals")
    audits, versions = _audits(), dict(Deal.objects.values_list("id", "version"))
    job = run_import(csv_bytes(DEALS), entity="deals")
    assert (job.created, job.updated, job.skipped) == (0, 0, 3)
    assert (dict(Deal.objects.values_list("id", "version")), _audits()) == (versions, audits)

    # No pipeline column: each deal's stage is looked up in its own pipeline (D2: Partners).
    rows = [
        ["Id", "Stage", "Status"],
        ["D1", "Contract", "won"],
        ["D3", "", "open"],
        ["D2", "Intro", ""],
    ]
    job = run_import(csv_bytes(rows), entity="deals")
    assert (job.updated, job.failed) == (3, 0), _errors(job)
    d1, d2, d3 = (Deal.objects.get(name=n) for n in ("Acme renewal", "Partner deal", "Lost one"))
    assert (d1.stage.name, d1.status) == ("Contract", "won")
    assert (d3.status, d3.loss_reason) == ("open", None)
    assert (d2.pipeline, d2.stage.name, d2.status) == (sales.partners, "Intro", "won")


def test_deals_dry_run_writes_nothing(run_import, org, sales):
    job = run_import(csv_bytes(DEALS), entity="deals", options={"dry_run": True})
    assert (job.created, job.failed) == (3, 4)
    assert (Deal.objects.count(), StageChange.objects.count(), Interaction.objects.count()) == (
        0,
        0,
        0,
    )


# --- orders ---------------------------------------------------------------------------------

ORDERS = [
    ["Order", "Date", "Status", "Contact email", "Company", "SKU", "Qty", "Price", "Discount",
     "Cost"],
    ["A-1", "2025-03-01", "shipped", "anna@example.com", "", "CRM-STD", "2", "1000", "10%", ""],
    ["B-7", "2025-03-02", "", "", "Acme", "CRM-STD", "1", "1000", "", ""],
    ["A-1", "", "", "", "", "IMPL", "3", "3000", "500", "800"],
    ["C-1", "2025-03-03", "", "anna@example.com", "", "CRM-STD", "-1", "1000", "", ""],
    ["C-1", "", "", "", "", "IMPL", "1", "3000", "", ""],
    ["D-1", "2025-03-03", "", "anna@example.com", "", "OLD-1", "1", "10", "", ""],
    ["E-1", "2025-03-03", "", "", "", "IMPL", "1", "10", "", ""],
]  # fmt: skip


def test_orders_group_lines_and_compute_totals_like_manual_entry(run_import, org, sales):
    job = run_import(csv_bytes(ORDERS), entity="orders")
    assert (job.created, job.failed) == (3, 4), _errors(job)
    assert _errors(job) == {
        5: {"Qty": "The quantity must be greater than zero."},
        6: {"Order": "Not imported: row 5 of the same order has a problem."},
        7: {"SKU": "Retired box is no longer sold (inactive); choose another product."},
        8: {"Contact email": "Give the customer: a contact (external id or email) or a company."},
    }
    a1 = Order.objects.get(contact=sales.anna)
    assert (a1.status, a1.ordered_at.date().isoformat(), a1.number[:7]) == (
        "shipped",
        "2025-03-01",
        "O-2025-",
    )
    # 2 × 1000 − 10 % and 3 × 3000 − 500 at 20 % VAT; unit cost 300 (catalogue) and 800 (file).
    assert (
        a1.subtotal,
        a1.discount_total,
        a1.tax_total,
        a1.total,
        a1.revenue_company,
        a1.cost_company,
        a1.margin_company,
    ) == (
        Decimal("11000.00"),
        Decimal("700.00"),
        Decimal("2060.00"),
        Decimal("12360.00"),
        Decimal("10300.00"),
        Decimal("3000.00"),
        Decimal("7300.00"),
    )
    assert list(a1.lines.values_list("product__sku", "net", "tax", "cost")) == [
        ("CRM-STD", Decimal("1800.00"), Decimal("360.00"), Decimal("300.00")),
        ("IMPL", Decimal("8500.00"), Decimal("1700.00"), Decimal("800.00")),
    ]
    purchase = Interaction.objects.get(related_type="order", related_id=a1.pk)
    assert (purchase.kind, purchase.contact, purchase.occurred_at) == (
        "purchase",
        sales.anna,
        a1.ordered_at,
    )
    assert Order.objects.get(company=sales.acme).total == Decimal("1200.00")


def test_the_same_totals_as_an_order_entered_by_hand(run_import, org, sales):
    from kliento.sales.orders.services import order_create

    rows = [ORDERS[0], ["X-1", "", "", "anna@example.com", "", "CRM-STD", "3", "999.99", "7%", ""]]
    run_import(csv_bytes(rows), entity="orders")
    imported = Order.objects.get()
    manual = order_create(
        user=org.admin,
        data={
            "contact": sales.anna.pk,
            "lines": [
                {
                    "product": Product.objects.get(sku="CRM-STD").pk,
                    "quantity": "3",
                    "price": "999.99",
                    "discount_kind": "percent",
                    "discount_value": "7",
                }
            ],
        },
    )
    fields = ("subtotal", "discount_total", "tax_total", "total", "revenue_company")
    fields += ("cost_company", "margin_company")
    assert [getattr(imported, f) for f in fields] == [getattr(manual, f) for f in fields]


def test_orders_rerun_changes_nothing_and_a_changed_file_replaces_the_lines(run_import, org, sales):
    run_import(csv_bytes(ORDERS), entity="orders")
    audits, interactions = _audits(), Interaction.objects.count()
    state = list(OrderLine.objects.order_by("id").values_list("id", "order_id", "quantity"))
    versions = dict(Order.objects.values_list("id", "version"))
    # Batches of two rows: order A-1's lines arrive in two batches; the first replaces the
    # lines, the second adds to them, and the order ends up whole (written twice, though).
    job = run_import(csv_bytes(ORDERS), entity="orders", batch_size=2)
    assert (job.created, job.updated, job.skipped, job.failed) == (0, 2, 1, 4), _errors(job)
    job = run_import(csv_bytes(ORDERS), entity="orders")
    assert (job.created, job.updated, job.skipped, job.failed) == (0, 0, 3, 4)
    assert Order.objects.count() == 2
    assert [
        (o, q)
        for _i, o, q in OrderLine.objects.order_by("order_id", "position").values_list(
            "id", "order_id", "quantity"
        )
    ] == [(o, q) for _i, o, q in sorted(state, key=lambda s: (s[1], s[0]))]
    a1 = Order.objects.get(contact=sales.anna)
    assert a1.total == Decimal("12360.00")
    assert Interaction.objects.count() == interactions

    changed = [ORDERS[0], ORDERS[1], ORDERS[2]]  # A-1 without its IMPL line
    job = run_import(csv_bytes(changed), entity="orders")
    assert (job.updated, job.skipped) == (1, 1)
    a1.refresh_from_db()
    assert (a1.lines.count(), a1.total, a1.version) == (
        1,
        Decimal("2160.00"),
        versions[a1.pk] + 3,  # two writes by the split run, one by the changed file
    )
    purchase = Interaction.objects.get(related_type="order", related_id=a1.pk)
    assert purchase.subject.endswith("2\xa0160.00 RUB")
    assert _audits() > audits


def test_a_rerun_keeps_a_line_of_a_product_retired_since_but_sells_it_to_no_new_line(
    run_import, org, sales
):
    rows = [
        ["Order", "Date", "Contact email", "SKU", "Qty", "Price"],
        ["R-1", "2025-03-01", "anna@example.com", "CRM-STD", "1", "1000"],
        ["R-1", "", "", "IMPL", "2", "3000"],
        ["R-2", "2025-03-02", "anna@example.com", "CRM-STD", "1", "1000"],
    ]
    run_import(csv_bytes(rows), entity="orders")
    Product.objects.filter(sku="IMPL").update(active=False)
    versions = dict(Order.objects.values_list("id", "version"))

    job = run_import(csv_bytes(rows), entity="orders")

    assert (job.created, job.updated, job.skipped, job.failed) == (0, 0, 3, 0), _errors(job)
    assert dict(Order.objects.values_list("id", "version")) == versions
    # Another order (R-2, or a new one) may not get the product any more.
    more = [*rows, ["R-2", "", "", "IMPL", "1", "3000"], ["R-3", "", "anna@example.com", "IMPL",
                                                         "1", "3000"]]  # fmt: skip
    job = run_import(csv_bytes(more), entity="orders")
    refused = "Implementation is no longer sold (inactive); choose another product."
    assert _errors(job) == {
        4: {"Order": "Not imported: row 5 of the same order has a problem."},
        5: {"SKU": refused},
        6: {"SKU": refused},
    }
    assert dict(Order.objects.values_list("id", "version")) == versions


def test_orders_dry_run_writes_nothing(run_import, org, sales):
    job = run_import(csv_bytes(ORDERS), entity="orders", options={"dry_run": True})
    assert (job.created, job.failed) == (3, 4)
    assert (Order.objects.count(), OrderLine.objects.count(), Interaction.objects.count()) == (
        0,
        0,
        0,
    )


def test_order_error_report_downloads_like_the_others(org, login, sales):
    client = login(org.admin)
    response = client.post(
        "/data/imports/upload/",
        {"entity": "orders", "file": SimpleUploadedFile("orders.csv", csv_bytes(ORDERS))},
    )
    job = ImportJob.objects.get()
    assert response["Location"] == f"/data/imports/{job.pk}/mapping/"
    page = client.get(f"/data/imports/{job.pk}/mapping/").content.decode()
    assert '<option value="quantity" selected>' in page
    services.import_start(user=org.admin, job=job)
    from kliento.dataio.transfer.engine import import_run

    import_run(job_id=job.pk)
    report = client.get(f"/data/imports/{job.pk}/errors.csv")
    lines = b"".join(report.streaming_content).decode("utf-8-sig").splitlines()
    assert lines[0] == "Row,Problem,Reason," + ",".join(ORDERS[0])
    assert lines[1] == (
        "5,Not imported,Qty: The quantity must be greater than zero.,"
        "C-1,2025-03-03,,anna@example.com,,CRM-STD,'-1,1000,,"
    )


def test_products_through_the_api(org, api, sales, django_capture_on_commit_callbacks):
    payload = {"file": SimpleUploadedFile("p.csv", csv_bytes(PRODUCTS[:3])), "entity": "products"}
    assert api(org.rep).post("/api/v1/imports", data=payload).status_code == 403
    payload["file"].seek(0)
    with django_capture_on_commit_callbacks(execute=True):
        response = api(org.head).post("/api/v1/imports", data=payload)
    assert response.status_code == 201, response.content
    job = ImportJob.objects.get()
    assert (job.status, job.created, job.updated) == ("done", 1, 1)
