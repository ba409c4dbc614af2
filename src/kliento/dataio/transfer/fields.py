"""What a column can mean: the importable fields of each entity, header guessing (English and
Russian), and reading cell values (dates by locale, decimals with comma or point)."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation

from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kliento.core.models import CustomField

# field → (label, header spellings it is guessed from; compared after _norm_header)
CONTACT_FIELDS: dict[str, tuple] = {
    "external_id": (
        gettext_lazy("External id"),
        [
            "external id",
            "externalid",
            "ext id",
            "id",
            "внешний id",
            "внешний идентификатор",
            "код",
            "идентификатор",
            "kliento id",
        ],
    ),
    "full_name": (
        gettext_lazy("Full name"),
        [
            "full name",
            "name",
            "contact",
            "contact name",
            "фио",
            "ф и о",
            "имя полностью",
            "контакт",
            "полное имя",
        ],
    ),
    "last_name": (
        gettext_lazy("Last name"),
        ["last name", "lastname", "surname", "family name", "фамилия"],
    ),
    "first_name": (gettext_lazy("First name"), ["first name", "firstname", "given name", "имя"]),
    "middle_name": (gettext_lazy("Middle name"), ["middle name", "patronymic", "отчество"]),
    "email": (
        gettext_lazy("Email"),
        [
            "email",
            "e mail",
            "emails",
            "email address",
            "mail",
            "почта",
            "электронная почта",
            "адрес электронной почты",
            "емейл",
            "e mail address",
            "эл почта",
            "эл адрес",
        ],
    ),
    "phone": (
        gettext_lazy("Phone"),
        [
            "phone",
            "phones",
            "telephone",
            "mobile",
            "phone number",
            "tel",
            "телефон",
            "телефоны",
            "мобильный",
            "мобильный телефон",
            "номер телефона",
            "тел",
        ],
    ),
    "birth_date": (
        gettext_lazy("Birth date"),
        [
            "birth date",
            "birthdate",
            "date of birth",
            "birthday",
            "dob",
            "дата рождения",
            "день рождения",
        ],
    ),
    "gender": (gettext_lazy("Gender"), ["gender", "sex", "пол"]),
    "language": (gettext_lazy("Language"), ["language", "язык"]),
    "country": (gettext_lazy("Country"), ["country", "country code", "страна"]),
    "region": (gettext_lazy("Region"), ["region", "state", "province", "регион", "область"]),
    "city": (gettext_lazy("City"), ["city", "town", "город", "населенный пункт"]),
    "tags": (gettext_lazy("Tags"), ["tags", "tag", "labels", "теги", "метки"]),
    "lifecycle_stage": (
        gettext_lazy("Lifecycle stage"),
        ["lifecycle stage", "stage", "status", "стадия", "этап", "статус"],
    ),
    "preferred_channel": (
        gettext_lazy("Preferred channel"),
        ["preferred channel", "channel", "предпочтительный канал", "канал"],
    ),
    "preferences": (
        gettext_lazy("Preferences"),
        [
            "preferences",
            "notes",
            "note",
            "comment",
            "предпочтения",
            "примечание",
            "комментарий",
            "заметки",
        ],
    ),
    "owner": (
        gettext_lazy("Owner (username or email)"),
        ["owner", "responsible", "manager", "assigned to", "ответственный", "владелец", "менеджер"],
    ),
    "company": (
        gettext_lazy("Company name"),
        [
            "company",
            "company name",
            "organization",
            "organisation",
            "account",
            "компания",
            "организация",
            "название компании",
            "фирма",
        ],
    ),
    "company_external_id": (
        gettext_lazy("Company external id"),
        ["company id", "company external id", "id компании"],
    ),
    "company_tax_id": (
        gettext_lazy("Company tax id"),
        ["company tax id", "инн компании", "инн организации"],
    ),
    "job_title": (gettext_lazy("Job title"), ["job title", "title", "position", "должность"]),
    "created_at": (
        gettext_lazy("Created"),
        ["created", "created at", "created_at", "создан", "дата создания"],
    ),
}
COMPANY_FIELDS: dict[str, tuple] = {
    "external_id": CONTACT_FIELDS["external_id"],
    "name": (
        gettext_lazy("Name"),
        [
            "name",
            "company",
            "company name",
            "organization",
            "organisation",
            "account",
            "название",
            "компания",
            "организация",
            "наименование",
            "название компании",
        ],
    ),
    "legal_name": (
        gettext_lazy("Legal name"),
        [
            "legal name",
            "full legal name",
            "юридическое название",
            "полное наименование",
            "юридическое наименование",
        ],
    ),
    "tax_id": (gettext_lazy("Tax id"), ["tax id", "inn", "vat", "vat id", "vat number", "инн"]),
    "industry": (gettext_lazy("Industry"), ["industry", "sector", "отрасль", "сфера"]),
    "size": (
        gettext_lazy("Size"),
        ["size", "employees", "company size", "размер", "сотрудников", "численность"],
    ),
    "country": CONTACT_FIELDS["country"],
    "region": CONTACT_FIELDS["region"],
    "city": CONTACT_FIELDS["city"],
    "address": (
        gettext_lazy("Address"),
        ["address", "street address", "адрес", "юридический адрес"],
    ),
    "postal_address": (
        gettext_lazy("Postal address"),
        ["postal address", "mailing address", "почтовый адрес"],
    ),
    "website": (
        gettext_lazy("Website"),
        ["website", "web site", "site", "url", "www", "сайт", "веб сайт"],
    ),
    "email": CONTACT_FIELDS["email"],
    "phone": CONTACT_FIELDS["phone"],
    "tags": CONTACT_FIELDS["tags"],
    "owner": CONTACT_FIELDS["owner"],
    "created_at": CONTACT_FIELDS["created_at"],
}
INTERACTION_FIELDS: dict[str, tuple] = {
    "external_id": CONTACT_FIELDS["external_id"],
    "kind": (gettext_lazy("Kind"), ["kind", "type", "activity type", "тип", "вид"]),
    "channel": (gettext_lazy("Channel"), ["channel", "канал"]),
    "direction": (gettext_lazy("Direction"), ["direction", "направление"]),
    "occurred_at": (
        gettext_lazy("When"),
        [
            "when",
            "date",
            "occurred at",
            "occurred_at",
            "datetime",
            "date time",
            "дата",
            "когда",
            "дата и время",
        ],
    ),
    "subject": (gettext_lazy("Subject"), ["subject", "title", "тема", "заголовок"]),
    "body": (
        gettext_lazy("Details"),
        [
            "body",
            "details",
            "description",
            "text",
            "notes",
            "описание",
            "текст",
            "подробности",
            "содержание",
        ],
    ),
    "outcome": (gettext_lazy("Outcome"), ["outcome", "result", "результат", "итог"]),
    "duration_seconds": (
        gettext_lazy("Duration (seconds)"),
        ["duration", "duration seconds", "duration_seconds", "длительность", "продолжительность"],
    ),
    "contact_external_id": (
        gettext_lazy("Contact external id"),
        ["contact id", "contact external id", "contact_id", "id контакта"],
    ),
    "contact_email": (
        gettext_lazy("Contact email"),
        ["contact email", "email", "e mail", "почта", "email контакта"],
    ),
    "company_external_id": (
        gettext_lazy("Company external id"),
        ["company id", "company external id", "company_id", "id компании"],
    ),
    "user": (
        gettext_lazy("User (username)"),
        ["user", "author", "employee", "сотрудник", "автор", "пользователь"],
    ),
}
LINK_FIELDS: dict[str, tuple] = {
    "contact_external_id": INTERACTION_FIELDS["contact_external_id"],
    "company_external_id": INTERACTION_FIELDS["company_external_id"],
    "role": (gettext_lazy("Role"), ["role", "роль"]),
    "job_title": CONTACT_FIELDS["job_title"],
    "is_primary": (gettext_lazy("Primary"), ["is primary", "is_primary", "primary", "основная"]),
}
CONSENT_FIELDS: dict[str, tuple] = {
    "contact_external_id": INTERACTION_FIELDS["contact_external_id"],
    "channel": INTERACTION_FIELDS["channel"],
    "status": (gettext_lazy("Status"), ["status", "статус"]),
    "at": (gettext_lazy("When"), ["at", "when", "date", "дата"]),
    "source": (gettext_lazy("Source"), ["source", "источник"]),
}
# --- the sales entities (handlers in sales_import.py) ---------------------------------------

_CONTACT_EMAIL = INTERACTION_FIELDS["contact_email"]
_CONTACT_EXT = INTERACTION_FIELDS["contact_external_id"]
_COMPANY_EXT = INTERACTION_FIELDS["company_external_id"]
_CURRENCY = (gettext_lazy("Currency"), ["currency", "currency code", "валюта", "код валюты"])
_CUSTOMER_COMPANY = (
    gettext_lazy("Company name"),
    [
        "company",
        "company name",
        "account",
        "organization",
        "organisation",
        "customer",
        "client",
        "компания",
        "организация",
        "название компании",
        "клиент",
        "покупатель",
    ],
)
PRODUCT_FIELDS: dict[str, tuple] = {
    "sku": (
        gettext_lazy("SKU"),
        [
            "sku",
            "article",
            "item code",
            "product code",
            "code",
            "артикул",
            "код товара",
            "код",
        ],
    ),
    "name": (
        gettext_lazy("Name"),
        [
            "name",
            "product",
            "product name",
            "item",
            "title",
            "название",
            "наименование",
            "товар",
            "название товара",
            "наименование товара",
        ],
    ),
    "category": (gettext_lazy("Category"), ["category", "group", "категория", "группа"]),
    "unit": (
        gettext_lazy("Unit"),
        ["unit", "uom", "unit of measure", "единица", "ед изм", "единица измерения"],
    ),
    "description": (gettext_lazy("Description"), ["description", "описание"]),
    "cost": (
        gettext_lazy("Cost"),
        ["cost", "unit cost", "purchase price", "себестоимость", "закупочная цена"],
    ),
    "tax_rate": (
        gettext_lazy("Tax rate, %"),
        ["tax rate", "tax", "vat", "vat rate", "ндс", "ставка ндс", "налог"],
    ),
    "active": (
        gettext_lazy("Active"),
        ["active", "is active", "enabled", "on sale", "активен", "активный", "в продаже"],
    ),
    "price": (
        gettext_lazy("Price"),
        ["price", "list price", "sale price", "цена", "цена продажи"],
    ),
    "price_list": (
        gettext_lazy("Price list"),
        ["price list", "pricelist", "прайс лист", "прайслист", "прайс"],
    ),
}
LEAD_FIELDS: dict[str, tuple] = {
    "external_id": CONTACT_FIELDS["external_id"],
    "full_name": (
        gettext_lazy("Full name"),
        ["full name", "name", "contact name", "lead", "фио", "имя полностью", "полное имя", "лид"],
    ),
    "last_name": CONTACT_FIELDS["last_name"],
    "first_name": CONTACT_FIELDS["first_name"],
    "company_name": (
        gettext_lazy("Company name"),
        [
            "company",
            "company name",
            "organization",
            "organisation",
            "account",
            "компания",
            "организация",
            "название компании",
        ],
    ),
    "job_title": CONTACT_FIELDS["job_title"],
    "email": CONTACT_FIELDS["email"],
    "phone": CONTACT_FIELDS["phone"],
    "country": CONTACT_FIELDS["country"],
    "region": CONTACT_FIELDS["region"],
    "city": CONTACT_FIELDS["city"],
    "website": COMPANY_FIELDS["website"],
    "message": (
        gettext_lazy("Message"),
        ["message", "comment", "note", "notes", "сообщение", "комментарий", "примечание"],
    ),
    "source": (
        gettext_lazy("Source"),
        ["source", "lead source", "источник", "источник лида"],
    ),
    "channel": (gettext_lazy("Channel"), ["channel", "канал"]),
    "campaign": (gettext_lazy("Campaign"), ["campaign", "кампания", "рекламная кампания"]),
    "utm_source": ("utm_source", ["utm source", "метка utm source"]),
    "utm_medium": ("utm_medium", ["utm medium", "метка utm medium"]),
    "utm_campaign": ("utm_campaign", ["utm campaign", "метка utm campaign"]),
    "utm_term": ("utm_term", ["utm term", "метка utm term"]),
    "utm_content": ("utm_content", ["utm content", "метка utm content"]),
    "referrer": (gettext_lazy("Referrer"), ["referrer", "referer", "реферер"]),
    "owner": CONTACT_FIELDS["owner"],
    "status": (gettext_lazy("Status"), ["status", "lead status", "статус", "статус лида"]),
    "tags": CONTACT_FIELDS["tags"],
    "created_at": (
        gettext_lazy("Created"),
        ["created", "created at", "date created", "создан", "дата создания"],
    ),
    "disqualify_reason": (
        gettext_lazy("Disqualification reason"),
        ["disqualification reason", "disqualify reason", "причина дисквалификации"],
    ),
    "disqualify_note": (
        gettext_lazy("Disqualification note"),
        ["disqualification note", "disqualify note", "комментарий к дисквалификации"],
    ),
    "converted_at": (
        gettext_lazy("Converted on"),
        ["converted", "converted at", "converted on", "дата конверсии"],
    ),
}
DEAL_FIELDS: dict[str, tuple] = {
    "external_id": CONTACT_FIELDS["external_id"],
    "name": (
        gettext_lazy("Deal name"),
        ["name", "deal", "deal name", "title", "сделка", "название", "название сделки"],
    ),
    "pipeline": (gettext_lazy("Pipeline"), ["pipeline", "воронка", "воронка продаж"]),
    "stage": (
        gettext_lazy("Stage"),
        ["stage", "deal stage", "этап", "стадия", "этап сделки"],
    ),
    "amount": (
        gettext_lazy("Amount"),
        ["amount", "value", "deal value", "deal amount", "sum", "сумма", "бюджет", "сумма сделки"],
    ),
    "currency": _CURRENCY,
    "expected_close": (
        gettext_lazy("Expected close date"),
        [
            "expected close",
            "expected close date",
            "close date",
            "closing date",
            "дата закрытия",
            "ожидаемая дата закрытия",
            "плановая дата закрытия",
        ],
    ),
    "owner": CONTACT_FIELDS["owner"],
    "company": _CUSTOMER_COMPANY,
    "company_external_id": _COMPANY_EXT,
    "contact_external_id": _CONTACT_EXT,
    "contact_email": _CONTACT_EMAIL,
    "status": (gettext_lazy("Status (open, won, lost)"), ["status", "deal status", "статус"]),
    "loss_reason": (
        gettext_lazy("Loss reason"),
        ["loss reason", "lost reason", "reason", "причина проигрыша", "причина"],
    ),
    "loss_note": (
        gettext_lazy("Loss note"),
        ["loss note", "loss comment", "комментарий к проигрышу"],
    ),
    "source": (gettext_lazy("Source"), ["source", "источник"]),
    # The real dates of a deal brought over from another CRM (set when it is created or closed
    # by the import), so its age and the sales cycle are right.
    "created_at": (
        gettext_lazy("Created"),
        ["created", "created at", "date created", "создан", "создана", "дата создания"],
    ),
    "closed_at": (
        gettext_lazy("Closed on (won or lost)"),
        [
            "closed",
            "closed at",
            "closed on",
            "date closed",
            "закрыта",
            "дата закрытия сделки",
            "фактическая дата закрытия",
        ],
    ),
}
ORDER_FIELDS: dict[str, tuple] = {
    "external_id": (
        gettext_lazy("Order number / external id"),
        [
            "order",
            "order number",
            "order no",
            "order id",
            "number",
            "external id",
            "id",
            "заказ",
            "номер заказа",
            "номер",
            "id заказа",
        ],
    ),
    "ordered_at": (
        gettext_lazy("Order date"),
        ["date", "order date", "ordered at", "ordered_at", "дата", "дата заказа"],
    ),
    "status": (
        gettext_lazy("Status"),
        ["status", "order status", "статус", "статус заказа"],
    ),
    "channel": (gettext_lazy("Channel"), ["channel", "sales channel", "канал", "канал продаж"]),
    "currency": _CURRENCY,
    "contact_external_id": _CONTACT_EXT,
    "contact_email": _CONTACT_EMAIL,
    "company_external_id": _COMPANY_EXT,
    "company": _CUSTOMER_COMPANY,
    "owner": CONTACT_FIELDS["owner"],
    "sku": (
        gettext_lazy("Product SKU"),
        ["sku", "product sku", "product", "article", "product code", "артикул", "код товара"],
    ),
    "quantity": (
        gettext_lazy("Quantity"),
        ["quantity", "qty", "count", "количество", "кол во"],
    ),
    "price": (gettext_lazy("Price"), ["price", "unit price", "цена", "цена за единицу"]),
    "discount": (
        gettext_lazy("Discount (amount, or percent with %)"),
        ["discount", "line discount", "скидка"],
    ),
    "cost": (
        gettext_lazy("Unit cost"),
        ["cost", "unit cost", "себестоимость"],
    ),
    "note": (gettext_lazy("Note"), ["note", "comment", "примечание", "комментарий"]),
}
ENTITY_FIELDS = {
    "contacts": CONTACT_FIELDS,
    "companies": COMPANY_FIELDS,
    "interactions": INTERACTION_FIELDS,
    "links": LINK_FIELDS,
    "consents": CONSENT_FIELDS,
    "leads": LEAD_FIELDS,
    "deals": DEAL_FIELDS,
    "products": PRODUCT_FIELDS,
    "orders": ORDER_FIELDS,
}
CUSTOM_ENTITY = {"contacts": "contact", "companies": "company"}


def _norm_header(text: str) -> str:
    text = (text or "").strip().lower().replace("ё", "е")
    text = re.sub(r"[\s_\-./:*()#№]+", " ", text)
    return text.strip()


def field_choices(entity: str) -> list[tuple[str, str]]:
    """(field, label) pairs a column may be mapped to, custom fields included."""
    choices = [(k, str(v[0])) for k, v in ENTITY_FIELDS[entity].items()]
    custom_entity = CUSTOM_ENTITY.get(entity)
    if custom_entity:
        choices += [
            (f"custom.{f.key}", "{} ({})".format(f.label, _("custom field")))
            for f in CustomField.objects.filter(entity=custom_entity)
        ]
    return choices


def guess_mapping(entity: str, headers: list[str]) -> dict[str, str]:
    """Header → field for every header recognised; each field is used at most once."""
    spellings: dict[str, str] = {}
    for field, (label, variants) in ENTITY_FIELDS[entity].items():
        for variant in [field, str(label), *variants]:
            spellings.setdefault(_norm_header(variant), field)
    custom_entity = CUSTOM_ENTITY.get(entity)
    if custom_entity:
        for f in CustomField.objects.filter(entity=custom_entity):
            for variant in (f.key, f.label, f"custom.{f.key}"):
                spellings.setdefault(_norm_header(variant), f"custom.{f.key}")
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for header in headers:
        field = spellings.get(_norm_header(header))
        if field and field not in used:
            mapping[header] = field
            used.add(field)
    # "Name" alone next to separate first/last name columns is the full name only if neither
    # of them is present.
    if {"first_name", "last_name"} & used and "full_name" in used:
        mapping = {h: f for h, f in mapping.items() if f != "full_name"}
    return mapping


# --- reading values -----------------------------------------------------------------------

DATE_FORMATS = {
    # locale key → order of day, month, year for ambiguous slashed/dotted dates
    "dmy": ("d", "m", "y"),
    "mdy": ("m", "d", "y"),
    "ymd": ("y", "m", "d"),
}
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2}))?)?")
_PARTS = re.compile(
    r"^(\d{1,4})[./\-](\d{1,2})[./\-](\d{1,4})(?:[ T,]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?$"
)


class ValueProblem(ValueError):
    pass


def parse_datetime_value(raw, date_format: str = "dmy") -> datetime | date | None:
    """A date or date-time from '31.12.2024', '2024-12-31', '12/31/2024' (by `date_format`)."""
    if raw in (None, ""):
        return None
    if isinstance(raw, datetime | date):
        return raw
    text = str(raw).strip()
    if not text:
        return None
    if "T" in text or "+" in text[10:] or text.endswith("Z"):
        try:
            full = parse_datetime(text)
        except ValueError:
            full = None
        if full is not None:
            return full
    match = _ISO.match(text)
    if match and match.end() >= len(text) - 6:  # allow a trailing zone like +03:00 or Z
        y, m, d = int(match[1]), int(match[2]), int(match[3])
        clock = match.groups()[3:]
    else:
        match = _PARTS.match(text)
        if not match:
            raise ValueProblem(_("Not a date: %(value)s.") % {"value": repr(text)})
        a, b, c = match[1], match[2], match[3]
        if len(a) == 4:
            order = ("y", "m", "d")
        elif "." in text[: len(a) + 1]:
            order = ("d", "m", "y")  # dotted dates are day-first everywhere
        else:
            order = DATE_FORMATS.get(date_format, DATE_FORMATS["dmy"])
        parts = dict(zip(order, (int(a), int(b), int(c)), strict=True))
        y, m, d = parts["y"], parts["m"], parts["d"]
        if y < 100:
            y += 2000 if y < 50 else 1900
        clock = match.groups()[3:]
    try:
        day = date(y, m, d)
    except ValueError as exc:
        raise ValueProblem(_("Not a date: %(value)s.") % {"value": repr(text)}) from exc
    if clock[0] is None:
        return day
    try:
        return datetime.combine(day, time(int(clock[0]), int(clock[1]), int(clock[2] or 0)))
    except ValueError as exc:
        raise ValueProblem(_("Not a time: %(value)s.") % {"value": repr(text)}) from exc


def parse_date_value(raw, date_format: str = "dmy") -> date | None:
    value = parse_datetime_value(raw, date_format)
    return value.date() if isinstance(value, datetime) else value


def parse_decimal(raw, decimal: str = ".") -> Decimal | None:
    """'1 234,56' with decimal=',' or '1,234.56' with decimal='.' → Decimal('1234.56')."""
    if raw in (None, ""):
        return None
    if isinstance(raw, int | float | Decimal) and not isinstance(raw, bool):
        return Decimal(str(raw))
    text = str(raw).strip().replace("\u00a0", "").replace(" ", "").replace("'", "")
    # The other separator, if any, only groups thousands.
    text = text.replace(".", "").replace(",", ".") if decimal == "," else text.replace(",", "")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueProblem(_("Not a number: %(value)s.") % {"value": repr(str(raw))}) from None
    if not value.is_finite():
        raise ValueProblem(_("Not a number: %(value)s.") % {"value": repr(str(raw))})
    return value


def split_multi(raw: str) -> list[str]:
    """Several emails or phones in one cell, separated by commas, semicolons or new lines."""
    if raw and ";" not in raw and "," not in raw and "\n" not in raw:
        return [raw.strip()] if raw.strip() else []  # one value: the common case, no regex
    return [p.strip() for p in re.split(r"[;,\n]+", raw or "") if p.strip()]
