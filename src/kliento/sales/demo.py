"""The demo company's sales: catalogue, pipelines, leads, deals, quotes, orders and targets.

`build_sales_demo(seed=S)` runs after `kliento.customers.demo.build_demo` (the `kliento demo`
command calls both) and builds, deterministically from the seed and the loaded customers:

- reference data: the company's legal details, RUB/USD/EUR rates month by month over three
  years, ~200 products in categories with costs and VAT, four price lists (RUB base, USD export,
  a RUB dealer list and an expired EUR export list), discount limits per role, two pipelines
  with stages (win probability, expected days), loss reasons, two web forms, assignment and
  scoring rules;
- per contact (about 0.3 deals and 3 orders per contact): deals with their products, a complete
  stage history (each move with the seconds spent in the stage it left; won and lost closes),
  the leads that were converted into them, orders with 1–3 lines spread over three years
  (won deals become orders), and timeline interactions for the last weeks' stage changes and
  orders;
- leads that are not (yet) customers, in every status;
- a few hundred quotes with lines (sent, accepted, declined, waiting for approval);
- this year's sales targets: company → sales → teams → reps, by year, quarter and month,
  cascaded from last year's won deals, with reps' forecasts.

Money is exact: amounts are integer cents and rates integer millionths, rounded half up at
the same points as `kliento.sales.catalog.money.money()` would round the Decimal values and as
`kliento.sales.orders.services.compute_totals` does (a line's discount, its tax, its revenue
converted to the company currency; an order's totals are the sums of its lines').

Rows are generated per chunk of CHUNK contacts (in two forked processes for big loads) with
ids local to the chunk, shifted to their final values as they are written with executemany
(SQLite) or COPY (PostgreSQL). For big loads the secondary indexes and constraints of the big
sales tables are dropped first and rebuilt once at the end, like the customer loader does. On
SQLite the timeline entries are collected in a scratch table and added to the customers'
(indexed) timeline in one statement at the end.

At 1,000,000 contacts this makes ~300,000 deals and ~3,000,000 orders; the second pipeline
("Повторные продажи", BOARD_PIPELINE) holds more than 10,000 open deals (the kanban benchmark).
"""

from __future__ import annotations

import itertools
import json
import math
import multiprocessing
import random
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from kliento.core.errors import ConflictError
from kliento.core.models import AuditLog, OrgSettings, Role, Team, User
from kliento.customers.demo import (
    DEMO_EMAIL_DOMAIN,
    DEMO_ROOT_TEAM,
    EN_FEMALE,
    EN_LAST,
    EN_MALE,
    KAZAN_REGIONS,
    RU_FEMALE,
    RU_LAST,
    RU_MALE,
    female_surname,
    pg_drop_for_load,
    pg_restore_after_load,
    pg_sync_sequences,
    sqlite_drop_for_load,
    sqlite_restore_after_load,
    translit,
)
from kliento.customers.models import Company, Contact, ContactCompany, Interaction
from kliento.sales.catalog.models import (
    CurrencyRate,
    DiscountLimit,
    PriceList,
    PriceListItem,
    Product,
)
from kliento.sales.deals.models import Deal, DealProduct, LossReason, Pipeline, Stage, StageChange
from kliento.sales.leads.models import (
    AssignmentRule,
    CaptureHit,
    Lead,
    ScoringRule,
    WebForm,
)
from kliento.sales.orders import rollup
from kliento.sales.orders.models import Order, OrderLine, ProductMonth
from kliento.sales.plans.models import SalesTarget
from kliento.sales.quotes.models import Quote, QuoteApproval, QuoteLine

Log = Callable[[str], None]

CHUNK = 5000
BULK_THRESHOLD = 20_000  # contacts; below it indexes stay in place
YEARS_DAYS = 3 * 365
DAY = 86_400
BOARD_PIPELINE = "Повторные продажи"  # the pipeline the kanban benchmark opens
MAIN_PIPELINE = "Продажи"
QUOTES_MAX = 300
INTERACTION_DAYS = 45  # stage changes and orders this recent get a timeline entry
ORDER_PREFIX = "SO-"
QUOTE_PREFIX = "Q-"

# Per lifecycle stage: mean deals and mean orders per contact (≈ 0.3 and ≈ 3 overall).
DEALS_PER_CONTACT = {
    "customer": 0.5,
    "former": 0.4,
    "prospect": 0.5,
    "lead": 0.2,
    "subscriber": 0.02,
}
ORDERS_PER_CONTACT = {
    "customer": 8.4,
    "former": 6.0,
    "prospect": 1.0,
    "lead": 0.3,
    "subscriber": 0.1,
}


@dataclass
class SalesDemoResult:
    products: int = 0
    price_lists: int = 0
    pipelines: int = 0
    leads: int = 0
    deals: int = 0
    open_deals: int = 0
    stage_changes: int = 0
    deal_products: int = 0
    orders: int = 0
    order_lines: int = 0
    quotes: int = 0
    quote_lines: int = 0
    targets: int = 0
    interactions: int = 0
    board_pipeline_id: int | None = None
    board_open_deals: int = 0
    web_form_keys: list[str] = field(default_factory=list)
    seconds: float = 0.0


# --- columns -------------------------------------------------------------------------------

DEAL_COLS = (
    "id", "name", "pipeline_id", "stage_id", "status", "amount", "currency", "amount_company",
    "expected_close", "forecast_category", "contact_id", "company_id", "owner_id",
    "price_list_id", "competitors", "next_step", "next_step_at", "loss_reason_id", "loss_note",
    "stage_entered_at", "closed_at", "source", "tags", "custom", "version", "created_at",
    "updated_at",
)  # fmt: skip
DEAL_PRODUCT_COLS = ("id", "deal_id", "product_id", "quantity", "price")
STAGE_CHANGE_COLS = (
    "id", "deal_id", "pipeline_id", "from_stage_id", "to_stage_id", "status", "at",
    "seconds_in_from", "user_id",
)  # fmt: skip
ORDER_COLS = (
    "id", "number", "status", "ordered_at", "channel", "contact_id", "company_id", "owner_id",
    "deal_id", "quote_id", "price_list_id", "currency", "subtotal", "discount_total",
    "tax_total", "total", "revenue_company", "cost_company", "margin_company", "note",
    "version", "created_at", "updated_at",
)  # fmt: skip
LINE_COLS = (
    "id", "order_id", "position", "product_id", "description", "quantity", "price", "discount",
    "tax_rate", "tax", "net", "cost", "revenue_company",
)  # fmt: skip
LEAD_COLS = (
    "id", "first_name", "last_name", "company_name", "job_title", "email", "phone", "country",
    "region", "city", "website", "message", "status", "score", "source", "channel", "campaign",
    "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "referrer",
    "web_form_id", "owner_id", "contact_id", "company_id", "deal_id", "converted_at",
    "disqualify_reason", "disqualify_note", "assigned_by_rule_id", "tags", "custom", "version",
    "created_at", "updated_at",
)  # fmt: skip
INTERACTION_COLS = (
    "id", "kind", "channel", "direction", "occurred_at", "subject", "body", "outcome",
    "duration_seconds", "user_id", "contact_id", "company_id", "related_type", "related_id",
    "planned", "due_at", "assignee_id", "done", "done_at", "remind_at", "reminded_at", "version",
    "created_at", "updated_at",
)  # fmt: skip
QUOTE_COLS = (
    "id", "deal_id", "number", "revision", "status", "price_list_id", "currency", "language",
    "contact_id", "company_id", "owner_id", "issued_on", "valid_until", "terms",
    "discount_kind", "discount_value", "subtotal", "discount_total", "tax_total", "total",
    "discount_percent", "approved_by_id", "approved_at", "approval_note", "token", "sent_at",
    "sent_to", "responded_at", "decline_reason", "version", "created_at", "updated_at",
)  # fmt: skip
QUOTE_LINE_COLS = (
    "id", "quote_id", "position", "product_id", "description", "unit", "quantity", "price",
    "discount_kind", "discount_value", "tax_rate", "cost", "net", "discount_amount", "tax",
)  # fmt: skip
APPROVAL_COLS = (
    "id", "quote_id", "decision", "discount_percent", "limit_percent", "user_id", "note", "at",
)  # fmt: skip
TARGET_COLS = (
    "id", "period_kind", "period_start", "metric", "team_id", "user_id", "amount", "forecast",
    "parent_id", "method", "weight", "adjusted", "set_by_id", "note", "version", "created_at",
    "updated_at",
)  # fmt: skip

# A timeline entry as the generator makes it; _interaction_row() fills in the other columns.
TIMELINE_COLS = (
    "id", "kind", "channel", "direction", "occurred_at", "subject", "body", "outcome", "user_id",
    "contact_id", "company_id", "related_type", "related_id",
)  # fmt: skip
TIMELINE_STAGE = "temp.sales_demo_timeline"


def _interaction_row(r: Sequence) -> tuple:
    """TIMELINE_COLS → INTERACTION_COLS: a past, unplanned entry created when it happened."""
    return (*r[:8], None, *r[8:], 0, None, None, 0, None, None, None, 1, r[4], r[4])


BIG_MODELS = [Deal, DealProduct, StageChange, Order, OrderLine, Lead]
ALL_MODELS = [
    QuoteApproval, QuoteLine, OrderLine, Order, Quote, StageChange, DealProduct, Lead,
    SalesTarget, Deal, PriceListItem, PriceList, Product, CurrencyRate, DiscountLimit,
    AssignmentRule, ScoringRule, CaptureHit, WebForm, Stage, Pipeline, LossReason, ProductMonth,
]  # fmt: skip
SALES_RELATED_TYPES = ["deal", "lead", "quote", "order"]


# --- money in integer cents ----------------------------------------------------------------


def _cents(text: str | Decimal) -> int:
    return int((Decimal(text) * 100).to_integral_value())


def _m(cents: int) -> float:
    """Cents as the value to store, 10× faster than formatting text.

    Exact: for amounts below 10^13 cents the float nearest to cents/100 prints (repr, what COPY
    sends) as the same decimal text, and SQLite keeps decimals as REAL anyway.
    """
    return cents / 100


def _text(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def _half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half up (away from zero), as Decimal ROUND_HALF_UP."""
    if numerator < 0:
        return -_half_up(-numerator, denominator)
    return (2 * numerator + denominator) // (2 * denominator)


def _convert(cents: int, rate_micro: int) -> int:
    """money(amount × rate) with the rate in millionths (CurrencyRate has 6 decimals)."""
    return _half_up(cents * rate_micro, 1_000_000)


def line_amounts(qty: int, price: int, discount_pct: int, vat_bp: int) -> tuple[int, int, int]:
    """(discount, net, tax) in cents for qty × price with a percent discount and VAT (basis
    points of a percent: 20.00 % → 2000)."""
    gross = qty * price
    discount = _half_up(gross * discount_pct, 100)
    net = gross - discount
    return discount, net, _half_up(net * vat_bp, 10_000)


# --- time ------------------------------------------------------------------------------------


class _Time:
    """Epoch seconds → the text both backends store; days precomputed (formatting dominates)."""

    def __init__(self, now: datetime):
        self.now = int(now.timestamp())
        self.today = now.date()
        self.first_day = self.today - timedelta(days=YEARS_DAYS)
        self.start = int(datetime.combine(self.first_day, datetime.min.time(), UTC).timestamp())
        self.base = self.start // DAY
        span = YEARS_DAYS + 800  # expected close dates and next steps lie ahead
        self.days = [(self.first_day + timedelta(days=d)).isoformat() for d in range(span)]
        self.tods = [
            f" {s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(0, DAY)
        ]  # fmt: skip

    def dt(self, ts: int) -> str:
        return self.days[ts // DAY - self.base] + self.tods[ts % DAY]

    def day(self, ts: int) -> str:
        return self.days[ts // DAY - self.base]

    def day_index(self, ts: int) -> int:
        return ts // DAY - self.base

    def work_ts(self, rng: random.Random, day_index: int) -> int:
        """A moment of a working day (06:00–16:00 UTC, 09:00–19:00 in Moscow)."""
        return self.start + day_index * DAY + 6 * 3600 + int(rng.random() * 36_000)


# --- the reference data ----------------------------------------------------------------------

# (code, Russian category, VAT %, unit, cost range in RUB, markup range, products)
CATALOGUE = [
    ("NB", "Ноутбуки", 20, "шт", (38_000, 160_000), (1.18, 1.35), [
        "Ноутбук Vektor Book 14", "Ноутбук Vektor Book 15", "Ноутбук Vektor Pro 14",
        "Ноутбук Vektor Pro 16", "Ноутбук Aquarius Cmp NS685", "Ноутбук Aquarius Cmp NS483",
        "Ноутбук Irbis Office 15", "Ноутбук Lenovo ThinkPad E14", "Ноутбук Lenovo ThinkPad T14",
        "Ноутбук HP ProBook 450", "Ноутбук HP EliteBook 840", "Ноутбук Huawei MateBook D16",
        "Ноутбук Huawei MateBook 14", "Ноутбук ASUS ExpertBook B1", "Ноутбук ASUS Vivobook 15",
        "Ноутбук Acer TravelMate P2", "Ноутбук MSI Modern 15", "Ноутбук Tecno Megabook T1",
        "Ноутбук Infinix Inbook Y2", "Ноутбук Digma Pro Fortis",
    ]),
    ("MN", "Мониторы", 20, "шт", (9_500, 58_000), (1.2, 1.4), [
        "Монитор Vektor 24\" IPS", "Монитор Vektor 27\" IPS QHD", "Монитор AOC 24B2XH",
        "Монитор AOC Q27P2Q", "Монитор Philips 243V7Q", "Монитор Philips 272B1G",
        "Монитор Samsung S24C310", "Монитор Samsung S27C390", "Монитор LG 24MP400",
        "Монитор LG 27UP850 4K", "Монитор Dell P2422H", "Монитор Dell U2723QE",
        "Монитор Xiaomi Mi 23.8\"", "Монитор HP E24 G5", "Монитор iiyama ProLite XU2493",
        "Монитор Huawei MateView SE",
    ]),
    ("PR", "Принтеры и МФУ", 20, "шт", (11_000, 240_000), (1.2, 1.38), [
        "Принтер Pantum P3010DW", "МФУ Pantum M6700DW", "МФУ Pantum M7100DN",
        "Принтер Катюша P130", "МФУ Катюша M247", "МФУ Катюша M348", "Принтер HP LaserJet M211",
        "МФУ HP LaserJet M236", "МФУ Kyocera ECOSYS M2540", "МФУ Kyocera TASKalfa 2553",
        "Принтер Brother HL-L2300", "МФУ Brother DCP-L2520", "МФУ Canon i-SENSYS MF443",
        "МФУ Xerox B225", "Принтер Xerox B230", "Плоттер HP DesignJet T230",
    ]),
    ("NT", "Сетевое оборудование", 20, "шт", (1_800, 190_000), (1.22, 1.45), [
        "Коммутатор Eltex MES2324", "Коммутатор Eltex MES2428", "Коммутатор Eltex MES3324",
        "Маршрутизатор Eltex ESR-20", "Маршрутизатор Eltex ESR-200",
        "Точка доступа Eltex WEP-3ax", "Коммутатор MikroTik CRS326",
        "Маршрутизатор MikroTik RB5009", "Точка доступа MikroTik cAP ax",
        "Коммутатор TP-Link TL-SG3428", "Точка доступа TP-Link EAP650", "Роутер Keenetic Giga",
        "Роутер Keenetic Ultra", "Межсетевой экран UserGate C100", "Межсетевой экран Континент 4",
        "Патч-панель 24 порта Cat.6", "Шкаф телекоммуникационный 19\" 24U",
        "Шкаф телекоммуникационный 19\" 42U",
    ]),
    ("SR", "Серверы и СХД", 20, "шт", (280_000, 2_400_000), (1.15, 1.3), [
        "Сервер Аквариус T50 D224", "Сервер Аквариус T50 D208", "Сервер Yadro Vegman S220",
        "Сервер Yadro Vegman R220", "Сервер Kraftway Express 220", "Сервер Depo Storm 3470",
        "СХД Yadro Tatlin.Flex", "СХД Аэродиск Восток", "ИБП Ippon Innova RT 3000",
        "ИБП Ippon Innova RT 6000", "ИБП Powercom VRT-3000", "Сервер HPE ProLiant DL380",
    ]),
    ("CP", "Комплектующие", 20, "шт", (900, 42_000), (1.25, 1.5), [
        "Накопитель SSD 512 ГБ", "Накопитель SSD 1 ТБ", "Накопитель SSD 2 ТБ NVMe",
        "Жёсткий диск 4 ТБ", "Жёсткий диск 8 ТБ", "Модуль памяти DDR4 16 ГБ",
        "Модуль памяти DDR5 32 ГБ", "Клавиатура и мышь, комплект", "Гарнитура Jabra Evolve2 40",
        "Веб-камера Logitech C920", "Док-станция USB-C", "Сетевой фильтр 5 розеток",
        "Кабель HDMI 2 м", "Видеокарта для рабочей станции", "Блок питания 650 Вт",
        "Спикерфон Jabra Speak 510",
    ]),
    ("VC", "Телефония и видеосвязь", 20, "шт", (4_500, 320_000), (1.2, 1.4), [
        "IP-телефон Yealink T31P", "IP-телефон Yealink T54W", "IP-телефон Fanvil X4U",
        "DECT-система Yealink W76P", "Видеотерминал TrueConf Room", "Камера для переговорной",
        "Саундбар для видеоконференций", "Спикерфон Yealink CP925", "IP-АТС Eltex SMG-500",
        "Шлюз VoIP Eltex TAU-8", "Видеокамера PTZ 12x", "Комплект видеосвязи «Переговорная»",
    ]),
    ("SC", "Видеонаблюдение и СКУД", 20, "шт", (2_500, 140_000), (1.25, 1.5), [
        "IP-камера Hikvision 4 Мп купольная", "IP-камера Hikvision 4 Мп уличная",
        "IP-камера Dahua 2 Мп", "Видеорегистратор на 16 каналов", "Видеорегистратор на 32 канала",
        "Контроллер СКУД Sigur E510", "Считыватель карт доступа", "Турникет-трипод",
        "Электромагнитный замок", "Карты доступа, 100 шт.", "Сервер видеонаблюдения",
        "Лицензия видеоаналитики, канал",
    ]),
    ("CS", "Расходные материалы", 20, "уп", (250, 12_000), (1.3, 1.6), [
        "Бумага А4 «Снегурочка», 500 л.", "Бумага А4 SvetoCopy, 500 л.",
        "Бумага А3 «Снегурочка», 500 л.", "Картридж Pantum TL-420X", "Картридж Pantum DL-420",
        "Картридж Катюша TK-130", "Картридж HP 136A", "Картридж HP 59A", "Тонер Kyocera TK-1170",
        "Тонер Kyocera TK-8115", "Драм-картридж Brother DR-2335", "Картридж Canon 057H",
        "Тонер Xerox 006R04380", "Этикетки самоклеящиеся А4", "Чистящие салфетки для экранов",
        "Батарейки AA, 24 шт.",
    ]),
    ("FR", "Офисная мебель", 20, "шт", (3_500, 95_000), (1.3, 1.55), [
        "Стол письменный 1400×700", "Стол письменный 1600×800", "Стол переговоров на 8 мест",
        "Кресло офисное «Бюрократ»", "Кресло руководителя «Chairman 480»",
        "Кресло эргономичное «Метта»", "Шкаф для документов", "Шкаф гардеробный",
        "Тумба подкатная", "Стеллаж металлический", "Перегородка акустическая",
        "Стол с электроприводом",
    ]),
    ("SW", "Программное обеспечение", 0, "лиц", (1_200, 180_000), (1.15, 1.35), [
        "Лицензия «Р7-Офис. Профессиональный», год", "Лицензия «МойОфис Стандартный»",
        "Лицензия Astra Linux Special Edition", "Лицензия «РЕД ОС», рабочая станция",
        "Лицензия «РЕД ОС», сервер", "Лицензия Kaspersky Endpoint Security, год",
        "Лицензия Dr.Web Enterprise Security, год", "Лицензия «1С:Предприятие 8 ПРОФ»",
        "Лицензия «1С:Бухгалтерия 8 КОРП»", "Лицензия Контур.Диадок, год",
        "Лицензия «Мобильный СКЗИ КриптоПро CSP»", "Лицензия Kliento CRM, пользователь, год",
        "Лицензия TrueConf Server, год", "Лицензия «Яндекс 360 для бизнеса», год",
        "Лицензия «Контур.Экстерн», год", "Лицензия «СБИС ЭДО», год",
        "Лицензия Veeam Backup, сокет", "Лицензия «Киберпротект», рабочая станция",
        "Лицензия ViPNet Client, год", "Лицензия «Битрикс24», год",
        "Лицензия «Мегаплан», пользователь", "Лицензия Zabbix, поддержка, год",
        "Лицензия Postgres Pro Standard, ядро", "Лицензия «Атом.Мост», год",
    ]),
    ("SV", "Услуги", 20, "ч", (1_500, 4_200), (1.6, 2.4), [
        "Монтаж и настройка оборудования, час", "Выезд инженера", "Администрирование, час",
        "Внедрение CRM, час", "Миграция данных, час", "Проектирование сети, час",
        "Аудит информационной безопасности, час", "Техническая поддержка, час",
        "Разработка и доработка, час", "Консультация архитектора, час",
    ]),
    ("SP", "Сервисные контракты", 20, "мес", (4_000, 85_000), (1.35, 1.8), [
        "Абонентское обслуживание «Базовый», месяц", "Абонентское обслуживание «Бизнес», месяц",
        "Абонентское обслуживание «Премиум», месяц", "Поддержка серверов, месяц",
        "Мониторинг сети 24/7, месяц", "Резервное копирование в облако, месяц",
        "Аренда МФУ с обслуживанием, месяц", "Облачная АТС, месяц",
    ]),
    ("TR", "Обучение", 10, "шт", (2_500, 45_000), (1.4, 1.9), [
        "Учебное пособие «Администрирование Astra Linux»", "Курс «1С:Бухгалтерия для начинающих»",
        "Курс «Сетевые технологии»", "Курс «Информационная безопасность для сотрудников»",
        "Учебное пособие «PostgreSQL для администраторов»", "Вебинар-практикум по CRM",
        "Сертификационный экзамен", "Корпоративный тренинг, группа до 10 человек",
    ]),
]  # fmt: skip
UNIT_EN = {"шт": "pcs", "уп": "pack", "лиц": "licence", "ч": "h", "мес": "month"}
# Quantities per unit: (low, high); most orders are small.
QTY = {"шт": (1, 12), "уп": (2, 40), "лиц": (1, 50), "ч": (2, 40), "мес": (1, 12)}
DEAL_TOPICS = {
    "VC": ("Видеосвязь для переговорных", "Meeting-room video"),
    "SC": ("Видеонаблюдение и СКУД", "CCTV and access control"),
    "NB": ("Поставка ноутбуков", "Laptops for the team"),
    "MN": ("Мониторы для офиса", "Office monitors"),
    "PR": ("Обновление парка МФУ", "Printer fleet refresh"),
    "NT": ("Сетевая инфраструктура", "Network upgrade"),
    "SR": ("Серверное оборудование", "Server hardware"),
    "CP": ("Комплектующие", "Components"),
    "CS": ("Расходные материалы", "Consumables supply"),
    "FR": ("Мебель для офиса", "Office furniture"),
    "SW": ("Лицензии ПО", "Software licences"),
    "SV": ("Внедрение и настройка", "Implementation services"),
    "SP": ("Сервисный контракт", "Managed services contract"),
    "TR": ("Обучение сотрудников", "Staff training"),
}

# (name, probability, expected days, chance to advance when it leaves the stage)
PIPELINES = [
    (MAIN_PIPELINE, True, 0.06, [
        ("Квалификация", 10, 7, 0.62), ("Выявление потребностей", 20, 10, 0.72),
        ("Коммерческое предложение", 40, 14, 0.66), ("Переговоры", 60, 14, 0.76),
        ("Согласование договора", 80, 10, 0.86), ("Счёт выставлен", 90, 7, 0.93),
    ]),
    (BOARD_PIPELINE, False, 0.11, [
        ("Запрос", 30, 3, 0.82), ("КП отправлено", 60, 7, 0.74), ("Согласование", 80, 7, 0.86),
        ("Ожидание оплаты", 95, 5, 0.95),
    ]),
]  # fmt: skip
LOSS_REASONS = [
    ("Цена выше, чем у конкурента", 30), ("Выбрали конкурента", 22), ("Нет бюджета", 16),
    ("Проект отложен", 14), ("Не устроили сроки поставки", 8), ("Пропал контакт", 10),
    ("Не подошли условия оплаты", 6),
]  # fmt: skip
LOSS_NOTES = [
    "", "", "", "Клиент ушёл к дистрибьютору с отсрочкой платежа.",
    "Бюджет перенесли на следующий год.", "Конкурент дал скидку 12%.",
    "Не смогли поставить в нужный срок.", "Лицо, принимающее решение, уволилось.",
]  # fmt: skip
COMPETITORS = ["", "", "", "", "Ситилинк", "ОнЛайн Трейд", "Техносила", "Компьютерный мир",
               "Softline", "Крок", "Ай-Теко", "Форсайт"]  # fmt: skip
NEXT_STEPS_RU = [
    "Созвониться с ЛПР", "Отправить КП", "Провести демонстрацию", "Согласовать спецификацию",
    "Получить подписанный договор", "Выставить счёт", "Уточнить бюджет", "Встреча в офисе",
]  # fmt: skip
NEXT_STEPS_EN = [
    "Call the decision maker", "Send the proposal", "Run a demo", "Agree the specification",
    "Get the signed contract", "Send the invoice", "Confirm the budget", "Meet at their office",
]  # fmt: skip
DEAL_SOURCES = [("web_form", 30), ("referral", 14), ("cold_call", 14), ("exhibition", 8),
                ("repeat", 20), ("partner", 8), ("ads", 6)]  # fmt: skip
ORDER_CHANNELS = [("web", 30), ("phone", 25), ("email", 30), ("in_person", 10), ("store", 5)]
LEAD_CAMPAIGNS = [
    ("yandex", "cpc", "brand"), ("yandex", "cpc", "noutbuki-opt"), ("google", "cpc", "b2b-it"),
    ("vk", "social", "webinar"), ("telegram", "social", "channel"), ("email", "newsletter",
    "monthly"), ("exhibition", "offline", "softool"), ("", "", ""),
]  # fmt: skip
LEAD_MESSAGES_RU = [
    "", "Нужен счёт на 10 ноутбуков.", "Прошу перезвонить, интересует обслуживание.",
    "Сколько стоит внедрение CRM на 25 пользователей?", "Нужны МФУ в три офиса.",
    "Интересуют дилерские условия.", "Хотим перейти на отечественное ПО.",
]  # fmt: skip
LEAD_MESSAGES_EN = [
    "", "Please send a quote for 20 laptops.", "Looking for a managed services partner.",
    "Do you ship to Kazakhstan?", "We need a demo of your CRM offer.",
]  # fmt: skip
RU_COMPANY_WORDS = ["Вектор", "Альфа", "Гранит", "Меридиан", "Сфера", "Магистраль", "Орбита",
                    "Прогресс", "Сигма", "Ресурс", "Технопарк", "Северный ветер"]  # fmt: skip
EN_COMPANY_WORDS = ["Northwind", "Bluestone", "Harbor Labs", "Oakridge", "Summit Retail",
                    "Brightfield", "Ironbridge", "Clearwater"]  # fmt: skip
JOB_TITLES_RU = ["Директор", "Менеджер по закупкам", "ИТ-директор", "Офис-менеджер",
                 "Главный бухгалтер", "Системный администратор", ""]  # fmt: skip
JOB_TITLES_EN = ["Office Manager", "IT Manager", "Procurement Lead", "CFO", ""]


# --- the org, read from the customer demo -----------------------------------------------------


@dataclass
class _Org:
    teams: dict[str, int]  # key → team id ("root", "sales", "moscow", ...)
    reps: dict[str, list[int]]  # sales team key → rep ids
    heads: dict[str, int]  # team key → head id
    team_of: dict[int, str]  # user id → sales team key
    role_of: dict[int, str]
    lang_of_team: dict[str, str]


TEAM_NAMES = {"Sales": "sales", "Москва": "moscow", "Санкт-Петербург": "spb", "Казань": "kazan",
              "London": "london"}  # fmt: skip


def _load_org() -> _Org:
    root = Team.objects.filter(name=DEMO_ROOT_TEAM, parent=None).order_by("id").first()
    if root is None:
        raise ConflictError("Load the customer demo first: the sales demo needs its teams.")
    teams = {"root": root.pk}
    for team in Team.objects.filter(path__startswith=root.path).order_by("path"):
        key = TEAM_NAMES.get(team.name)
        if key:
            teams.setdefault(key, team.pk)
    key_of_team = {v: k for k, v in teams.items()}
    org = _Org(teams, {k: [] for k in ("moscow", "spb", "kazan", "london")}, {}, {}, {},
               {"moscow": "ru", "spb": "ru", "kazan": "ru", "london": "en"})  # fmt: skip
    users = User.objects.filter(email__endswith="@" + DEMO_EMAIL_DOMAIN).order_by("id")
    for uid, role, team_id in users.values_list("id", "role", "team_id"):
        key = key_of_team.get(team_id)
        org.role_of[uid] = role
        if role == Role.REP and key in org.reps:
            org.reps[key].append(uid)
            org.team_of[uid] = key
        elif role == Role.HEAD and key:
            org.heads[key] = uid
            if key in org.reps:
                org.team_of[uid] = key
    if not all(org.reps.values()) or "sales" not in org.heads:
        raise ConflictError("The customer demo's sales teams are missing; reload it with --reset.")
    return org


def _team_for_place(country: str, region: str, city: str) -> str:
    if country != "RU":
        return "london"
    if city == "Санкт-Петербург":
        return "spb"
    return "kazan" if region in KAZAN_REGIONS else "moscow"


# --- loaders -------------------------------------------------------------------------------


def _adapt(value):
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _tail(model, cols: Sequence[str]) -> tuple[tuple[str, ...], tuple]:
    """Columns this loader does not fill but the table requires: their model defaults.

    Other apps may add NOT NULL fields with defaults; the raw inserts then still work.
    """
    names, values = [], []
    for f in model._meta.concrete_fields:
        if f.column in cols or f.null or not f.has_default():
            continue
        names.append(f.column)
        values.append(_adapt(f.get_default()))
    return tuple(names), tuple(values)


class _Loader:
    def __init__(self, bulk: bool, log: Log):
        self.bulk = bulk
        self.log = log
        self.saved: list[str] = []
        self._tails: dict = {}

    @contextmanager
    def chunk(self):
        with transaction.atomic():
            yield

    def insert(self, model, cols: Sequence[str], rows: Iterable[Sequence]) -> int:
        key = (model, tuple(cols))
        if key not in self._tails:
            self._tails[key] = _tail(model, cols)
        extra_cols, extra = self._tails[key]
        if extra:
            rows = (tuple(r) + extra for r in rows)
        return self._write(model._meta.db_table, (*cols, *extra_cols), rows)

    def _write(self, table: str, cols: Sequence[str], rows: Iterable[Sequence]) -> int:
        raise NotImplementedError

    def insert_timeline(self, rows: Iterable[Sequence]) -> int:
        """Timeline entries given as their TIMELINE_COLS; written by `flush_timeline` at the
        latest."""
        return self.insert(Interaction, INTERACTION_COLS, (_interaction_row(r) for r in rows))

    def flush_timeline(self) -> None: ...

    def begin(self) -> None: ...

    def finish(self) -> None: ...


class _SqliteLoader(_Loader):
    def __init__(self, bulk: bool, log: Log):
        super().__init__(bulk, log)
        self.raw = None
        self.triggers: list[str] = []
        self.fk_off = False
        self.staging = False

    def begin(self) -> None:
        connection.ensure_connection()
        self.raw = connection.connection
        if not connection.in_atomic_block:
            for pragma in ("foreign_keys=OFF", "synchronous=OFF", "cache_size=-1048576",
                           "threads=2"):  # fmt: skip
                connection.cursor().execute(f"PRAGMA {pragma}")
            self.fk_off = True
        if not self.bulk:
            return
        with self.chunk():
            self.saved, self.triggers = sqlite_drop_for_load(
                self.raw, [m._meta.db_table for m in BIG_MODELS]
            )
        self.log(f"dropped {len(self.saved)} sales indexes for the load")

    def _write(self, table, cols, rows) -> int:
        cur = self.raw.executemany(
            f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
            rows,
        )
        return cur.rowcount

    # The timeline table holds millions of customer interactions under ten indexes: rows
    # added chunk by chunk would rewrite the same index pages at every commit, so they are
    # collected in a scratch table and moved in one statement at the end.
    def insert_timeline(self, rows) -> int:
        if not self.staging:  # left over from a failed load on this connection: start afresh
            self.raw.execute(f"DROP TABLE IF EXISTS {TIMELINE_STAGE}")
            self.raw.execute(f"CREATE TEMP TABLE {TIMELINE_STAGE} ({', '.join(TIMELINE_COLS)})")
            self.staging = True
        marks = ", ".join("?" * len(TIMELINE_COLS))
        return self.raw.executemany(f"INSERT INTO {TIMELINE_STAGE} VALUES ({marks})", rows).rowcount

    def flush_timeline(self) -> None:
        if not self.staging:
            return
        extra_cols, extra = _tail(Interaction, INTERACTION_COLS)
        full = _interaction_row([f"s.{c}" for c in TIMELINE_COLS])
        values = ["NULL" if v is None else str(v) for v in full]
        cols = ", ".join((*INTERACTION_COLS, *extra_cols))
        self.raw.execute(
            f"INSERT INTO {Interaction._meta.db_table} ({cols}) SELECT "
            f"{', '.join(values + ['?'] * len(extra))} FROM {TIMELINE_STAGE} s ORDER BY s.id",
            extra,
        )
        self.raw.execute(f"DROP TABLE {TIMELINE_STAGE}")
        self.staging = False

    def finish(self) -> None:
        if self.bulk:
            with self.chunk():
                sqlite_restore_after_load(self.raw, self.saved, self.triggers, self.log)
        if self.fk_off:
            cur = connection.cursor()
            cur.execute("PRAGMA analysis_limit=2000")
            for model in [*ALL_MODELS, Interaction]:
                cur.execute(f"ANALYZE {model._meta.db_table}")
            cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA cache_size=-65536")
            cur.execute("PRAGMA foreign_keys=ON")


class _PostgresLoader(_Loader):
    def __init__(self, bulk: bool, log: Log):
        super().__init__(bulk, log)
        self.constraints: list[tuple[str, str, str]] = []

    def begin(self) -> None:
        with connection.cursor() as cur:
            cur.execute("SET TIME ZONE 'UTC'")
            cur.execute("SET synchronous_commit = off")
            cur.execute("SET maintenance_work_mem = '512MB'")
        if not self.bulk:
            return
        with self.chunk(), connection.cursor() as cur:
            self.constraints, self.saved = pg_drop_for_load(
                cur, [m._meta.db_table for m in BIG_MODELS]
            )
        self.log(f"dropped {len(self.saved)} indexes and {len(self.constraints)} constraints")

    def _write(self, table, cols, rows) -> int:
        n = 0
        with (
            connection.connection.cursor() as cur,
            cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
                n += 1
        return n

    def finish(self) -> None:
        with connection.cursor() as cur:
            if self.bulk:
                pg_restore_after_load(cur, self.saved, self.constraints, self.chunk, self.log)
            tables = [m._meta.db_table for m in [*ALL_MODELS, Interaction]]
            pg_sync_sequences(cur, tables)
            cur.execute("ANALYZE " + ", ".join(tables))
            cur.execute("SET synchronous_commit = on")


def _loader(bulk: bool, log: Log) -> _Loader:
    if connection.vendor == "postgresql":
        return _PostgresLoader(bulk, log)
    if connection.vendor == "sqlite":
        return _SqliteLoader(bulk, log)
    raise ConflictError(f"The demo loader supports SQLite and PostgreSQL, not {connection.vendor}.")


# --- wiping ----------------------------------------------------------------------------------


def sales_demo_wipe(log: Log = print) -> None:
    """Delete every sales record (and the sales entries of customers' timelines)."""
    tables = [m._meta.db_table for m in ALL_MODELS]
    with transaction.atomic(), connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cur.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        else:
            for table in tables:
                cur.execute(f"DELETE FROM {table}")
            marks = ", ".join(["%s"] * len(tables))
            cur.execute(f"DELETE FROM sqlite_sequence WHERE name IN ({marks})", tables)
        Interaction.objects.filter(related_type__in=SALES_RELATED_TYPES).delete()
        AuditLog.objects.filter(
            entity__in=["deal", "lead", "quote", "order", "product", "price_list", "target"]
        ).delete()
    log("wiped sales data")


# --- reference data --------------------------------------------------------------------------


@dataclass
class _Ref:
    """What the per-contact generator needs, picklable for the forked workers."""

    now: int
    stages: dict[int, list[tuple[int, int, int, float]]]  # pipeline → (id, prob, days, advance)
    stall: dict[int, float]
    main_pipeline: int
    board_pipeline: int
    loss_reasons: list[int]
    products: list[tuple]  # (id, code, name, unit, cost cents, vat bp, active)
    by_code: dict[str, list[int]]  # category code → product indexes (active)
    prices: dict[int, dict[int, int]]  # price list id → product id → cents
    lists: dict[str, int]  # "base", "dealer", "usd", "eur" → price list id
    list_currency: dict[int, str]
    switch_ts: int  # the EUR export list expired, the USD one started
    rate_by_month: dict[str, list[int]]  # currency → rate (millionths) per month index
    month_of_day: list[int]
    rules: dict[str, int]  # assignment rule per team key
    web_forms: dict[str, int]  # "ru", "en"
    scoring: list[tuple[str, str, str, int]]


_NEXT_ID: dict[type, int] = {}


def _next_id(model) -> int:
    """Ids assigned in advance, from the table's max: the same seed gives the same ids."""
    if model not in _NEXT_ID:
        _NEXT_ID[model] = (
            model.objects.order_by("-id").values_list("id", flat=True).first() or 0
        ) + 1
    _NEXT_ID[model] += 1
    return _NEXT_ID[model] - 1


def _with_ids(objs: list) -> list:
    for obj in objs:
        obj.pk = _next_id(type(obj))
    return objs


def _create(model, **fields):
    obj = model(id=_next_id(model), **fields)
    obj.save(force_insert=True)
    return obj


def _settings_and_catalogue(rng: random.Random, clock: _Time, org: _Org) -> dict:
    settings = OrgSettings.get()
    settings.currency = settings.currency or "RUB"
    if not settings.legal_name:
        settings.company_name = "Восток Трейдинг"
        settings.legal_name = "ООО «Восток Трейдинг»"
        settings.tax_id = "7701234564"
        settings.address = "123112, г. Москва, Пресненская наб., д. 12, офис 4105"
        settings.phone = "+7 495 120-45-67"
        settings.email = "sales@vostok-trading.ru"
        settings.website = "https://vostok-trading.ru"
        settings.bank_details = (
            "р/с 40702810938000123456 в ПАО Сбербанк, г. Москва\n"
            "к/с 30101810400000000225, БИК 044525225"
        )
        settings.default_tax_rate = Decimal("20.00")
        settings.quote_validity_days = 30
        settings.quote_terms = (
            "Цены указаны с учётом НДС, где он применяется. Оплата: 100% предоплата по счёту. "
            "Поставка со склада в Москве в течение 5 рабочих дней после оплаты. "
            "Гарантия производителя."
        )
    settings.save()

    # Rates: one per month, a random walk from three years ago.
    months, rate_rows = [], []
    day = clock.first_day.replace(day=1)
    while day <= clock.today:
        months.append(day)
        day = (day + timedelta(days=32)).replace(day=1)
    rate_by_month: dict[str, list[int]] = {}
    for currency, start, vol in (("USD", 74.2, 0.035), ("EUR", 80.5, 0.035)):
        value, series = start, []
        for month in months:
            value *= math.exp(rng.gauss(0.004, vol))
            micro = int(round(value * 10_000)) * 100  # 4 significant decimals
            series.append(micro)
            rate_rows.append(CurrencyRate(currency=currency, rate=Decimal(micro) / 10**6,
                                          valid_from=month))  # fmt: skip
        rate_by_month[currency] = series
    CurrencyRate.objects.bulk_create(_with_ids(rate_rows))
    month_of_day, mi = [], 0
    for d in range(len(clock.days)):
        day = clock.first_day + timedelta(days=d)
        while mi + 1 < len(months) and months[mi + 1] <= day:
            mi += 1
        month_of_day.append(mi)

    for role, limit in ((Role.REP, 10), (Role.HEAD, 25), (Role.ADMIN, 100)):
        DiscountLimit.objects.get_or_create(role=role, defaults={"max_percent": Decimal(limit)})

    products, by_code, base_price = [], {}, {}
    created = timezone.now() - timedelta(days=YEARS_DAYS + 30)
    for code, category, vat, unit, (low, high), (mk_lo, mk_hi), names in CATALOGUE:
        for n, name in enumerate(names, start=1):
            cost = int(rng.uniform(low, high)) // 10 * 1000  # whole tens of roubles, in cents
            active = rng.random() > 0.05
            products.append(
                Product(sku=f"{code}-{n:03d}", name=name, category=category, unit=unit,
                        cost=Decimal(cost) / 100, tax_rate=Decimal(vat), active=active,
                        description="", created_at=created, updated_at=created)
            )  # fmt: skip
            base_price[(code, n)] = max(cost + 1000, int(cost * rng.uniform(mk_lo, mk_hi))
                                        // 1000 * 1000)  # fmt: skip
    Product.objects.bulk_create(_with_ids(products))
    products = list(Product.objects.order_by("sku"))
    rows = []
    for idx, p in enumerate(products):
        code, n = p.sku.split("-")
        vat_bp = int(p.tax_rate * 100)
        rows.append((p.pk, code, p.name, p.unit, _cents(p.cost), vat_bp, p.active))
        if p.active:
            by_code.setdefault(code, []).append(idx)
    switch_day = (clock.today - timedelta(days=430)).replace(day=1)
    lists = {
        "base": PriceList(name="Базовый прайс-лист", currency="RUB", is_default=True,
                          valid_from=clock.first_day, segment="Все клиенты", channel=""),
        "dealer": PriceList(name="Дилерский прайс-лист", currency="RUB",
                            valid_from=clock.first_day, segment="Дилеры и партнёры"),
        "usd": PriceList(name="Export price list (USD)", currency="USD", valid_from=switch_day,
                         region="International"),
        "eur": PriceList(name="Export price list 2023–2024 (EUR)", currency="EUR",
                         valid_from=clock.first_day, valid_to=switch_day - timedelta(days=1),
                         region="International"),
    }  # fmt: skip
    for plist in _with_ids(list(lists.values())):
        plist.created_at = plist.updated_at = created
        plist.save(force_insert=True)
    prices: dict[int, dict[int, int]] = {pl.pk: {} for pl in lists.values()}
    items = []
    usd_now = rate_by_month["USD"][-1]
    eur_then = rate_by_month["EUR"][month_of_day[(switch_day - clock.first_day).days] - 1]
    for p, row in zip(products, rows, strict=True):
        code, n = p.sku.split("-")
        base = base_price[(code, int(n))]
        values = {
            "base": base,
            "dealer": base * 88 // 100 // 100 * 100,
            "usd": max(100, _half_up(base * 10**6, usd_now) // 100 * 100 - 1),
            "eur": max(100, _half_up(base * 10**6, eur_then) // 100 * 100),
        }
        for key, cents in values.items():
            prices[lists[key].pk][row[0]] = cents
            items.append(PriceListItem(price_list=lists[key], product=p,
                                       price=Decimal(cents) / 100))  # fmt: skip
    PriceListItem.objects.bulk_create(_with_ids(items))

    stages, stall, pipeline_ids = {}, {}, []
    for position, (name, default, stall_share, stage_rows) in enumerate(PIPELINES):
        pipe = _create(Pipeline, name=name, position=position, is_default=default,
                                       created_at=created)  # fmt: skip
        pipeline_ids.append(pipe.pk)
        stall[pipe.pk] = stall_share
        stages[pipe.pk] = []
        for sp, (sname, prob, days, advance) in enumerate(stage_rows):
            stage = _create(Stage, pipeline=pipe, name=sname, position=sp,
                                         probability=prob, expected_days=days)  # fmt: skip
            stages[pipe.pk].append((stage.pk, prob, days, advance))
    reasons = []
    weights = []
    for position, (name, weight) in enumerate(LOSS_REASONS):
        reasons.append(_create(LossReason, name=name, position=position).pk)
        weights.append(weight)
    loss_pool = [r for r, w in zip(reasons, weights, strict=True) for _ in range(w)]

    forms = {
        "ru": _create(WebForm,
            name="Заявка с сайта", key=f"{rng.getrandbits(96):024x}",
            fields=["first_name", "last_name", "phone", "email", "company_name", "city",
                    "message"],
            campaign="Сайт vostok-trading.ru", success_message="Спасибо! Мы перезвоним в "
            "течение рабочего дня.", default_owner_id=org.heads.get("moscow"),
        ),
        "en": _create(WebForm,
            name="Contact us (English site)", key=f"{rng.getrandbits(96):024x}",
            fields=["first_name", "last_name", "email", "company_name", "message"],
            campaign="vostok-trading.com", success_message="Thank you! We will be in touch "
            "within one business day.", default_owner_id=org.heads.get("london"),
        ),
    }  # fmt: skip
    team = org.teams
    rules = {
        "spb": _create(AssignmentRule,
            name="Санкт-Петербург и область", position=0, kind=AssignmentRule.Kind.TERRITORY,
            regions=["Санкт-Петербург", "Ленинградская область"], cities=["Санкт-Петербург"],
            team_id=team["spb"]),
        "kazan": _create(AssignmentRule,
            name="Поволжье, Урал, Сибирь, Дальний Восток", position=1,
            kind=AssignmentRule.Kind.TERRITORY, regions=sorted(KAZAN_REGIONS),
            team_id=team["kazan"]),
        "london": _create(AssignmentRule,
            name="English website → London", position=2, kind=AssignmentRule.Kind.ROUND_ROBIN,
            web_form=forms["en"], team_id=team["london"], last_user_id=org.reps["london"][-1]),
        "import": _create(AssignmentRule,
            name="Импорт с выставок → руководитель Москвы", position=3,
            kind=AssignmentRule.Kind.FIXED, sources=["import"], user_id=org.heads["moscow"]),
        "moscow": _create(AssignmentRule,
            name="Москва и остальные регионы (по загрузке)", position=4,
            kind=AssignmentRule.Kind.LOAD, team_id=team["moscow"]),
    }  # fmt: skip
    scoring = [
        ("Указана компания", ScoringRule.Kind.FIELD_FILLED, "company_name", "", 15),
        ("Указан телефон", ScoringRule.Kind.FIELD_FILLED, "phone", "", 10),
        ("Указана должность", ScoringRule.Kind.FIELD_FILLED, "job_title", "", 5),
        ("Заявка с сайта", ScoringRule.Kind.SOURCE, "", "web_form", 10),
        ("Клиент из России", ScoringRule.Kind.FIELD_EQUALS, "country", "RU", 5),
        ("Три и больше касаний", ScoringRule.Kind.INTERACTIONS, "", "3", 15),
        ("Была встреча", ScoringRule.Kind.INTERACTION_KIND, "", "meeting", 20),
    ]
    for position, (name, kind, fld, value, points) in enumerate(scoring):
        _create(ScoringRule, name=name, kind=kind, field=fld, value=value, points=points,
                                   position=position)  # fmt: skip
    ref = _Ref(
        now=clock.now,
        stages=stages,
        stall=stall,
        main_pipeline=pipeline_ids[0],
        board_pipeline=pipeline_ids[1],
        loss_reasons=loss_pool,
        products=rows,
        by_code=by_code,
        prices=prices,
        lists={k: v.pk for k, v in lists.items()},
        list_currency={v.pk: v.currency for v in lists.values()},
        switch_ts=int(datetime.combine(switch_day, datetime.min.time(), UTC).timestamp()),
        rate_by_month=rate_by_month,
        month_of_day=month_of_day,
        rules={k: v.pk for k, v in rules.items()},
        web_forms={k: v.pk for k, v in forms.items()},
        scoring=[(k, f, v, p) for _n, k, f, v, p in scoring],
    )
    return {"ref": ref, "forms": forms, "product_count": len(products), "lists": len(lists)}


# --- per-contact generation -------------------------------------------------------------------


@dataclass
class _ChunkOut:
    """Rows with ids local to the chunk (0-based per table); the writer shifts them."""

    deals: list = field(default_factory=list)
    deal_products: list = field(default_factory=list)
    stage_changes: list = field(default_factory=list)
    orders: list = field(default_factory=list)
    lines: list = field(default_factory=list)
    leads: list = field(default_factory=list)
    # (kind, channel, direction, at, subject, body, outcome, user, contact, company,
    #  related_type, local related id)
    interactions: list = field(default_factory=list)
    open_deals: dict = field(default_factory=dict)  # pipeline → count
    won_last_year: dict = field(default_factory=dict)  # owner → cents (company currency)
    quote_candidates: list = field(default_factory=list)
    won_order: dict = field(default_factory=dict)  # local deal id → local order id


class _Gen:
    def __init__(self, seed: int, ref: _Ref, org: _Org, clock: _Time, company_names: dict):
        self.seed = seed
        self.ref = ref
        self.org = org
        self.clock = clock
        self.company_names = company_names
        self.sources = [s for s, w in DEAL_SOURCES for _ in range(w)]
        self.channels = [c for c, w in ORDER_CHANNELS for _ in range(w)]
        self.codes = sorted(ref.by_code)
        last_year = clock.today.year - 1
        self.last_year = (
            int(datetime(last_year, 1, 1, tzinfo=UTC).timestamp()),
            int(datetime(last_year + 1, 1, 1, tzinfo=UTC).timestamp()),
        )

    # Prices of a product on a price list, with the rate of the day.
    def _rate(self, currency: str, ts: int) -> int:
        if currency == "RUB":
            return 1_000_000
        day = min(self.clock.day_index(ts), len(self.ref.month_of_day) - 1)
        return self.ref.rate_by_month[currency][self.ref.month_of_day[max(day, 0)]]

    def _list_for(self, rng, team: str, has_company: bool, ts: int) -> int:
        lists = self.ref.lists
        if team == "london":
            return lists["eur"] if ts < self.ref.switch_ts else lists["usd"]
        if has_company and rng.random() < 0.15:
            return lists["dealer"]
        return lists["base"]

    def _pick_products(self, rng, code: str, n: int, old: bool) -> list[int]:
        pool = self.ref.by_code[code]
        picked = [pool[int(rng.random() * len(pool))] for _ in range(n)]
        if old and rng.random() < 0.05:  # retired products still appear in old orders
            inactive = [i for i, p in enumerate(self.ref.products) if not p[6]]
            if inactive:
                picked[0] = inactive[int(rng.random() * len(inactive))]
        return list(dict.fromkeys(picked))

    def chunk(self, chunk_no: int, contacts: list[tuple]) -> _ChunkOut:
        rng = random.Random(f"{self.seed}:sales:{chunk_no}")
        out = _ChunkOut()
        ids = {"deal": 0, "dp": 0, "sc": 0, "order": 0, "line": 0, "lead": 0}
        for c in contacts:
            self._contact(rng, c, out, ids)
        return out

    def _owner(self, rng, owner: int, team: str) -> int:
        if owner in self.org.team_of:
            return owner
        reps = self.org.reps[team]
        return reps[int(rng.random() * len(reps))]

    def _contact(self, rng, c: tuple, out: _ChunkOut, ids: dict) -> None:
        (cid, owner, country, region, city, stage, lang, created, first, last, email, phone,
         company) = c  # fmt: skip
        clock, ref = self.clock, self.ref
        team = _team_for_place(country, region, city)
        if owner in self.org.team_of:
            team = self.org.team_of[owner]
        owner = self._owner(rng, owner, team)
        ru = team != "london"
        now = clock.now
        end = now - 180 * DAY if stage == "former" else now
        start = max(created, clock.start)
        if end - start < 5 * DAY:
            end = start + 5 * DAY
        won_orders: list[tuple[int, int, int, int, list]] = []
        # Deals.
        mean = DEALS_PER_CONTACT[stage]
        n_deals = min(4, int(rng.expovariate(1 / mean) + rng.random())) if mean else 0
        for _ in range(n_deals):
            deal = self._deal(rng, c, team, owner, ru, start, end, out, ids)
            if deal is not None:
                won_orders.append(deal)
        # Orders: won deals first, then the rest of the contact's purchases.
        mean = ORDERS_PER_CONTACT[stage]
        n = int(rng.expovariate(1 / mean) + rng.random())
        if stage in ("customer", "former"):
            n = max(n, 1)
        n = min(n, 60)
        for deal_id, closed, price_list, _currency, lines in won_orders:
            at = min(closed + int(rng.random() * 3 * DAY), now - 3600)
            out.won_order[deal_id] = ids["order"]
            self._order(rng, c, team, owner, at, price_list, lines, deal_id, out, ids)
            n -= 1
        span = end - start
        for _ in range(max(n, 0)):
            at = start + int(span * rng.random() ** 0.8)
            at = clock.work_ts(rng, min(clock.day_index(at), clock.day_index(now)))
            if at > now - 600:
                at = now - 600 - int(rng.random() * 36_000)
            price_list = self._list_for(rng, team, company is not None, at)
            code = self.codes[int(rng.random() * len(self.codes))]
            k = 1 if rng.random() < 0.5 else (2 if rng.random() < 0.6 else 3)
            products = self._pick_products(rng, code, k, at < ref.switch_ts)
            lines = [(p, self._qty(rng, p), self._discount(rng)) for p in products]
            self._order(rng, c, team, owner, at, price_list, lines, None, out, ids)

    def _qty(self, rng, product_index: int) -> int:
        low, high = QTY[self.ref.products[product_index][3]]
        return low + int((high - low + 1) * rng.random() ** 2.2)

    @staticmethod
    def _discount(rng) -> int:
        r = rng.random()
        return 0 if r < 0.7 else (3 if r < 0.8 else (5 if r < 0.9 else (10 if r < 0.97 else 15)))

    def _deal(self, rng, c, team, owner, ru, start, end, out, ids):
        """One deal, its products, stage history and timeline; returns a won deal's order."""
        (cid, _o, _country, _region, _city, stage_, lang, _cr, first, last, email, phone,
         company) = c  # fmt: skip
        clock, ref = self.clock, self.ref
        now = clock.now
        repeat = stage_ in ("customer", "former") and rng.random() < 0.55
        pipeline = ref.board_pipeline if repeat else ref.main_pipeline
        stages = ref.stages[pipeline]
        created = start + int((end - start) * math.sqrt(rng.random()))
        created = clock.work_ts(rng, min(clock.day_index(created), clock.day_index(now)))
        if created >= now:
            created = now - 3600 - int(rng.random() * 7200)
        code = self.codes[int(rng.random() * len(self.codes))]
        price_list = self._list_for(rng, team, company is not None, created)
        currency = ref.list_currency[price_list]
        products = self._pick_products(rng, code, 1 + int(rng.random() * 2.4), False)
        lines = [(p, self._qty(rng, p), 0) for p in products]
        prices = ref.prices[price_list]
        amount = sum(q * prices[ref.products[p][0]] for p, q, _d in lines)
        amount_company = _convert(amount, self._rate(currency, created))
        deal_id = ids["deal"]
        ids["deal"] += 1
        for p, q, _d in lines:
            out.deal_products.append((ids["dp"], deal_id, ref.products[p][0], q,
                                      _m(prices[ref.products[p][0]])))  # fmt: skip
            ids["dp"] += 1
        # Walk the stages.
        users = [owner] * 9 + [self.org.heads.get(team, owner)]
        history = [(None, stages[0][0], "open", created, None, owner)]
        at, s = created, 0
        stall = rng.random() < ref.stall[pipeline]
        stall_at = int(rng.random() * len(stages))
        status = "open"
        while True:
            if stall and s == stall_at:
                break
            days = stages[s][2] * rng.lognormvariate(-0.1, 0.55)
            leave = at + 600 + int(days * DAY) + int(rng.random() * 3600)
            if leave >= now:
                break
            user = users[int(rng.random() * len(users))]
            if rng.random() < stages[s][3]:
                if s + 1 == len(stages):
                    history.append((stages[s][0], stages[s][0], "won", leave, leave - at, owner))
                    status = "won"
                    at = leave
                    break
                step = 2 if s + 2 < len(stages) and rng.random() < 0.08 else 1
                history.append((stages[s][0], stages[s + step][0], "open", leave, leave - at,
                                user))  # fmt: skip
                s += step
                at = leave
            else:
                history.append((stages[s][0], stages[s][0], "lost", leave, leave - at, owner))
                status = "lost"
                at = leave
                break
        entered = history[-1][3] if status == "open" else (
            history[-2][3] if len(history) > 1 else created)  # fmt: skip
        closed = at if status != "open" else None
        topic = DEAL_TOPICS[code][0 if ru else 1]
        if company:
            who = self.company_names.get(company, "")
        else:
            who = f"{last} {first[:1]}." if first else last
        name = f"{topic} — {who}"[:255]
        prob = stages[s][1]
        if status == "open":
            ahead = sum(st[2] for st in stages[s:])
            expected = clock.day(max(at, now - 20 * DAY) + int(ahead * DAY * rng.uniform(0.6, 1.6)))
            category = "commit" if prob >= 80 else "best_case" if prob >= 50 else "pipeline"
            if rng.random() < 0.04:
                category = "omitted"
            steps = NEXT_STEPS_RU if ru else NEXT_STEPS_EN
            next_step = steps[int(rng.random() * len(steps))]
            next_day = clock.day(now + int(rng.uniform(-5, 14) * DAY))
            out.open_deals[pipeline] = out.open_deals.get(pipeline, 0) + 1
        else:
            expected = clock.day(closed)
            category = "commit" if status == "won" else "omitted"
            next_step, next_day = "", None
        loss_reason = loss_note = None
        if status == "lost":
            loss_reason = ref.loss_reasons[int(rng.random() * len(ref.loss_reasons))]
            loss_note = LOSS_NOTES[int(rng.random() * len(LOSS_NOTES))]
        source = "repeat" if repeat else self.sources[int(rng.random() * len(self.sources))]
        updated = max(history[-1][3], created)
        out.deals.append(
            (deal_id, name, pipeline, history[-1][1], status,
             _m(amount), currency, _m(amount_company), expected, category, cid, company, owner,
             price_list, COMPETITORS[int(rng.random() * len(COMPETITORS))], next_step, next_day,
             loss_reason, loss_note or "", clock.dt(entered), clock.dt(closed) if closed else None,
             source, "", "{}", len(history), clock.dt(created), clock.dt(updated))
        )  # fmt: skip
        recent = now - INTERACTION_DAYS * DAY
        stage_names = None
        for from_stage, to_stage, st, ts, seconds, user in history:
            out.stage_changes.append((ids["sc"], deal_id, pipeline, from_stage, to_stage, st,
                                      clock.dt(ts), seconds, user))  # fmt: skip
            ids["sc"] += 1
            if ts >= recent:
                stage_names = stage_names or _STAGE_NAMES.get(pipeline) or {}
                label = stage_names.get(to_stage, "")
                if st == "won":
                    subject = f"Сделка выиграна: {name}" if ru else f"Deal won: {name}"
                elif st == "lost":
                    subject = f"Сделка проиграна: {name}" if ru else f"Deal lost: {name}"
                elif from_stage is None:
                    subject = f"Новая сделка: {name}" if ru else f"New deal: {name}"
                else:
                    subject = f"Сделка «{name}» → {label}" if ru else f"Deal “{name}” → {label}"
                out.interactions.append(("note", "other", "internal", clock.dt(ts),
                                         subject[:255], "", "", user, cid, company, "deal",
                                         deal_id))  # fmt: skip
        if status == "won" and self.last_year[0] <= closed < self.last_year[1]:
            out.won_last_year[owner] = out.won_last_year.get(owner, 0) + amount_company
        # Converted leads behind a third of new-business deals.
        if not repeat and (source in ("web_form", "ads", "exhibition") or rng.random() < 0.1):
            self._converted_lead(rng, c, team, owner, created, deal_id, source, out, ids)
        late = s >= len(stages) // 2 if status == "open" else closed >= now - 120 * DAY
        if late and len(out.quote_candidates) < 12 and rng.random() < 0.25:
            out.quote_candidates.append(
                (deal_id, status, pipeline, s, owner, cid, company, price_list, currency,
                 lines, created, closed, ru, email)
            )  # fmt: skip
        if status == "won":
            return (deal_id, closed, price_list, currency, lines)
        return None

    def _converted_lead(self, rng, c, team, owner, created, deal_id, source, out, ids) -> None:
        (cid, _o, country, region, city, _stage, lang, _cr, first, last, email, phone,
         company) = c  # fmt: skip
        clock, ref = self.clock, self.ref
        lead_source = {"web_form": "web_form", "ads": "web_form", "exhibition": "import"}.get(
            source, "manual" if rng.random() < 0.6 else "api"
        )
        captured = max(created - int(rng.random() * 5 * DAY), clock.start)
        web_form = None
        utm = ("", "", "", "", "")
        channel = {"web_form": "web", "import": "in_person", "api": "web"}.get(lead_source, "phone")
        if lead_source == "web_form":
            web_form = ref.web_forms["en" if team == "london" else "ru"]
            src, medium, campaign = LEAD_CAMPAIGNS[int(rng.random() * len(LEAD_CAMPAIGNS))]
            utm = (src, medium, campaign, "", "")
        company_name = self.company_names.get(company, "") if company else ""
        rule = ref.rules["import"] if lead_source == "import" else ref.rules.get(team)
        if rule == ref.rules.get("london") and lead_source != "web_form":
            rule = None
        score = _lead_score(ref.scoring, country, company_name, phone, "", lead_source) + 15
        out.leads.append(
            (ids["lead"], first, last, company_name, "", email, phone, country, region, city, "",
             "", "converted", score, lead_source, channel, utm[2], *utm, "", web_form, owner,
             cid, company, deal_id, clock.dt(created), "", "", rule, "", "{}", 3,
             clock.dt(captured), clock.dt(created))
        )  # fmt: skip
        ids["lead"] += 1

    def _order(self, rng, c, team, owner, at, price_list, lines, deal_id, out, ids) -> None:
        cid, company = c[0], c[12]
        ref, clock = self.ref, self.clock
        now = clock.now
        currency = ref.list_currency[price_list]
        prices = ref.prices[price_list]
        order_id = ids["order"]
        ids["order"] += 1
        subtotal = discount_total = tax_total = cost_total = revenue = 0
        rate = self._rate(currency, at)
        line_id = ids["line"]
        for position, (p, qty, pct) in enumerate(lines):
            pid, _code, pname, _unit, cost, vat_bp, _active = ref.products[p]
            price = prices[pid]
            gross = qty * price
            # line_amounts(), inlined: this loop runs for millions of lines.
            discount = (2 * gross * pct + 100) // 200
            net = gross - discount
            tax = (2 * net * vat_bp + 10_000) // 20_000
            line_revenue = (2 * net * rate + 1_000_000) // 2_000_000  # money(net × rate)
            revenue += line_revenue
            subtotal += gross
            discount_total += discount
            tax_total += tax
            cost_total += qty * cost
            out.lines.append((line_id, order_id, position, pid, pname, qty, price / 100,
                              discount / 100, vat_bp / 100, tax / 100, net / 100,
                              cost / 100, line_revenue / 100))  # fmt: skip
            line_id += 1
        ids["line"] = line_id
        total = subtotal - discount_total + tax_total
        age = now - at
        r = rng.random()
        if age > 30 * DAY:
            status = ("shipped" if r < 0.78 else "paid" if r < 0.86 else
                      "cancelled" if r < 0.94 else "returned")  # fmt: skip
        elif age > 7 * DAY:
            status = ("paid" if r < 0.45 else "shipped" if r < 0.9 else
                      "cancelled" if r < 0.95 else "new")  # fmt: skip
        else:
            status = ("new" if r < 0.45 else "paid" if r < 0.85 else
                      "shipped" if r < 0.95 else "cancelled")  # fmt: skip
        channel = self.channels[int(rng.random() * len(self.channels))]
        updated = min(at + int(rng.random() * 10 * DAY), now)
        out.orders.append(
            (order_id, status, clock.dt(at), channel, cid, company, owner, deal_id, price_list,
             currency, _m(subtotal), _m(discount_total), _m(tax_total), _m(total), _m(revenue),
             _m(cost_total), _m(revenue - cost_total), "", 1, clock.dt(at), clock.dt(updated))
        )  # fmt: skip
        if age < INTERACTION_DAYS * DAY:
            ru = team != "london"
            subject = "Заказ оформлен" if ru else "Order placed"
            body = f"{_m(total):,.2f}".replace(",", "\u00a0") + f" {currency}"
            out.interactions.append(("purchase", channel if channel != "web" else "web", "in",
                                     clock.dt(at), subject, body, "", owner, cid, company,
                                     "order", order_id))  # fmt: skip


_STAGE_NAMES: dict[int, dict[int, str]] = {}


def _lead_score(scoring, country, company_name, phone, job_title, source) -> int:
    """The field and source points of the scoring rules (behaviour points come later)."""
    points = 0
    values = {"company_name": company_name, "phone": phone, "job_title": job_title,
              "country": country}  # fmt: skip
    for kind, fld, value, pts in scoring:
        matches = {
            "field_filled": bool(values.get(fld)),
            "field_equals": values.get(fld) == value,
            "source": source == value,
        }
        points += pts if matches.get(kind) else 0
    return points


# --- the chunk pipeline ----------------------------------------------------------------------

_WORKER_GEN: _Gen | None = None


def _work(job: tuple) -> _ChunkOut:
    assert _WORKER_GEN is not None
    return _WORKER_GEN.chunk(*job)


def _generate(gen: _Gen, jobs: Iterator[tuple], workers: int) -> Iterator[_ChunkOut]:
    if workers <= 1:
        for job in jobs:
            yield gen.chunk(*job)
        return
    global _WORKER_GEN
    _WORKER_GEN = gen
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            pending: deque = deque()
            for job in itertools.islice(jobs, workers * 2):
                pending.append(pool.apply_async(_work, (job,)))
            while pending:
                out = pending.popleft().get()
                job = next(jobs, None)
                if job is not None:
                    pending.append(pool.apply_async(_work, (job,)))
                yield out
    finally:
        _WORKER_GEN = None


def _contact_chunks(max_id: int) -> Iterator[tuple]:
    """(chunk number, contact rows) in id order, read from the customer demo."""
    first = 1
    chunk_no = 0
    # created_at as epoch seconds computed by the database: the ORM's datetime conversion of a
    # million values costs more than the query.
    epoch = (
        "CAST(strftime('%%s', created_at) AS INTEGER)"
        if connection.vendor == "sqlite"
        else "FLOOR(EXTRACT(EPOCH FROM created_at))::bigint"
    )
    sql = (
        f"SELECT id, owner_id, country, region, city, lifecycle_stage, language, {epoch}, "
        f"first_name, last_name, email, phone FROM {Contact._meta.db_table} "
        "WHERE id >= %s AND id <= %s ORDER BY id"
    )
    while first <= max_id:
        last = first + CHUNK - 1
        companies = dict(
            ContactCompany.objects.filter(
                contact_id__gte=first, contact_id__lte=last, is_primary=True
            ).values_list("contact_id", "company_id")
        )
        with connection.cursor() as cur:
            cur.execute(sql, [first, last])
            rows = [(*row, companies.get(row[0])) for row in cur.fetchall()]
        yield chunk_no, rows
        chunk_no += 1
        first = last + 1


# --- the whole build -------------------------------------------------------------------------


def build_sales_demo(
    *,
    seed: int = 1,
    bulk: bool | None = None,
    workers: int | None = None,
    log: Log = print,
) -> SalesDemoResult:
    """Add the sales side to the demo company in the current database; see the module doc."""
    started = time.monotonic()
    if Deal.objects.exists() or Order.objects.exists() or Product.objects.exists():
        raise ConflictError("The database already has sales data. Use --reset to replace it.")
    org = _load_org()
    contacts = Contact.objects.count()
    max_contact = Contact.objects.order_by("-id").values_list("id", flat=True).first() or 0
    bulk = contacts >= BULK_THRESHOLD if bulk is None else bulk
    workers = (2 if contacts >= BULK_THRESHOLD else 1) if workers is None else workers
    rng = random.Random(f"{seed}:sales")
    now = timezone.now().replace(second=0, microsecond=0)
    clock = _Time(now)
    result = SalesDemoResult()
    _NEXT_ID.clear()
    with transaction.atomic():
        made = _settings_and_catalogue(rng, clock, org)
    ref: _Ref = made["ref"]
    _STAGE_NAMES.clear()
    for pid, name, sid in Stage.objects.values_list("pipeline_id", "name", "id"):
        _STAGE_NAMES.setdefault(pid, {})[sid] = name
    result.products = made["product_count"]
    result.price_lists = made["lists"]
    result.pipelines = len(PIPELINES)
    result.web_form_keys = [f.key for f in made["forms"].values()]
    result.board_pipeline_id = ref.board_pipeline
    company_names = dict(Company.objects.values_list("id", "name"))
    gen = _Gen(seed, ref, org, clock, company_names)
    max_interaction = Interaction.objects.order_by("-id").values_list("id", flat=True).first()
    off = {"deal": 1, "dp": 1, "sc": 1, "order": 1, "line": 1, "lead": 1,
           "interaction": (max_interaction or 0) + 1}  # fmt: skip
    open_deals: dict[int, int] = {}
    won_last_year: dict[int, int] = {}
    quote_candidates: list = []
    loader = _loader(bulk, log)
    loader.begin()
    try:
        next_report = 0.0
        done = 0
        for out in _generate(gen, _contact_chunks(max_contact), workers):
            with loader.chunk():
                _write_chunk(loader, out, off)
            done += CHUNK
            for k, v in out.open_deals.items():
                open_deals[k] = open_deals.get(k, 0) + v
            for k, v in out.won_last_year.items():
                won_last_year[k] = won_last_year.get(k, 0) + v
            quote_candidates += [
                (q[0] + off["deal_prev"], *q[1:],
                 out.won_order[q[0]] + off["order_prev"] if q[0] in out.won_order else None)
                for q in out.quote_candidates
            ]  # fmt: skip
            if max_contact and min(done, max_contact) / max_contact >= next_report:
                elapsed = time.monotonic() - started
                log(
                    f"sales: contacts {min(done, max_contact):,}/{max_contact:,}  deals "
                    f"{off['deal'] - 1:,}  orders {off['order'] - 1:,}  {elapsed:.0f}s"
                )
                next_report += 0.1
        result.deals = off["deal"] - 1
        result.deal_products = off["dp"] - 1
        result.stage_changes = off["sc"] - 1
        result.orders = off["order"] - 1
        result.order_lines = off["line"] - 1
        converted = off["lead"] - 1
        with loader.chunk():
            result.leads = converted + _write_open_leads(loader, seed, org, ref, clock, contacts,
                                                         off)  # fmt: skip
            q = _write_quotes(loader, seed, org, ref, clock, quote_candidates, off)
            result.quotes, result.quote_lines = q
            result.targets = _write_targets(loader, seed, org, clock, won_last_year)
            loader.flush_timeline()
        result.interactions = off["interaction"] - (max_interaction or 0) - 1
        result.open_deals = sum(open_deals.values())
        result.board_open_deals = open_deals.get(ref.board_pipeline, 0)
        log(
            f"sales rows loaded in {time.monotonic() - started:.0f}s"
            + ("; building indexes" if bulk else "")
        )
    finally:
        loader.finish()
    rolled = time.monotonic()
    rollup.rebuild()  # the orders were bulk-loaded around the order services
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute(f"ANALYZE {ProductMonth._meta.db_table}")
    log(f"product rollup for P&L built in {time.monotonic() - rolled:.0f}s")
    result.seconds = time.monotonic() - started
    log(f"sales done in {result.seconds:.0f}s")
    return result


def _write_chunk(loader: _Loader, out: _ChunkOut, off: dict) -> None:
    d, dp, sc, o, ln, ld = (off[k] for k in ("deal", "dp", "sc", "order", "line", "lead"))
    loader.insert(Deal, DEAL_COLS, ((r[0] + d, *r[1:]) for r in out.deals))
    loader.insert(DealProduct, DEAL_PRODUCT_COLS,
                  ((r[0] + dp, r[1] + d, *r[2:]) for r in out.deal_products))  # fmt: skip
    loader.insert(StageChange, STAGE_CHANGE_COLS,
                  ((r[0] + sc, r[1] + d, *r[2:]) for r in out.stage_changes))  # fmt: skip
    loader.insert(
        Order, ORDER_COLS,
        ((r[0] + o, f"{ORDER_PREFIX}{r[0] + o:07d}", r[1], r[2], r[3], r[4], r[5], r[6],
          None if r[7] is None else r[7] + d, None, *r[8:]) for r in out.orders),
    )  # fmt: skip
    loader.insert(OrderLine, LINE_COLS, ((r[0] + ln, r[1] + o, *r[2:]) for r in out.lines))
    loader.insert(Lead, LEAD_COLS, ((r[0] + ld, *r[1:27], r[27] + d, *r[28:]) for r in out.leads))
    i = off["interaction"]
    rows = [
        (i + n, kind, channel, direction, at, subject, body, outcome, user, cid, company, rtype,
         rid + (d if rtype == "deal" else o))
        for n, (kind, channel, direction, at, subject, body, outcome, user, cid, company, rtype,
                rid) in enumerate(out.interactions)
    ]  # fmt: skip
    loader.insert_timeline(rows)
    off["deal_prev"] = d
    off["order_prev"] = o
    off["deal"] += len(out.deals)
    off["dp"] += len(out.deal_products)
    off["sc"] += len(out.stage_changes)
    off["order"] += len(out.orders)
    off["line"] += len(out.lines)
    off["lead"] += len(out.leads)
    off["interaction"] += len(rows)


def _person(rng: random.Random, english: bool) -> tuple[str, str]:
    female = rng.random() < 0.5
    if english:
        return rng.choice(EN_FEMALE if female else EN_MALE), rng.choice(EN_LAST)
    last = rng.choice(RU_LAST)
    return rng.choice(RU_FEMALE if female else RU_MALE), female_surname(last) if female else last


def _write_open_leads(loader, seed, org: _Org, ref: _Ref, clock: _Time, contacts: int,
                      off: dict) -> int:  # fmt: skip
    """Leads that are not customers (yet): new, in progress, qualified, disqualified."""
    rng = random.Random(f"{seed}:leads")
    from kliento.customers.demo import RU_CITIES, RU_MOBILE, US_AREA, weighted

    cities = weighted(RU_CITIES)
    count = max(20, contacts * 4 // 100)
    rows = []
    lead_id = off["lead"]
    reasons = ["no_budget", "no_need", "unreachable", "competitor", "spam", "duplicate", "other"]
    for _ in range(count):
        english = rng.random() < 0.15
        first, last = _person(rng, english)
        age_days = int(YEARS_DAYS * rng.random() ** 2.5)
        created = clock.now - age_days * DAY - int(rng.random() * 36_000)
        if age_days < 10:
            status = rng.choice(["new", "new", "new", "working", "working", "qualified"])
        elif age_days < 60:
            status = rng.choice(["working", "working", "qualified", "disqualified", "new"])
        else:
            status = rng.choice(["disqualified"] * 6 + ["working", "qualified"])
        if english:
            country, city, region = ("GB", "London", "England") if rng.random() < 0.6 else (
                "US", "New York", "NY")  # fmt: skip
            team = "london"
            domain = rng.choice(["gmail.com", "outlook.com", "yahoo.com"])
            email = f"{first.lower()}.{last.lower()}{rng.randint(1, 99)}@{domain}"
            phone = (
                f"+447{rng.randint(400000000, 999999999)}"
                if country == "GB"
                else f"+1{rng.choice(US_AREA['New York'])}{rng.randint(2000000, 9999999)}"
            )
            company_name = rng.choice(EN_COMPANY_WORDS) if rng.random() < 0.5 else ""
            job = rng.choice(JOB_TITLES_EN)
            message = rng.choice(LEAD_MESSAGES_EN)
        else:
            country = "RU"
            city, region = cities[int(rng.random() * len(cities))]
            team = _team_for_place(country, region, city)
            domain = rng.choice(["mail.ru", "yandex.ru", "gmail.com", "bk.ru"])
            email = f"{translit(first)}.{translit(last)}{rng.randint(1, 99)}@{domain}"
            phone = f"+7{rng.choice(RU_MOBILE)}{rng.randrange(10**7):07d}"
            company_name = f"ООО «{rng.choice(RU_COMPANY_WORDS)}»" if rng.random() < 0.5 else ""
            job = rng.choice(JOB_TITLES_RU)
            message = rng.choice(LEAD_MESSAGES_RU)
        if rng.random() < 0.2:
            phone = ""
        r = rng.random()
        source = "web_form" if r < 0.55 else ("api" if r < 0.7 else ("import" if r < 0.82 else
                                                                     "manual"))  # fmt: skip
        web_form = ref.web_forms["en" if english else "ru"] if source == "web_form" else None
        utm = ("", "", "", "", "")
        if source == "web_form":
            utm = (*LEAD_CAMPAIGNS[int(rng.random() * len(LEAD_CAMPAIGNS))], "", "")
        if source == "import":
            rule, owner = ref.rules["import"], org.heads["moscow"]
        else:
            rule = ref.rules.get(team)
            if team == "london" and source != "web_form":
                rule = None
            reps = org.reps[team]
            owner = reps[int(rng.random() * len(reps))]
        channel = {"web_form": "web", "api": "web", "import": "in_person"}.get(source, "phone")
        score = _lead_score(ref.scoring, country, company_name, phone, job, source)
        score += 15 if status == "qualified" else (5 if status == "working" else 0)
        reason = rng.choice(reasons) if status == "disqualified" else ""
        updated = min(created + int(rng.random() * 20 * DAY), clock.now)
        rows.append(
            (lead_id, first, last, company_name, job, email, phone, country, region, city, "",
             message, status, score, source, channel, utm[2], *utm,
             "https://yandex.ru/" if source == "web_form" and not english else "", web_form,
             owner, None, None, None, None, reason, "", rule, "", "{}",
             1 if status == "new" else 2, clock.dt(created), clock.dt(updated))
        )  # fmt: skip
        lead_id += 1
    loader.insert(Lead, LEAD_COLS, rows)
    off["lead"] = lead_id
    return len(rows)


def _write_quotes(loader, seed, org: _Org, ref: _Ref, clock: _Time, candidates: list,
                  off: dict) -> tuple[int, int]:  # fmt: skip
    """A few hundred quotes on deals in late stages and recently closed ones, with lines."""
    rng = random.Random(f"{seed}:quotes")
    if not candidates:
        return 0, 0
    picked = candidates
    if len(picked) > QUOTES_MAX:
        picked = rng.sample(candidates, QUOTES_MAX)
        picked.sort(key=lambda q: q[0])
    terms = OrgSettings.get().quote_terms
    quote_rows, line_rows, approvals, interactions, order_links = [], [], [], [], []
    quote_id = (Quote.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
    line_id = 1
    approval_id = 1
    year_counters: dict[int, int] = {}
    limits = {"rep": 1000, "head": 2500}
    for (deal_id, status, _pipeline, _s, owner, cid, company, price_list, currency, lines, created,
         closed, ru, email, order_id) in picked:  # fmt: skip
        issued_ts = (closed - int(rng.uniform(3, 15) * DAY)) if closed else (
            clock.now - int(rng.uniform(1, 20) * DAY))  # fmt: skip
        issued_ts = max(issued_ts, created)
        revisions = 2 if rng.random() < 0.2 else 1
        year = datetime.fromtimestamp(issued_ts, UTC).year
        year_counters[year] = year_counters.get(year, 0) + 1
        number = f"{QUOTE_PREFIX}{year}-{year_counters[year]:04d}"
        doc_pct = rng.choice([0, 0, 0, 5, 7, 12])
        # A proposal also prices what goes with the deal's products: services, accessories.
        extras = []
        for code in rng.sample(sorted(ref.by_code), rng.randint(0, 5)):
            pool = ref.by_code[code]
            p = pool[int(rng.random() * len(pool))]
            low, high = QTY[ref.products[p][3]]
            extras.append((p, rng.randint(low, max(low, high // 2)), 0))
        for revision in range(1, revisions + 1):
            last = revision == revisions
            if not last:
                q_status = "superseded"
            elif status == "won":
                q_status = "accepted"
            elif status == "lost":
                q_status = "declined"
            else:
                q_status = rng.choice(["sent", "sent", "draft", "approved"])
            role = org.role_of.get(owner, "rep")
            limit = limits.get(role, 1000)
            if doc_pct * 100 > limit and q_status == "draft":
                q_status = "pending_approval"
            rev_ts = issued_ts + (revision - 1) * int(2 * DAY)
            prices = ref.prices[price_list]
            gross_lines = []
            for p, qty, _d in lines + extras:
                pid = ref.products[p][0]
                line_pct = rng.choice([0, 0, 0, 3, 5])
                gross = qty * prices[pid]
                gross_lines.append((p, qty, line_pct, gross, _half_up(gross * line_pct, 100)))
            after_line = sum(g - ld for _p, _q, _lp, g, ld in gross_lines)
            doc_discount = _half_up(after_line * doc_pct, 100)
            subtotal = discount_total = tax_total = 0
            shared = 0
            for position, (p, qty, line_pct, gross, line_disc) in enumerate(gross_lines):
                pid, _code, pname, unit, cost, vat_bp, _a = ref.products[p]
                base = gross - line_disc
                if position == len(gross_lines) - 1:
                    share = doc_discount - shared
                else:
                    share = _half_up(doc_discount * base, after_line) if after_line else 0
                    shared += share
                net = base - share
                tax = _half_up(net * vat_bp, 10_000)
                subtotal += gross
                discount_total += line_disc + share
                tax_total += tax
                line_rows.append(
                    (line_id, quote_id, position, pid, pname, unit if ru else UNIT_EN.get(unit,
                     unit), qty, _m(prices[pid]), "percent" if line_pct else "", _m(line_pct * 100),
                     f"{vat_bp // 100}.{vat_bp % 100:02d}", _m(cost), _m(net),
                     _m(line_disc + share), _m(tax))
                )  # fmt: skip
                line_id += 1
            total = subtotal - discount_total + tax_total
            pct = _half_up(discount_total * 10_000, subtotal) if subtotal else 0
            approved_by = approved_at = None
            head = org.heads.get(org.team_of.get(owner, "moscow"), org.heads["sales"])
            if pct > limit and q_status not in ("draft", "pending_approval"):
                approved_by, approved_at = head, clock.dt(rev_ts + 3600)
                approvals.append((approval_id, quote_id, "requested", _m(pct), _m(limit), owner,
                                  "", clock.dt(rev_ts + 600)))  # fmt: skip
                approvals.append((approval_id + 1, quote_id, "approved", _m(pct), _m(limit),
                                  head, "Согласовано" if ru else "Approved",
                                  clock.dt(rev_ts + 3600)))  # fmt: skip
                approval_id += 2
            elif q_status == "pending_approval":
                approvals.append((approval_id, quote_id, "requested", _m(pct), _m(limit), owner,
                                  "", clock.dt(rev_ts + 600)))  # fmt: skip
                approval_id += 1
            sent = q_status in ("sent", "accepted", "declined", "superseded")
            sent_at = clock.dt(rev_ts + 7200) if sent else None
            responded = closed if q_status in ("accepted", "declined") and closed else None
            valid_until = clock.day(rev_ts + 30 * DAY)
            token = f"{rng.getrandbits(192):048x}"
            quote_rows.append(
                (quote_id, deal_id, number, revision, q_status, price_list, currency,
                 "ru" if ru else "en", cid, company, owner, clock.day(rev_ts), valid_until, terms,
                 "percent" if doc_pct else "", _m(doc_pct * 100), _m(subtotal), _m(discount_total),
                 _m(tax_total), _m(total), _m(pct), approved_by, approved_at, "", token, sent_at,
                 email if sent else "", clock.dt(responded) if responded else None,
                 ("Выбрали другого поставщика" if ru else "Went with another supplier")
                 if q_status == "declined" else "", 1, clock.dt(rev_ts),
                 clock.dt(responded or rev_ts))
            )  # fmt: skip
            if sent:
                subject = (f"Коммерческое предложение {number} v{revision}" if ru else
                           f"Quote {number} v{revision}")  # fmt: skip
                interactions.append(("email", "email", "out", sent_at, subject, owner, cid,
                                     company, quote_id))  # fmt: skip
            if q_status == "accepted" and order_id is not None:
                order_links.append((quote_id, order_id))
            quote_id += 1
    loader.insert(Quote, QUOTE_COLS, quote_rows)
    loader.insert(QuoteLine, QUOTE_LINE_COLS, line_rows)
    loader.insert(QuoteApproval, APPROVAL_COLS, approvals)
    i = off["interaction"]
    rows = [(i + n, kind, channel, direction, at, subject, "", "sent", user, cid, company,
             "quote", qid)
            for n, (kind, channel, direction, at, subject, user, cid, company, qid)
            in enumerate(interactions)]  # fmt: skip
    loader.insert_timeline(rows)
    off["interaction"] += len(rows)
    # The order of a won deal came from its accepted quote.
    with connection.cursor() as cur:
        cur.executemany(
            f"UPDATE {Order._meta.db_table} SET quote_id = %s WHERE id = %s", order_links
        )
    return len(quote_rows), len(line_rows)


SEASON = [7, 7, 8, 8, 8, 7, 7, 7, 9, 10, 10, 12]  # month weights (out of 100)


def _write_targets(loader, seed, org: _Org, clock: _Time, won_last_year: dict) -> int:
    """This year's targets: company → sales → teams → reps; years, quarters, months."""
    rng = random.Random(f"{seed}:targets")
    year = clock.today.year
    now = clock.dt(clock.now)
    set_by = org.heads["sales"]
    # Reps' monthly targets in whole thousands of roubles; everything above is their sum.
    rep_months: dict[int, list[int]] = {}
    for team in ("moscow", "spb", "kazan", "london"):
        for rep in org.reps[team]:
            base = won_last_year.get(rep, 0) * rng.uniform(1.1, 1.25)
            base = max(base, 1_500_000_00)
            rep_months[rep] = [int(base * w / 100) // 100_000 * 100_000 for w in SEASON]
    rows, tid = [], 1

    def add(kind, start, team, user, amount, parent, method, weight, forecast, adjusted):
        nonlocal tid
        rows.append((tid, kind, start.isoformat(), "deals_won", team, user, _m(amount),
                     None if forecast is None else _m(forecast), parent, method,
                     None if weight is None else f"{weight:.4f}", int(adjusted),
                     user if adjusted else set_by, "", 1, now, now))  # fmt: skip
        tid += 1
        return tid - 1

    periods = [("year", date(year, 1, 1), list(range(12)))]
    periods += [("quarter", date(year, 3 * q + 1, 1), list(range(3 * q, 3 * q + 3)))
                for q in range(4)]  # fmt: skip
    periods += [("month", date(year, m + 1, 1), [m]) for m in range(12)]
    current_month = clock.today.month - 1
    team_reps = {t: org.reps[t] for t in ("moscow", "spb", "kazan", "london")}
    for kind, start, months in periods:
        total = sum(sum(rep_months[r][m] for m in months) for r in rep_months)
        root = add(kind, start, org.teams["root"], None, total, None, "manual", None, None, False)
        sales = add(kind, start, org.teams["sales"], None, total, root, "even", None, None, False)
        for team, reps in team_reps.items():
            amount = sum(sum(rep_months[r][m] for m in months) for r in reps)
            weight = amount / total if total else 0
            tgt = add(kind, start, org.teams[team], None, amount, sales, "last_year", weight,
                      None, False)  # fmt: skip
            for rep in reps:
                amt = sum(rep_months[rep][m] for m in months)
                forecast = None
                if kind == "month" and months[0] in (current_month, current_month + 1):
                    forecast = int(amt * rng.uniform(0.8, 1.2)) // 100_000 * 100_000
                adjusted = kind == "month" and rng.random() < 0.1
                add(kind, start, None, rep, amt, tgt, "last_year",
                    amt / amount if amount else 0, forecast, adjusted)  # fmt: skip
    loader.insert(SalesTarget, TARGET_COLS, rows)
    return len(rows)


def sales_demo_summary(result: SalesDemoResult) -> str:
    return (
        f"Sales: {result.deals:,} deals ({result.open_deals:,} open; {result.board_open_deals:,} "
        f"on the board of pipeline #{result.board_pipeline_id}), {result.stage_changes:,} stage "
        f"changes, {result.orders:,} orders ({result.order_lines:,} lines), {result.leads:,} "
        f"leads, {result.quotes:,} quotes, {result.products:,} products, {result.targets:,} "
        f"targets in {result.seconds:.0f}s."
    )
