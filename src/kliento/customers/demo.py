"""The demo company: a believable customer base built deterministically from a seed.

`build_demo(contacts=N, seed=S)` creates an org chart with users of every role except admin
(`kliento serve` creates the admin), then bulk-loads companies, contacts, company links,
consent, three years of interactions, open tasks, a few shares, the search index and its
vocabulary. Rows are generated in chunks (bounded memory) with explicit ids and written with
executemany (SQLite) or COPY (PostgreSQL); for big loads secondary indexes, constraints and
the FTS triggers are dropped first and rebuilt once at the end.

Each chunk has its own random stream derived from (seed, chunk number), so the same seed gives
the same people, companies and timelines; only timestamps move with "now" (the data always
ends today, with tasks overdue, due today and upcoming).

The benchmark contact: when contacts >= HEAVY_MIN_CONTACTS, the first demo contact (the lowest
contact id) gets HEAVY_INTERACTIONS interactions and the tag HEAVY_TAG ("bench-heavy").
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
import random
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.utils import timezone

from kliento.core.errors import ConflictError
from kliento.core.models import AuditLog, Role, Team, User
from kliento.core.services import team_create
from kliento.customers.models import (
    DEFAULT_CHANNEL,
    Company,
    Consent,
    Contact,
    ContactCompany,
    Interaction,
    RecordShare,
    SearchEntry,
    SearchWord,
    tags_to_db,
)
from kliento.customers.normalize import search_text
from kliento.customers.search import vocabulary_words

HEAVY_TAG = "bench-heavy"
HEAVY_INTERACTIONS = 5000
HEAVY_MIN_CONTACTS = 10_000
DEMO_EMAIL_DOMAIN = "demo.kliento.example"
DEMO_ROOT_TEAM = "Vostok Trading"
CHUNK = 5000
# Ids reserved per chunk of CHUNK contacts (a contact has ≤ 35 interactions, ≤ 6 consents and
# ≤ 2 company links; the heavy one HEAVY_INTERACTIONS more).
ID_STRIDE = {
    "interaction": CHUNK * 40 + HEAVY_INTERACTIONS,
    "consent": CHUNK * 7,
    "link": CHUNK * 2,
}
# Below this many contacts the loader keeps indexes and triggers in place (fast enough, simpler).
BULK_THRESHOLD = 20_000
YEARS_DAYS = 3 * 365

Log = Callable[[str], None]


@dataclass
class DemoResult:
    contacts: int = 0
    companies: int = 0
    interactions: int = 0
    open_tasks: int = 0
    consents: int = 0
    links: int = 0
    shares: int = 0
    search_entries: int = 0
    words: int = 0
    users: list[tuple[str, str]] = field(default_factory=list)  # (username, role)
    password: str = ""
    heavy_contact_id: int | None = None
    seconds: float = 0.0


# --- columns (order of the tuples the generators produce) -----------------------------------

CONTACT_COLS = (
    "id", "owner_id", "tags", "custom", "version", "created_at", "updated_at", "first_name",
    "middle_name", "last_name", "email", "phone", "emails", "phones", "birth_date", "gender",
    "language", "country", "region", "city", "social", "lifecycle_stage", "preferred_channel",
    "preferences",
)  # fmt: skip
COMPANY_COLS = (
    "id", "owner_id", "tags", "custom", "version", "created_at", "updated_at", "name",
    "legal_name", "tax_id", "industry", "size", "country", "region", "city", "address",
    "postal_address", "website", "emails", "phones",
)  # fmt: skip
LINK_COLS = ("id", "contact_id", "company_id", "role", "title", "is_primary")
CONSENT_COLS = ("id", "contact_id", "channel", "status", "at", "source")
SHARE_COLS = ("id", "entity", "object_id", "user_id", "can_edit", "created_at")
SEARCH_COLS = ("id", "entity", "object_id", "owner_id", "title", "text")
INTERACTION_COLS = (
    "id", "kind", "channel", "direction", "occurred_at", "subject", "body", "outcome",
    "duration_seconds", "user_id", "contact_id", "company_id", "related_type", "related_id",
    "planned", "due_at", "assignee_id", "done", "done_at", "remind_at", "reminded_at", "version",
    "created_at", "updated_at",
)  # fmt: skip

BIG_MODELS = [Contact, Company, ContactCompany, Consent, Interaction, SearchEntry, SearchWord]


# --- small helpers ---------------------------------------------------------------------------

_TRANSLIT = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z",
    "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r",
    "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh",
    "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu", "я": "ya",
}  # fmt: skip


def translit(text: str) -> str:
    """Russian → Latin the way people spell their email addresses (Соколова → sokolova)."""
    out = "".join(_TRANSLIT.get(ch, ch) for ch in text.lower())
    return "".join(ch for ch in out if ch.isalnum())


def female_surname(last: str) -> str:
    if last.endswith(("ов", "ев", "ёв", "ин", "ын")):
        return last + "а"
    if last.endswith("ий"):
        return last[:-2] + "ая"
    return last


def inn_ru(rng: random.Random, region_code: str) -> str:
    """A 10-digit legal-entity INN with a valid check digit."""
    digits = [int(c) for c in region_code] + [rng.randrange(10) for _ in range(7)]
    weights = (2, 4, 10, 3, 5, 9, 4, 6, 8)
    check = sum(d * w for d, w in zip(digits, weights, strict=True)) % 11 % 10
    return "".join(map(str, digits)) + str(check)


def weighted(pairs: Sequence[tuple]) -> list:
    """Expand (value..., weight) rows into a list to pick from uniformly (the sales demo draws
    its cities from the same weights)."""
    out = []
    for row in pairs:
        value = row[0] if len(row) == 2 else row[:-1]
        out += [value] * row[-1]
    return out


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    action = rng.random()
    if action < 0.4:  # swap neighbours
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if action < 0.7:  # drop a letter
        return word[:i] + word[i + 1 :]
    return word[:i] + word[i] + word[i:]  # double a letter


def _dt(value: datetime) -> str:
    """Datetimes as both backends read them back (UTC, naive text; PG session is UTC)."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


# --- loaders: how rows reach the database ---------------------------------------------------


def sqlite_drop_for_load(raw, tables: Sequence[str]) -> tuple[list[str], list[str]]:
    """Drop the indexes and triggers of `tables` (SQLite) before a bulk load; returns their SQL
    (indexes, triggers) for `sqlite_restore_after_load`."""
    marks = ",".join("?" * len(tables))
    rows = raw.execute(
        f"SELECT type, name, sql FROM sqlite_master WHERE tbl_name IN ({marks}) "
        "AND type IN ('index', 'trigger') AND sql IS NOT NULL",
        list(tables),
    ).fetchall()
    indexes: list[str] = []
    triggers: list[str] = []
    for kind, name, sql in rows:
        (indexes if kind == "index" else triggers).append(sql)
        raw.execute(f'DROP {kind.upper()} "{name}"')
    return indexes, triggers


def sqlite_restore_after_load(raw, indexes: Sequence[str], triggers: Sequence[str], log) -> None:
    for sql in indexes:
        started = time.monotonic()
        raw.execute(sql)
        log(f"  {sql.split(' ON ')[0]}: {time.monotonic() - started:.1f}s")
    for sql in triggers:
        raw.execute(sql)


def pg_drop_for_load(cur, tables: Sequence[str]) -> tuple[list[tuple[str, str, str]], list[str]]:
    """Drop the foreign-key and unique constraints and the other indexes of `tables`
    (PostgreSQL) before a bulk load; returns (constraints, index definitions) for
    `pg_restore_after_load`."""
    # Deferred FK checks pending in this transaction would block ALTER TABLE.
    cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
    cur.execute(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
        "FROM pg_constraint WHERE conrelid = ANY(%s::regclass[]) AND contype IN ('f','u') "
        "ORDER BY contype, conname",
        [list(tables)],
    )
    constraints = cur.fetchall()
    cur.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
        "AND tablename = ANY(%s) AND indexname NOT IN (SELECT conname FROM pg_constraint)",
        [list(tables)],
    )
    indexes = cur.fetchall()
    for table, name, _definition in constraints:
        cur.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _definition in indexes:
        cur.execute(f'DROP INDEX "{name}"')
    return constraints, [definition for _name, definition in indexes]


def pg_restore_after_load(cur, indexes, constraints, chunk, log) -> None:
    """Rebuild what `pg_drop_for_load` dropped, each in its own transaction (`chunk`)."""
    for sql in indexes:
        started = time.monotonic()
        with chunk():
            cur.execute(sql)
        log(f"  {sql.split(' USING ')[0]}: {time.monotonic() - started:.1f}s")
    for table, name, definition in constraints:
        started = time.monotonic()
        with chunk():
            cur.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        log(f"  constraint {name}: {time.monotonic() - started:.1f}s")


def pg_sync_sequences(cur, tables: Sequence[str]) -> None:
    """Point each table's id sequence past the ids a bulk load wrote."""
    for table in tables:
        cur.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) FROM {table}"
        )


class _Loader:
    vendor = ""

    def __init__(self, bulk: bool, log: Log):
        self.bulk = bulk
        self.log = log
        self.saved: list[str] = []

    @contextmanager
    def chunk(self):
        with transaction.atomic():
            yield

    def insert(self, model, cols: Sequence[str], rows: Iterable[Sequence]) -> None:
        raise NotImplementedError

    def insert_interactions(self, rows: list[tuple]) -> None:
        """Past, unplanned interactions given as their first 12 columns (see _ChunkOut)."""
        raise NotImplementedError

    def begin(self) -> None: ...

    def finish(self) -> None: ...


class _SqliteLoader(_Loader):
    vendor = "sqlite"

    def __init__(self, bulk: bool, log: Log):
        super().__init__(bulk, log)
        self.raw = None
        self.triggers: list[str] = []
        self.fk_off = False

    def _exec(self, sql: str) -> None:
        connection.cursor().execute(sql)

    def begin(self) -> None:
        connection.ensure_connection()
        self.raw = connection.connection
        if not connection.in_atomic_block:
            self._exec("PRAGMA foreign_keys=OFF")
            self._exec("PRAGMA synchronous=OFF")
            self._exec("PRAGMA cache_size=-1048576")
            self._exec("PRAGMA threads=2")
            self.fk_off = True
        if not self.bulk:
            return
        with self.chunk():
            self.saved, self.triggers = sqlite_drop_for_load(
                self.raw, [m._meta.db_table for m in BIG_MODELS]
            )
        self.log(
            f"dropped {len(self.saved)} indexes and {len(self.triggers)} triggers for the load"
        )

    def insert(self, model, cols, rows) -> None:
        sql = (
            f"INSERT INTO {model._meta.db_table} ({', '.join(cols)}) "
            f"VALUES ({', '.join('?' * len(cols))})"
        )
        self.raw.executemany(sql, rows)

    def insert_interactions(self, rows) -> None:
        # Numbered parameters bind occurred_at once for three columns and constants stay in
        # the SQL: binding is most of the cost of executemany.
        self.raw.executemany(
            f"INSERT INTO {Interaction._meta.db_table} ({', '.join(INTERACTION_COLS[:12])}, "
            "related_type, planned, done, version, created_at, updated_at) VALUES ("
            + ", ".join(f"?{i}" for i in range(1, 13))
            + ", '', 0, 0, 1, ?5, ?5)",
            rows,
        )

    def finish(self) -> None:
        if self.bulk:
            with self.chunk():
                sqlite_restore_after_load(self.raw, self.saved, self.triggers, self.log)
            for fts in ("customers_search_fts", "customers_searchword_fts"):
                started = time.monotonic()
                with self.chunk():
                    self.raw.execute(f"INSERT INTO {fts}({fts}) VALUES('rebuild')")
                self.log(f"  rebuilt {fts}: {time.monotonic() - started:.1f}s")
        if self.fk_off:
            self._exec("PRAGMA analysis_limit=2000")
            self._exec("ANALYZE")
            self._exec("PRAGMA wal_checkpoint(TRUNCATE)")
            self._exec("PRAGMA synchronous=NORMAL")
            self._exec("PRAGMA cache_size=-65536")
            self._exec("PRAGMA foreign_keys=ON")


class _PostgresLoader(_Loader):
    vendor = "postgresql"

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

    def insert(self, model, cols, rows) -> None:
        raw = connection.connection
        with (
            raw.cursor() as cur,
            cur.copy(f"COPY {model._meta.db_table} ({', '.join(cols)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)

    def insert_interactions(self, rows) -> None:
        tail = ("", None, 0, None, None, 0, None, None, None, 1)
        self.insert(Interaction, INTERACTION_COLS, ((*r, *tail, r[4], r[4]) for r in rows))

    def finish(self) -> None:
        tables = [m._meta.db_table for m in [*BIG_MODELS, RecordShare]]
        with connection.cursor() as cur:
            if self.bulk:
                pg_restore_after_load(cur, self.saved, self.constraints, self.chunk, self.log)
            pg_sync_sequences(cur, [t for t in tables if t != SearchWord._meta.db_table])
            cur.execute("ANALYZE " + ", ".join(tables))
            cur.execute("SET synchronous_commit = on")


def _loader(bulk: bool, log: Log) -> _Loader:
    if connection.vendor == "postgresql":
        return _PostgresLoader(bulk, log)
    if connection.vendor == "sqlite":
        return _SqliteLoader(bulk, log)
    raise ConflictError(f"The demo loader supports SQLite and PostgreSQL, not {connection.vendor}.")


# --- wiping -------------------------------------------------------------------------------


def demo_wipe(log: Log = print) -> None:
    """Delete every customer record, the search index, and the demo users and teams."""
    tables = [
        m._meta.db_table
        for m in [Interaction, Consent, ContactCompany, RecordShare, SearchEntry, SearchWord]
    ] + [Contact._meta.db_table, Company._meta.db_table]
    if connection.vendor == "postgresql":
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cur.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
    else:
        connection.ensure_connection()
        outside = not connection.in_atomic_block
        with connection.cursor() as cur:
            if outside:
                cur.execute("PRAGMA foreign_keys=OFF")
            with transaction.atomic():
                cur.execute(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                    "AND tbl_name IN ('customers_searchentry', 'customers_searchword')"
                )
                triggers = cur.fetchall()
                for name, _sql in triggers:
                    cur.execute(f'DROP TRIGGER "{name}"')
                for table in tables:
                    cur.execute(f"DELETE FROM {table}")
                for fts in ("customers_search_fts", "customers_searchword_fts"):
                    cur.execute(f"INSERT INTO {fts}({fts}) VALUES('delete-all')")
                for _name, sql in triggers:
                    cur.execute(sql)
            if outside:
                cur.execute("PRAGMA foreign_keys=ON")
    with transaction.atomic():
        AuditLog.objects.filter(entity__in=["contact", "company", "interaction"]).delete()
        demo_users = User.objects.filter(email__endswith="@" + DEMO_EMAIL_DOMAIN)
        AuditLog.objects.filter(entity="user", object_id__in=demo_users.values("id")).delete()
        demo_users.delete()
        for root in Team.objects.filter(name=DEMO_ROOT_TEAM, parent=None):
            subtree = Team.objects.filter(path__startswith=root.path)
            if User.objects.filter(team__in=subtree).exists():
                continue
            for team in sorted(subtree, key=lambda t: -len(t.path)):
                team.delete()
    log("wiped customer data and demo users")


# --- the org chart ----------------------------------------------------------------------------


@dataclass
class Org:
    reps_by_team: dict[str, list[int]]
    heads: dict[str, int]
    marketers: list[int]
    support: list[int]
    analyst: int
    users: list[tuple[str, str]]
    lang_of_team: dict[str, str]

    @property
    def reps(self) -> list[int]:
        return [u for ids in self.reps_by_team.values() for u in ids]


SALES_TEAMS = [
    ("moscow", "Москва", "ru"),
    ("spb", "Санкт-Петербург", "ru"),
    ("kazan", "Казань", "ru"),
    ("london", "London", "en"),
]


def _create_org(seed: int, contacts: int, password: str) -> Org:
    rng = random.Random(f"{seed}:org")
    root = team_create(actor=None, name=DEMO_ROOT_TEAM)
    sales = team_create(actor=None, name="Sales", parent=root)
    teams = {
        "sales": sales,
        "marketing": team_create(actor=None, name="Marketing", parent=root),
        "service": team_create(actor=None, name="Customer Service", parent=root),
        "analytics": team_create(actor=None, name="Analytics", parent=root),
    }
    for key, name, _lang in SALES_TEAMS:
        teams[key] = team_create(actor=None, name=name, parent=sales)
    hashed = make_password(password)
    rows: list[tuple[str, str, str, str, str, str]] = list(DEMO_USERS_FIXED)
    per_team = max(2, min(12, contacts // 10_000 + 2))
    taken = {r[0] for r in rows}
    for key, _name, lang in SALES_TEAMS:
        for _ in range(per_team):
            female = rng.random() < 0.5
            if lang == "ru":
                first = rng.choice(RU_FEMALE if female else RU_MALE)
                last = rng.choice(RU_LAST)
                last = female_surname(last) if female else last
                base = f"{translit(first)[0]}.{translit(last)}"
            else:
                first = rng.choice(EN_FEMALE if female else EN_MALE)
                last = rng.choice(EN_LAST)
                base = f"{first[0].lower()}.{last.lower()}"
            username, n = base, 1
            while username in taken:
                n += 1
                username = f"{base}{n}"
            taken.add(username)
            rows.append((username, first, last, Role.REP, key, lang))
    existing = set(User.objects.filter(username__in=taken).values_list("username", flat=True))
    if existing:
        raise ConflictError(
            "Demo users already exist: " + ", ".join(sorted(existing)) + ". Use --reset."
        )
    User.objects.bulk_create(
        [
            User(
                username=username,
                first_name=first,
                last_name=last,
                email=f"{username}@{DEMO_EMAIL_DOMAIN}",
                role=role,
                team=teams[team_key],
                language=lang,
                password=hashed,
            )
            for username, first, last, role, team_key, lang in rows
        ]
    )
    by_name = dict(User.objects.filter(username__in=taken).values_list("username", "id"))
    org = Org(
        reps_by_team={key: [] for key, _n, _l in SALES_TEAMS},
        heads={},
        marketers=[],
        support=[],
        analyst=0,
        users=[(r[0], r[3]) for r in rows],
        lang_of_team={key: lang for key, _n, lang in SALES_TEAMS},
    )
    for username, _first, _last, role, team_key, _lang in rows:
        uid = by_name[username]
        if role == Role.REP:
            org.reps_by_team[team_key].append(uid)
        elif role == Role.HEAD:
            org.heads[team_key] = uid
        elif role == Role.MARKETER:
            org.marketers.append(uid)
        elif role == Role.SUPPORT:
            org.support.append(uid)
        else:
            org.analyst = uid
    return org


# --- generators ---------------------------------------------------------------------------


class _Clock:
    """Day and time-of-day strings precomputed once: formatting per row would dominate."""

    def __init__(self, now: datetime):
        self.now = now
        self.today = now.date()
        self.start = self.today - timedelta(days=YEARS_DAYS)
        self.days = [(self.start + timedelta(days=d)).isoformat() for d in range(YEARS_DAYS)]
        rng = random.Random("clock")
        self.tods = []
        for _ in range(4096):
            hour = min(int(rng.triangular(6, 20, 10)), 19)
            self.tods.append(f" {hour:02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}")

    def at(self, rng: random.Random, day: int) -> str:
        return self.days[day] + self.tods[int(rng.random() * 4096)]


class _Pools:
    """Everything picked per row, expanded once so a pick is one random index."""

    def __init__(self):
        rng = random.Random("pools")
        self.ru_cities = weighted(RU_CITIES)
        self.gb_cities = weighted(GB_CITIES)
        self.us_cities = weighted(US_CITIES)
        self.ru_mail = weighted(RU_MAIL)
        self.en_mail = weighted(EN_MAIL)
        self.ru_legal = weighted(RU_LEGAL)
        self.translit = {n: translit(n) for n in RU_MALE + RU_FEMALE + RU_LAST}
        self.translit.update({female_surname(n): translit(female_surname(n)) for n in RU_LAST})
        # (kind, channel, direction, actor, subject, body, outcome, duration) per language
        self.interactions = {"ru": [], "en": []}
        for lang, subject_at, bodies in (("ru", 4, RU_BODIES), ("en", 5, EN_BODIES)):
            for row in INTERACTIONS:
                kind, channel, direction, actor = row[:4]
                outcomes, durations, weight = row[6], row[7], row[8]
                for _ in range(weight * 10):
                    duration = rng.randint(*durations) if durations else None
                    self.interactions[lang].append(
                        (
                            kind,
                            channel,
                            direction,
                            actor,
                            row[subject_at],
                            rng.choice(bodies),
                            rng.choice(outcomes),
                            duration,
                        )
                    )
        self.stages = weighted(
            [("subscriber", 20), ("lead", 30), ("prospect", 15), ("customer", 28), ("former", 7)]
        )
        self.mean_interactions = {
            "subscriber": 3,
            "lead": 6,
            "prospect": 10,
            "customer": 18,
            "former": 14,
        }


@dataclass
class _Companies:
    ids_by_country: dict[str, list[int]]
    name: dict[int, str]
    domain: dict[int, str]


def _company_rows(seed: int, count: int, org: Org, clock: _Clock, pools: _Pools):
    """All companies (≈ contacts / 8); returns rows plus what contacts need to link to them."""
    rng = random.Random(f"{seed}:companies")
    owners_ru = org.reps_by_team["moscow"] + org.reps_by_team["spb"] + org.reps_by_team["kazan"]
    owners_en = org.reps_by_team["london"]
    info = _Companies({"RU": [], "GB": [], "US": []}, {}, {})
    rows, search = [], []
    sizes = ["1-10", "11-50", "11-50", "51-250", "51-250", "251-1000", "1000+", ""]
    for cid in range(1, count + 1):
        r = rng.random()
        country = "RU" if r < 0.8 else ("GB" if r < 0.92 else "US")
        if country == "RU":
            if rng.random() < 0.35:
                base = rng.choice(RU_CO_WORDS)
            else:
                base = rng.choice(RU_CO_A) + rng.choice(RU_CO_B).lower()
            form = rng.choice(pools.ru_legal)
            city, region = rng.choice(pools.ru_cities)
            name = base
            if form == "ИП":
                female = rng.random() < 0.5
                first = rng.choice(RU_FEMALE if female else RU_MALE)
                last = rng.choice(RU_LAST)
                last = female_surname(last) if female else last
                legal = f"ИП {last} {first}"
                name = f"ИП {last}"
                tax_id = "".join(str(rng.randrange(10)) for _ in range(12))
            else:
                legal = f"{form} «{base}»"
                tax_id = inn_ru(rng, RU_REGION_INN[region])
            slug = translit(name.removeprefix("ИП "))
            domain = f"{slug}{rng.choice(['', '', '-group', '-m', str(rng.randrange(1, 99))])}.ru"
            industry = rng.choice(RU_INDUSTRY)
            address = f"г. {city}, ул. {rng.choice(RU_LAST)[:-2]}ская, д. {rng.randint(1, 120)}"
            phones = [f"+7495{rng.randrange(10**7):07d}" if city == "Москва" else
                      f"+7{rng.choice(RU_MOBILE)}{rng.randrange(10**7):07d}"]  # fmt: skip
            owners = owners_ru
        else:
            base = rng.choice(EN_CO_A) + rng.choice(EN_CO_B)
            name = f"{base} {rng.choice(EN_CO_C)}"
            if country == "GB":
                city, region = rng.choice(pools.gb_cities)
                legal = f"{name} {rng.choice(EN_LEGAL_GB)}"
                tax_id = f"{rng.randrange(10**8):08d}"
                phones = [f"+4420{rng.randrange(10**8):08d}"]
                domain = f"{base.lower()}.co.uk"
            else:
                city, region = rng.choice(pools.us_cities)
                legal = f"{name} {rng.choice(EN_LEGAL_US)}"
                tax_id = f"{rng.randint(10, 99)}-{rng.randrange(10**7):07d}"
                area = rng.choice(US_AREA[city])
                phones = [f"+1{area}{rng.randint(200, 999)}{rng.randrange(10**4):04d}"]
                domain = f"{base.lower()}.com"
            industry = rng.choice(EN_INDUSTRY)
            address = f"{rng.randint(1, 250)} {rng.choice(EN_LAST)} Street, {city}"
            owners = owners_en
        emails = [f"info@{domain}"] if rng.random() < 0.8 else []
        if rng.random() < 0.3:
            emails.append(f"{rng.choice(['sales', 'office', 'zakaz', 'buh'])}@{domain}")
        owner = owners[int(rng.random() * len(owners))]
        created = clock.at(rng, int(rng.random() * (YEARS_DAYS - 60)))
        tags = tags_to_db(rng.sample(TAGS, rng.choice([0, 0, 1, 2])))
        info.ids_by_country[country].append(cid)
        info.name[cid] = name
        info.domain[cid] = domain
        rows.append(
            (cid, owner, tags, "{}", 1, created, created, name, legal, tax_id, industry,
             rng.choice(sizes), country, region, city, address, address if rng.random() < 0.3
             else "", f"https://{domain}", json.dumps(emails), json.dumps(phones))
        )  # fmt: skip
        text = search_text(name, legal, tax_id, *emails, phones=phones)
        search.append((owner, name, text))
    return rows, search, info


@dataclass
class _ChunkOut:
    contacts: list = field(default_factory=list)
    links: list = field(default_factory=list)
    consents: list = field(default_factory=list)
    # Past interactions as (id, kind, channel, direction, occurred_at, subject, body, outcome,
    # duration, user, contact, company): the columns that vary; see _Loader.insert_interactions.
    interactions: list = field(default_factory=list)
    full_interactions: list = field(default_factory=list)  # all INTERACTION_COLS
    search: list = field(default_factory=list)  # SEARCH_COLS; id = contact id
    words: set = field(default_factory=set)
    task_candidates: dict = field(default_factory=dict)  # owner → [(contact, lang, company)]


class _ContactGen:
    def __init__(self, seed, org: Org, clock: _Clock, pools: _Pools, companies: _Companies):
        self.seed = seed
        self.org = org
        self.clock = clock
        self.pools = pools
        self.companies = companies
        self.colleagues = {}
        for team, reps in org.reps_by_team.items():
            for rep in reps:
                self.colleagues[rep] = [r for r in reps if r != rep] or [rep]
            self.colleagues[org.heads[team]] = reps
        self.colleagues[org.heads["sales"]] = org.reps

    def _name(self, rng, origin):
        female = rng.random() < 0.5
        if origin == "RU":
            first = rng.choice(RU_FEMALE if female else RU_MALE)
            last = rng.choice(RU_LAST)
            if female:
                last = female_surname(last)
            middle = ""
            if rng.random() < 0.7:
                pair = rng.choice(PATRONYMICS)
                middle = pair[1] if female else pair[0]
            return first, middle, last, "f" if female else "m"
        first = rng.choice(EN_FEMALE if female else EN_MALE)
        return first, "", rng.choice(EN_LAST), "f" if female else "m"

    def _email(self, rng, first, last, origin, birth_year, company_domain):
        p = self.pools
        if origin == "RU":
            f, lst = (
                p.translit.get(first) or translit(first),
                p.translit.get(last) or translit(last),
            )
        else:
            f, lst = first.lower(), last.lower()
        pattern = rng.random()
        if pattern < 0.35:
            local = f"{f}.{lst}"
        elif pattern < 0.55:
            local = f"{f[0]}.{lst}"
        elif pattern < 0.7:
            local = f"{lst}.{f}"
        elif pattern < 0.85:
            local = f"{f}{lst}"
        else:
            local = f"{lst}{f[0]}"
        if company_domain and rng.random() < 0.4:
            domain = company_domain
        else:
            if rng.random() < 0.75:
                local += str(birth_year % 100 if rng.random() < 0.5 else rng.randint(1, 999))
            domain = rng.choice(p.ru_mail if origin == "RU" else p.en_mail)
            if rng.random() < 0.02 and domain in DOMAIN_TYPOS:
                domain = rng.choice(DOMAIN_TYPOS[domain])
        return f"{local}@{domain}"

    def _phone(self, rng, origin, city):
        if origin == "RU":
            return f"+7{rng.choice(RU_MOBILE)}{rng.randrange(10**7):07d}"
        if origin == "GB":
            return f"+447{rng.randint(400000000, 999999999)}"
        area = rng.choice(US_AREA[city])
        return f"+1{area}{rng.randint(200, 999)}{rng.randrange(10**4):04d}"

    def chunk(self, chunk_no: int, first_id: int, count: int, heavy: bool) -> _ChunkOut:
        """Contacts first_id..first_id+count-1 and everything hanging off them.

        Ids of dependent rows come from a range reserved per chunk (ID_STRIDE), so chunks can
        be generated in any order, in parallel, and still give the same rows for a seed.
        """
        ids = {table: chunk_no * stride + 1 for table, stride in ID_STRIDE.items()}
        rng = random.Random(f"{self.seed}:contacts:{chunk_no}")
        org, clock, p, cos = self.org, self.clock, self.pools, self.companies
        out = _ChunkOut()
        recent: list[dict] = []
        last_day = YEARS_DAYS - 1
        consent_channels = (("email", 0.85), ("sms", 0.4), ("phone", 0.5), ("post", 0.08),
                            ("telegram", 0.15), ("whatsapp", 0.15))  # fmt: skip
        marketers, support = org.marketers, org.support
        for contact_id in range(first_id, first_id + count):
            is_heavy = heavy and contact_id == first_id
            r = rng.random()
            if recent and r < 0.02 and not is_heavy:
                c = self._near_duplicate(rng, rng.choice(recent))
            else:
                c = self._person(rng)
            if is_heavy:  # a long-standing customer of a Moscow rep, visible to the heads
                c.update(created_day=0, stage="customer", owner=org.reps_by_team["moscow"][0])
            origin, lang, stage = c["country"], c["language"], c["stage"]
            owner = c["owner"]
            created_day = c["created_day"]
            created = clock.at(rng, created_day)
            # Company links (B2B contacts).
            company_names = []
            company_id = c.get("company")
            if company_id:
                titles = RU_TITLES if lang == "ru" else EN_TITLES
                out.links.append((ids["link"], contact_id, company_id, rng.choice(CONTACT_ROLES),
                                  rng.choice(titles), 1))  # fmt: skip
                ids["link"] += 1
                company_names.append(cos.name[company_id])
                if rng.random() < 0.05:
                    pool = cos.ids_by_country[origin]
                    second = pool[int(rng.random() * len(pool))]
                    if second != company_id:
                        out.links.append((ids["link"], contact_id, second, "", "", 0))
                        ids["link"] += 1
                        company_names.append(cos.name[second])
            # Consent per channel.
            for channel, share in consent_channels:
                if (channel == "email" and not c["emails"]) or rng.random() >= share:
                    continue
                day = min(created_day + int(rng.random() * 60), last_day)
                status = "opt_in" if rng.random() < 0.8 else "opt_out"
                out.consents.append((ids["consent"], contact_id, channel, status,
                                     clock.at(rng, day), rng.choice(CONSENT_SOURCES)))  # fmt: skip
                ids["consent"] += 1
            # The timeline.
            if is_heavy:
                n = HEAVY_INTERACTIONS
            else:
                mean = p.mean_interactions[stage]
                n = 1 + int(rng.random() * (2 * mean - 1))
            templates = p.interactions[lang]
            nt = len(templates)
            span = last_day - created_day
            colleagues = self.colleagues.get(owner, [owner])
            last_at = created
            iid = ids["interaction"]
            rows = out.interactions
            for _ in range(n):
                kind, channel, direction, actor, subject, body, outcome, duration = templates[
                    int(rng.random() * nt)
                ]
                at = (
                    clock.days[created_day + int(rng.random() * span)]
                    + clock.tods[int(rng.random() * 4096)]
                )
                if at > last_at:
                    last_at = at
                if actor == "owner":
                    user = owner if rng.random() < 0.85 else colleagues[
                        int(rng.random() * len(colleagues))]  # fmt: skip
                elif actor == "marketer":
                    user = marketers[int(rng.random() * len(marketers))]
                elif actor == "support":
                    user = support[int(rng.random() * len(support))]
                else:
                    user = None
                co = company_id if company_id and rng.random() < 0.5 else None
                if kind == "task":  # a task done in the past
                    out.full_interactions.append(
                        (iid, kind, channel, direction, at, subject, body, outcome, duration,
                         user, contact_id, co, "", None, 1, at, user, 1, at, None, None, 1, at,
                         at)
                    )  # fmt: skip
                else:
                    rows.append((iid, kind, channel, direction, at, subject, body, outcome,
                                 duration, user, contact_id, co))  # fmt: skip
                iid += 1
            ids["interaction"] = iid
            tags = c["tags"] + [HEAVY_TAG] if is_heavy else c["tags"]
            emails, phones = c["emails"], c["phones"]
            out.contacts.append(
                (contact_id, owner, tags_to_db(tags), "{}", 1, created, last_at, c["first"],
                 c["middle"], c["last"], emails[0] if emails else "", phones[0] if phones else "",
                 json.dumps(emails), json.dumps(phones), c["birth"], c["gender"], lang, origin,
                 c["region"], c["city"], json.dumps(c["social"]), stage, c["preferred"],
                 c["preferences"])
            )  # fmt: skip
            full_name = " ".join(x for x in (c["first"], c["middle"], c["last"]) if x)
            text = search_text(
                c["first"], c["middle"], c["last"], *emails, *company_names, phones=phones
            )
            out.search.append((contact_id, "contact", contact_id, owner, full_name[:255], text))
            out.words |= vocabulary_words(text)
            if owner in self.colleagues:
                bucket = out.task_candidates.setdefault(owner, [])
                if len(bucket) < 60:
                    bucket.append((contact_id, lang, company_id))
            if len(recent) < 50:
                recent.append(c)
            elif rng.random() < 0.1:
                recent[int(rng.random() * 50)] = c
        return out

    def _person(self, rng) -> dict:
        p, org, cos = self.pools, self.org, self.companies
        r = rng.random()
        origin = "RU" if r < 0.78 else ("GB" if r < 0.9 else "US")
        first, middle, last, gender = self._name(rng, origin)
        if origin == "RU":
            city, region = rng.choice(p.ru_cities)
            team = "spb" if city == "Санкт-Петербург" else (
                "kazan" if region in KAZAN_REGIONS else "moscow")  # fmt: skip
            lang = "ru"
        else:
            city, region = rng.choice(p.gb_cities if origin == "GB" else p.us_cities)
            team, lang = "london", "en"
        stage = rng.choice(p.stages)
        if stage == "subscriber" and rng.random() < 0.7:
            owner = org.marketers[int(rng.random() * len(org.marketers))]
        elif rng.random() < 0.06:
            owner = org.heads[team]
        else:
            reps = org.reps_by_team[team]
            owner = reps[int(rng.random() * len(reps))]
        birth_year = rng.randint(1955, 2004)
        birth = (
            date(birth_year, rng.randint(1, 12), rng.randint(1, 28)).isoformat()
            if rng.random() < 0.75
            else None
        )
        company = None
        pool = cos.ids_by_country.get(origin) or []
        if pool and stage != "subscriber" and rng.random() < 0.6:
            company = pool[int(rng.random() * len(pool))]
        emails = []
        if rng.random() < 0.93:
            emails.append(
                self._email(rng, first, last, origin, birth_year, cos.domain.get(company))
            )
            if rng.random() < 0.15:
                emails.append(self._email(rng, first, last, origin, birth_year, None))
        phones = []
        if rng.random() < 0.85:
            phones.append(self._phone(rng, origin, city))
            if rng.random() < 0.1:
                phones.append(self._phone(rng, origin, city))
        social = {}
        if rng.random() < 0.2:
            handle = emails[0].split("@")[0] if emails else f"user{rng.randrange(10**6)}"
            if origin == "RU":
                social = {"telegram": "@" + handle.replace(".", "_"),
                          "vk": f"https://vk.com/{handle.replace('.', '_')}"}  # fmt: skip
            else:
                social = {"linkedin": f"https://www.linkedin.com/in/{handle.replace('.', '-')}"}
        tags = rng.sample(TAGS, rng.choice([0, 0, 0, 1, 1, 2]))
        if stage == "subscriber":
            tags.append("newsletter")
        prefs = ""
        if rng.random() < 0.05:
            prefs = rng.choice(RU_PREFERENCES if lang == "ru" else EN_PREFERENCES)
        return {
            "country": origin,
            "language": lang,
            "first": first,
            "middle": middle,
            "last": last,
            "gender": gender,
            "city": city,
            "region": region,
            "stage": stage,
            "owner": owner,
            "birth": birth,
            "company": company,
            "emails": emails,
            "phones": phones,
            "social": social,
            "tags": tags,
            "preferred": rng.choice(PREFERRED) if rng.random() < 0.5 else "",
            "preferences": prefs,
            "created_day": int(rng.random() * (YEARS_DAYS - 30)),
        }

    def _near_duplicate(self, rng, original: dict) -> dict:
        """The same person entered again: a typo in the name, another email, often another rep."""
        c = dict(original)
        if rng.random() < 0.6:
            c["last"] = _typo(rng, c["last"])
        else:
            c["first"] = _typo(rng, c["first"])
        emails = list(c["emails"])
        if emails and rng.random() < 0.5:
            local, domain = emails[0].split("@")
            emails = [f"{_typo(rng, local)}@{domain}"]
        c["emails"] = emails
        c["middle"] = "" if rng.random() < 0.5 else c["middle"]
        c["tags"] = []
        c["created_day"] = min(c["created_day"] + rng.randint(1, 400), YEARS_DAYS - 30)
        team_reps = self.colleagues.get(c["owner"])
        if team_reps and rng.random() < 0.6:
            c["owner"] = team_reps[int(rng.random() * len(team_reps))]
        return c


def _open_tasks(seed: int, candidates: dict, clock: _Clock, first_id: int) -> list[tuple]:
    """For each rep and head: overdue, today's and upcoming tasks on their own contacts."""
    rng = random.Random(f"{seed}:tasks")
    now = clock.now
    end_of_day = datetime.combine(clock.today + timedelta(days=1), datetime.min.time(), now.tzinfo)
    rows = []
    iid = first_id
    for owner in sorted(candidates):
        for contact_id, lang, company_id in candidates[owner][:40]:
            r = rng.random()
            if r < 0.25:
                due = now - timedelta(days=rng.randint(1, 20), minutes=rng.randint(0, 600))
            elif r < 0.4:
                room = max(int((end_of_day - now).total_seconds()) - 120, 60)
                due = now + timedelta(seconds=60 + int(rng.random() * room))
            else:
                due = now + timedelta(days=rng.randint(1, 30), minutes=rng.randint(0, 600))
            kind = rng.choice(["task", "task", "call", "call", "meeting", "email"])
            channel = DEFAULT_CHANNEL[kind]
            subject = rng.choice(TASK_SUBJECTS_RU if lang == "ru" else TASK_SUBJECTS_EN)
            created = _dt(min(due, now) - timedelta(days=rng.randint(1, 10)))
            at = _dt(due)
            remind = _dt(due - timedelta(minutes=30)) if rng.random() < 0.5 else None
            rows.append(
                (iid, kind, channel, "out", at, subject, "", "", None, owner, contact_id,
                 company_id, "", None, 1, at, owner, 0, None, remind, None, 1, created, created)
            )  # fmt: skip
            iid += 1
    return rows


# --- the whole build --------------------------------------------------------------------------

_WORKER_GEN: _ContactGen | None = None


def _work(job: tuple) -> _ChunkOut:
    assert _WORKER_GEN is not None
    return _WORKER_GEN.chunk(*job)


def _generate(gen: _ContactGen, jobs: list[tuple], workers: int) -> Iterator[_ChunkOut]:
    """Chunks in order; with workers > 1 they are generated by forked processes, a few ahead."""
    if workers <= 1:
        for job in jobs:
            yield gen.chunk(*job)
        return
    global _WORKER_GEN
    _WORKER_GEN = gen
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            pending: deque = deque()
            todo = iter(jobs)
            for job in itertools.islice(todo, workers * 2):
                pending.append(pool.apply_async(_work, (job,)))
            while pending:
                out = pending.popleft().get()
                job = next(todo, None)
                if job is not None:
                    pending.append(pool.apply_async(_work, (job,)))
                yield out
    finally:
        _WORKER_GEN = None


def build_demo(
    *,
    contacts: int,
    seed: int = 1,
    password: str | None = None,
    reset: bool = False,
    bulk: bool | None = None,
    workers: int | None = None,
    log: Log = print,
) -> DemoResult:
    """Build the demo company into the current database; see the module docstring.

    `bulk` (default: contacts >= BULK_THRESHOLD) drops and rebuilds indexes around the load;
    `workers` (default: 2 for bulk loads, else 1) generates chunks in forked processes.
    """
    started = time.monotonic()
    if contacts < 0:
        raise ConflictError("The number of contacts cannot be negative.")
    if reset:
        demo_wipe(log)
    elif Contact.objects.exists() or Company.objects.exists():
        raise ConflictError("The database already has customer data. Use --reset to replace it.")
    bulk = contacts >= BULK_THRESHOLD if bulk is None else bulk
    workers = (2 if contacts >= BULK_THRESHOLD else 1) if workers is None else workers
    password = password or secrets.token_urlsafe(9)
    result = DemoResult(password=password)
    with transaction.atomic():
        org = _create_org(seed, contacts, password)
    result.users = org.users
    now = timezone.now().replace(second=0, microsecond=0)
    clock, pools = _Clock(now), _Pools()
    n_companies = max(1, contacts // 8) if contacts else 0
    loader = _loader(bulk, log)
    loader.begin()
    try:
        rows, company_search, companies = _company_rows(seed, n_companies, org, clock, pools)
        with loader.chunk():
            loader.insert(Company, COMPANY_COLS, rows)
        result.companies = len(rows)
        del rows
        gen = _ContactGen(seed, org, clock, pools, companies)
        heavy = contacts >= HEAVY_MIN_CONTACTS
        jobs = [
            (chunk_no, first, min(CHUNK, contacts + 1 - first), heavy and chunk_no == 0)
            for chunk_no, first in enumerate(range(1, contacts + 1, CHUNK))
        ]
        candidates: dict[int, list] = {}
        words: set[str] = set()
        next_report = 0.0
        for out in _generate(gen, jobs, workers):
            with loader.chunk():
                loader.insert(Contact, CONTACT_COLS, out.contacts)
                loader.insert(ContactCompany, LINK_COLS, out.links)
                loader.insert(Consent, CONSENT_COLS, out.consents)
                loader.insert_interactions(out.interactions)
                loader.insert(Interaction, INTERACTION_COLS, out.full_interactions)
                loader.insert(SearchEntry, SEARCH_COLS, out.search)
            words |= out.words
            for owner, bucket in out.task_candidates.items():
                have = candidates.setdefault(owner, [])
                have += bucket[: max(0, 40 - len(have))]
            result.links += len(out.links)
            result.consents += len(out.consents)
            result.interactions += len(out.interactions) + len(out.full_interactions)
            result.contacts += len(out.contacts)
            if result.contacts / contacts >= next_report:
                elapsed = time.monotonic() - started
                log(
                    f"contacts {result.contacts:,}/{contacts:,}  "
                    f"interactions {result.interactions:,}  {elapsed:.0f}s "
                    f"({result.contacts / max(elapsed, 0.001):,.0f} contacts/s)"
                )
                next_report += 0.05
        if heavy:
            result.heavy_contact_id = 1
        search_rows = []
        for company_id, (owner, name, text) in enumerate(company_search, start=1):
            search_rows.append((contacts + company_id, "company", company_id, owner, name, text))
            words |= vocabulary_words(text)
        tasks = _open_tasks(seed, candidates, clock, len(jobs) * ID_STRIDE["interaction"] + 1)
        shares = _shares(seed, candidates, org, now)
        with loader.chunk():
            loader.insert(SearchEntry, SEARCH_COLS, search_rows)
            loader.insert(Interaction, INTERACTION_COLS, tasks)
            loader.insert(RecordShare, SHARE_COLS, shares)
            loader.insert(SearchWord, ("word",), [(w,) for w in sorted(words)])
        result.open_tasks = len(tasks)
        result.interactions += len(tasks)
        result.shares = len(shares)
        result.search_entries = contacts + len(search_rows)
        result.words = len(words)
        log(
            f"rows loaded in {time.monotonic() - started:.0f}s"
            + ("; building indexes" if bulk else "")
        )
    finally:
        loader.finish()
    result.seconds = time.monotonic() - started
    log(f"done in {result.seconds:.0f}s")
    return result


def _shares(seed: int, candidates: dict, org: Org, now: datetime) -> list[tuple]:
    """A few contacts shared with a colleague in the same team (some read-only)."""
    rng = random.Random(f"{seed}:shares")
    rows, share_id = [], 1
    for reps in org.reps_by_team.values():
        for rep in reps:
            others = [r for r in reps if r != rep]
            bucket = candidates.get(rep, [])
            if not others or not bucket:
                continue
            contact_id = bucket[int(rng.random() * len(bucket))][0]
            at = _dt(now - timedelta(days=rng.randint(1, 90)))
            can_edit = int(rng.random() < 0.7)
            rows.append((share_id, "contact", contact_id, rng.choice(others), can_edit, at))
            share_id += 1
    return rows


# --- word pools ------------------------------------------------------------------------------

# fmt: off
# Russian first names (male, female), surnames in the male form.
RU_MALE = [
    "Александр", "Алексей", "Андрей", "Антон", "Артём", "Борис", "Вадим", "Валерий", "Василий",
    "Виктор", "Виталий", "Владимир", "Владислав", "Вячеслав", "Геннадий", "Георгий", "Глеб",
    "Григорий", "Даниил", "Денис", "Дмитрий", "Евгений", "Егор", "Иван", "Игорь", "Илья", "Кирилл",
    "Константин", "Леонид", "Максим", "Марк", "Матвей", "Михаил", "Никита", "Николай", "Олег",
    "Павел", "Пётр", "Роман", "Руслан", "Сергей", "Станислав", "Степан", "Тимур", "Фёдор", "Юрий",
    "Ярослав",
]
RU_FEMALE = [
    "Александра", "Алина", "Алла", "Анастасия", "Анна", "Валентина", "Валерия", "Вера", "Вероника",
    "Виктория", "Галина", "Дарья", "Диана", "Ева", "Екатерина", "Елена", "Елизавета", "Жанна",
    "Зоя", "Ирина", "Карина", "Кристина", "Ксения", "Лариса", "Лидия", "Любовь", "Людмила",
    "Маргарита", "Марина", "Мария", "Надежда", "Наталья", "Нина", "Оксана", "Ольга", "Полина",
    "Светлана", "София", "Тамара", "Татьяна", "Ульяна", "Юлия", "Яна",
]
# Male surname; the female form is derived (Иванов → Иванова, Достоевский → Достоевская).
RU_LAST = [
    "Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов",
    "Новиков", "Фёдоров", "Морозов", "Волков", "Алексеев", "Лебедев", "Семёнов", "Егоров", "Павлов",
    "Козлов", "Степанов", "Николаев", "Орлов", "Андреев", "Макаров", "Никитин", "Захаров", "Зайцев",
    "Соловьёв", "Борисов", "Яковлев", "Григорьев", "Романов", "Воробьёв", "Сергеев", "Кузьмин",
    "Фролов", "Александров", "Дмитриев", "Королёв", "Гусев", "Киселёв", "Ильин", "Максимов",
    "Поляков", "Сорокин", "Виноградов", "Ковалёв", "Белов", "Медведев", "Антонов", "Тарасов",
    "Жуков", "Баранов", "Филиппов", "Комаров", "Давыдов", "Беляев", "Герасимов", "Богданов",
    "Осипов", "Сидоров", "Матвеев", "Титов", "Марков", "Миронов", "Крылов", "Куликов", "Карпов",
    "Власов", "Мельников", "Денисов", "Гаврилов", "Тихонов", "Казаков", "Афанасьев", "Данилов",
    "Савельев", "Тимофеев", "Фомин", "Чернов", "Абрамов", "Мартынов", "Ефимов", "Федотов",
    "Щербаков", "Назаров", "Калинин", "Исаев", "Чернышёв", "Быков", "Маслов", "Родионов",
    "Коновалов", "Лазарев", "Воронин", "Климов", "Филатов", "Пономарёв", "Голубев", "Кудрявцев",
    "Прохоров", "Наумов", "Потапов", "Журавлёв", "Овчинников", "Трофимов", "Леонов", "Соболев",
    "Ермаков", "Колесников", "Гончаров", "Емельянов", "Никифоров", "Грачёв", "Котов", "Гришин",
    "Ефремов", "Архипов", "Громов", "Кириллов", "Малышев", "Панов", "Моисеев", "Румянцев", "Акимов",
    "Кондратьев", "Бирюков", "Горбунов", "Анисимов", "Ерёмин", "Тихомиров", "Галкин", "Лукьянов",
    "Михеев", "Скворцов", "Юдин", "Белоусов", "Нестеров", "Симонов", "Прокофьев", "Харитонов",
    "Князев", "Цветков", "Левин", "Митрофанов", "Воронцов", "Шубин", "Вишневский", "Островский",
    "Покровский", "Успенский", "Троицкий", "Шевченко", "Бондаренко", "Ткаченко", "Коваленко",
    "Мельник",
]
EN_MALE = [
    "James", "John", "Robert", "Michael", "William", "David", "Richard", "Joseph", "Thomas",
    "Charles", "Christopher", "Daniel", "Matthew", "Anthony", "Mark", "Paul", "Steven", "Andrew",
    "Kenneth", "Joshua", "Kevin", "Brian", "George", "Timothy", "Ronald", "Edward", "Jason",
    "Jeffrey", "Ryan", "Jacob", "Gary", "Nicholas", "Eric", "Jonathan", "Stephen", "Oliver",
    "Harry", "Jack", "Charlie", "Alfie", "Oscar", "Henry", "Leo", "Archie", "Samuel", "Ethan",
]
EN_FEMALE = [
    "Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica", "Sarah",
    "Karen", "Lisa", "Nancy", "Betty", "Margaret", "Sandra", "Ashley", "Kimberly", "Emily", "Donna",
    "Michelle", "Carol", "Amanda", "Melissa", "Deborah", "Stephanie", "Rebecca", "Sharon", "Laura",
    "Cynthia", "Amy", "Olivia", "Amelia", "Isla", "Ava", "Mia", "Ivy", "Lily", "Isabella", "Rosie",
    "Sophia", "Grace", "Freya", "Evie", "Chloe", "Ella", "Charlotte",
]
EN_LAST = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson",
    "Martin", "Lee", "Thompson", "White", "Harris", "Clark", "Lewis", "Robinson", "Walker", "Young",
    "Allen", "King", "Wright", "Scott", "Hill", "Green", "Adams", "Baker", "Nelson", "Carter",
    "Mitchell", "Roberts", "Turner", "Phillips", "Campbell", "Parker", "Evans", "Edwards",
    "Collins", "Stewart", "Morris", "Murphy", "Cook", "Rogers", "Morgan", "Cooper", "Peterson",
    "Reed", "Bailey", "Bell", "Kelly", "Howard", "Ward", "Cox", "Richardson", "Wood", "Watson",
    "Brooks", "Bennett", "Gray", "James", "Hughes", "Price", "Sanders", "Myers", "Long", "Ross",
    "Foster", "Powell", "Jenkins", "Perry", "Russell", "Sullivan", "Fisher", "Henderson", "Coleman",
    "Simmons", "Patterson", "Jordan", "Reynolds", "Hamilton", "Graham", "Wallace", "Cole", "West",
    "Owens", "Marshall", "Ellis", "Harrison", "Gibson", "McDonald", "Kennedy", "Wells", "Hunt",
    "Palmer", "Black", "Robertson", "Holmes", "Lloyd", "Fletcher", "Chapman", "Webb", "Davies",
    "Knight", "Mills", "Barnes", "Shaw", "Lawrence", "Hughes",
]

# (city, region, weight)
RU_CITIES = [
    ("Москва", "Москва", 30), ("Санкт-Петербург", "Санкт-Петербург", 14),
    ("Казань", "Республика Татарстан", 7), ("Новосибирск", "Новосибирская область", 5),
    ("Екатеринбург", "Свердловская область", 6), ("Нижний Новгород", "Нижегородская область", 4),
    ("Самара", "Самарская область", 3), ("Ростов-на-Дону", "Ростовская область", 3),
    ("Краснодар", "Краснодарский край", 4), ("Воронеж", "Воронежская область", 2),
    ("Пермь", "Пермский край", 2), ("Уфа", "Республика Башкортостан", 2),
    ("Красногорск", "Московская область", 3), ("Химки", "Московская область", 2),
    ("Тюмень", "Тюменская область", 2), ("Владивосток", "Приморский край", 1),
]
RU_REGION_INN = {
    "Москва": "77", "Санкт-Петербург": "78", "Республика Татарстан": "16",
    "Новосибирская область": "54", "Свердловская область": "66", "Нижегородская область": "52",
    "Самарская область": "63", "Ростовская область": "61", "Краснодарский край": "23",
    "Воронежская область": "36", "Пермский край": "59", "Республика Башкортостан": "02",
    "Московская область": "50", "Тюменская область": "72", "Приморский край": "25",
}
GB_CITIES = [
    ("London", "England", 8), ("Manchester", "England", 2), ("Birmingham", "England", 2),
    ("Edinburgh", "Scotland", 1), ("Bristol", "England", 1), ("Leeds", "England", 1),
]
US_CITIES = [
    ("New York", "NY", 4), ("San Francisco", "CA", 2), ("Boston", "MA", 1), ("Chicago", "IL", 2),
    ("Austin", "TX", 1), ("Seattle", "WA", 1),
]
US_AREA = {
    "New York": ["212", "646", "718", "917"], "San Francisco": ["415", "628"],
    "Boston": ["617", "857"], "Chicago": ["312", "773"], "Austin": ["512", "737"],
    "Seattle": ["206"],
}
RU_MOBILE = [
    "901", "903", "905", "906", "909", "910", "911", "912", "913", "915", "916", "917", "918",
    "919", "920", "921", "925", "926", "927", "929", "930", "950", "951", "952", "953", "960",
    "961", "962", "964", "965", "966", "967", "977", "978", "981", "982", "985", "987", "999",
]
RU_MAIL = [
    ("mail.ru", 20), ("yandex.ru", 25), ("gmail.com", 20), ("bk.ru", 4), ("inbox.ru", 3),
    ("list.ru", 3), ("rambler.ru", 3), ("ya.ru", 4),
]
EN_MAIL = [
    ("gmail.com", 30), ("outlook.com", 10), ("yahoo.com", 6), ("hotmail.co.uk", 4),
    ("icloud.com", 6), ("btinternet.com", 2), ("proton.me", 2),
]
# Plausible typos of free-mail domains (they still look like valid addresses).
DOMAIN_TYPOS = {
    "gmail.com": ["gmial.com", "gmail.co", "gmai.com", "gnail.com"],
    "mail.ru": ["mail.ry", "mai.ru", "maill.ru"],
    "yandex.ru": ["yandex.ry", "yadex.ru", "yandeks.ru"],
    "outlook.com": ["outlok.com", "outllook.com"], "yahoo.com": ["yaho.com", "yahooo.com"],
}

RU_INDUSTRY = [
    "Розничная торговля", "Оптовая торговля", "Производство", "Строительство", "Логистика",
    "ИТ и телеком", "Финансы", "Медицина", "Образование", "Общественное питание",
    "Сельское хозяйство", "Энергетика", "Недвижимость", "Туризм", "Реклама и маркетинг",
]
EN_INDUSTRY = [
    "Retail", "Wholesale", "Manufacturing", "Construction", "Logistics", "Software",
    "Financial services", "Healthcare", "Education", "Hospitality", "Energy", "Real estate",
    "Media", "Consulting",
]
RU_CO_A = [
    "Техно", "Строй", "Агро", "Мед", "Энерго", "Транс", "Эко", "Проф", "Инвест", "Торг", "Сиб",
    "Волга", "Урал", "Север", "Нева", "Альфа", "Вектор", "Гранит", "Меридиан", "Пром", "Спец",
    "Мега", "Глобал", "Нефте", "Лес", "Хим", "Металл", "Электро", "Авто", "Инфо",
]
RU_CO_B = [
    "Сервис", "Групп", "Торг", "Пром", "Снаб", "Лайн", "Систем", "Маркет", "Трейд", "Строй",
    "Логистик", "Ресурс", "Комплекс", "Холдинг", "Капитал", "Проект", "Технологии", "Соф",
]
RU_CO_WORDS = [
    "Ромашка", "Берёзка", "Восход", "Заря", "Радуга", "Рассвет", "Сокол", "Орбита", "Горизонт",
    "Парус", "Кристалл", "Фаворит", "Прогресс", "Импульс", "Созвездие", "Карат", "Магистраль",
]
RU_LEGAL = [
    ("ООО", 70), ("АО", 12), ("ПАО", 2), ("ИП", 10), ("ЗАО", 6),
]
EN_CO_A = [
    "North", "Blue", "Silver", "Green", "Bright", "Oak", "River", "Summit", "Harbor", "Atlas",
    "Pioneer", "Crown", "Stone", "Swift", "Golden", "Red", "Iron", "Clear", "Prime", "Union",
]
EN_CO_B = [
    "wind", "field", "bridge", "gate", "wood", "point", "line", "stone", "water", "peak", "ridge",
    "light", "brook", "dale", "works", "way",
]
EN_CO_C = [
    "Logistics", "Trading", "Systems", "Foods", "Software", "Consulting", "Partners", "Labs",
    "Retail", "Industries", "Health", "Energy", "Media", "Analytics", "Capital", "Supplies",
]
EN_LEGAL_GB = [
    "Ltd", "Limited", "LLP", "plc",
]
EN_LEGAL_US = [
    "Inc.", "LLC", "Corp.",
]

RU_TITLES = [
    "Генеральный директор", "Коммерческий директор", "Финансовый директор", "Главный бухгалтер",
    "Менеджер по закупкам", "Руководитель отдела продаж", "ИТ-директор", "Офис-менеджер",
    "Специалист по маркетингу", "Инженер", "Юрист", "Директор по развитию",
]
EN_TITLES = [
    "CEO", "Managing Director", "CFO", "Head of Procurement", "Purchasing Manager",
    "Sales Director", "CTO", "Office Manager", "Marketing Manager", "Operations Manager",
    "Finance Manager", "Account Executive",
]
CONTACT_ROLES = [
    "decision maker", "influencer", "user", "billing", "technical",
]

TAGS = [
    "vip", "newsletter", "webinar-2024", "expo-2025", "partner", "wholesale", "retail", "referral",
    "b2b", "b2c", "loyal", "price-sensitive", "needs-follow-up", "conference",
]

CONSENT_SOURCES = [
    "web form", "checkout", "call", "paper form", "import", "newsletter signup", "mobile app",
    "exhibition",
]

# kind, channel, direction, actor, ru subject, en subject, outcomes, duration range (s) or None
INTERACTIONS = [
    (
        "call",
        "phone",
        "out",
        "owner",
        "Звонок клиенту",
        "Follow-up call",
        ["reached", "no answer", "call back later", "interested", "not interested"],
        (30, 1500),
        14,
    ),
    (
        "call",
        "phone",
        "in",
        "owner",
        "Входящий звонок",
        "Inbound call",
        ["question answered", "order placed", "complaint", "request for quote"],
        (40, 900),
        8,
    ),
    (
        "email",
        "email",
        "out",
        "owner",
        "Коммерческое предложение",
        "Proposal sent",
        ["sent", "opened", "replied"],
        None,
        10,
    ),
    (
        "email",
        "email",
        "in",
        "owner",
        "Вопрос по заказу",
        "Question about the order",
        ["answered", "forwarded to support"],
        None,
        7,
    ),
    (
        "email",
        "email",
        "out",
        "marketer",
        "Рассылка: новинки месяца",
        "Newsletter: what's new",
        ["delivered", "opened", "clicked", "unsubscribed"],
        None,
        12,
    ),
    (
        "meeting",
        "in_person",
        "out",
        "owner",
        "Встреча в офисе клиента",
        "Meeting at client's office",
        ["positive", "needs a proposal", "postponed", "deal agreed"],
        (1800, 7200),
        5,
    ),
    (
        "meeting",
        "in_person",
        "out",
        "owner",
        "Презентация продукта",
        "Product demo",
        ["positive", "needs time", "requested trial"],
        (1800, 5400),
        3,
    ),
    (
        "event",
        "in_person",
        "in",
        "marketer",
        "Посещение выставки",
        "Visited our expo stand",
        ["badge scanned", "brochure taken"],
        None,
        2,
    ),
    (
        "webform",
        "web",
        "in",
        "none",
        "Заявка с сайта",
        "Website enquiry",
        ["new lead", "callback requested"],
        None,
        6,
    ),
    (
        "ad_click",
        "ads",
        "in",
        "none",
        "Переход по рекламе",
        "Ad click",
        ["landing page", "pricing page"],
        None,
        4,
    ),
    (
        "chat",
        "chat",
        "in",
        "support",
        "Чат на сайте",
        "Website chat",
        ["resolved", "escalated", "lead captured"],
        (60, 1200),
        5,
    ),
    (
        "social",
        "social",
        "in",
        "marketer",
        "Сообщение в соцсети",
        "Social media message",
        ["replied", "no reply needed"],
        None,
        2,
    ),
    (
        "sms",
        "sms",
        "out",
        "marketer",
        "SMS: скидка 10%",
        "SMS: 10% off this week",
        ["delivered", "failed"],
        None,
        3,
    ),
    (
        "visit",
        "in_person",
        "in",
        "owner",
        "Визит в шоурум",
        "Showroom visit",
        ["bought", "just browsing"],
        (600, 3600),
        2,
    ),
    (
        "purchase",
        "store",
        "in",
        "owner",
        "Покупка",
        "Purchase",
        ["paid", "paid by card", "paid by invoice"],
        None,
        8,
    ),
    (
        "ticket",
        "web",
        "in",
        "support",
        "Обращение в поддержку",
        "Support request",
        ["resolved", "waiting for customer", "escalated"],
        (300, 5400),
        4,
    ),
    ("note", "other", "internal", "owner", "Заметка", "Note", ["", "important"], None, 4),
    ("task", "other", "internal", "owner", "Подготовить КП", "Prepare a quote", ["done"], None, 2),
]
RU_BODIES = [
    "", "", "", "Клиент просил перезвонить после обеда.", "Обсудили условия доставки.",
    "Интересуется оптовыми ценами.", "Отправили прайс-лист и каталог.",
    "Клиент доволен, планирует повторный заказ.", "Нужно согласовать скидку с руководителем.",
    "Запросил счёт на оплату.", "Уточнить сроки поставки у склада.",
]
EN_BODIES = [
    "", "", "", "Asked us to call back after lunch.", "Discussed delivery terms.",
    "Interested in volume pricing.", "Sent the price list and catalogue.",
    "Happy with the service, plans to reorder.", "Discount needs sign-off from the head of sales.",
    "Requested an invoice.", "Check lead times with the warehouse.",
]
TASK_SUBJECTS_RU = [
    "Перезвонить клиенту", "Отправить КП", "Назначить встречу", "Уточнить потребность",
    "Напомнить об оплате", "Согласовать договор",
]
TASK_SUBJECTS_EN = [
    "Call back", "Send the proposal", "Book a meeting", "Qualify the lead", "Chase the payment",
    "Agree the contract",
]

# Demo users: (username, first, last, role, team key, language)
DEMO_USERS_FIXED = [
    ("n.orlova", "Наталья", "Орлова", "head", "sales", "ru"),
    ("d.volkov", "Дмитрий", "Волков", "head", "moscow", "ru"),
    ("i.sokolova", "Ирина", "Соколова", "head", "spb", "ru"),
    ("r.gaifullin", "Рустам", "Гайфуллин", "head", "kazan", "ru"),
    ("j.carter", "Jane", "Carter", "head", "london", "en"),
    ("m.lebedeva", "Марина", "Лебедева", "marketer", "marketing", "ru"),
    ("t.hughes", "Tom", "Hughes", "marketer", "marketing", "en"),
    ("a.kuzmin", "Андрей", "Кузьмин", "support", "service", "ru"),
    ("e.fedorova", "Елена", "Федорова", "support", "service", "ru"),
    ("p.romanov", "Павел", "Романов", "analyst", "analytics", "ru"),
]
PATRONYMICS = [
    ("Александрович", "Александровна"), ("Алексеевич", "Алексеевна"), ("Андреевич", "Андреевна"),
    ("Владимирович", "Владимировна"), ("Дмитриевич", "Дмитриевна"), ("Евгеньевич", "Евгеньевна"),
    ("Иванович", "Ивановна"), ("Игоревич", "Игоревна"), ("Михайлович", "Михайловна"),
    ("Николаевич", "Николаевна"), ("Олегович", "Олеговна"), ("Павлович", "Павловна"),
    ("Петрович", "Петровна"), ("Сергеевич", "Сергеевна"), ("Викторович", "Викторовна"),
    ("Юрьевич", "Юрьевна"), ("Анатольевич", "Анатольевна"), ("Васильевич", "Васильевна"),
    ("Геннадьевич", "Геннадьевна"), ("Борисович", "Борисовна"), ("Вадимович", "Вадимовна"),
    ("Константинович", "Константиновна"), ("Максимович", "Максимовна"), ("Романович", "Романовна"),
    ("Ильич", "Ильинична"),
]
KAZAN_REGIONS = {
    "Республика Татарстан", "Республика Башкортостан", "Самарская область", "Пермский край",
    "Свердловская область", "Тюменская область", "Новосибирская область", "Приморский край",
}
RU_PREFERENCES = [
    "Не звонить до 11:00", "Предпочитает общение в Telegram", "Счета только по email",
    "Интересуют скидки на опт", "Доставка только в будни",
]
EN_PREFERENCES = [
    "Prefers email, no calls before 10am", "Invoices to accounts@ only",
    "Interested in volume discounts", "Deliveries on weekdays only",
]
PREFERRED = [
    "email", "email", "phone", "phone", "sms", "telegram", "whatsapp",
]
# fmt: on
