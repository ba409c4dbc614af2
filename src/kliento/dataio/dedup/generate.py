"""A generated contact base with known duplicates, to measure the scan (tests and bench/).

Base contacts are Russian (70 %) and English people with the demo's name lists, an email made
from the name plus digits, a mobile phone, a birth date for 40 %, a city for 85 %. Some
different people share a phone (an office line) or an email (info@…): the scan must not call
them one person.

Each injected duplicate copies an original and changes it the ways people do:
- its name: a typo in the last or first name, the Cyrillic name written in Latin letters
  (another romanisation than the one `fold` uses: Юлия → Yuliya), first and last swapped, a
  nickname (Александр → Саша), or left as it was;
- its email: the same, in other case, gmail dots or a +tag, dropped, or another one;
- its phone: the same number typed in another format (normalised on save), dropped, or new;
- birth date and city kept or dropped, the middle name often dropped.
Every duplicate keeps at least one of email, phone or birth date: a pair sharing nothing
but a name is one nobody could confirm either. 10 % of originals get two duplicates.

`truth` holds every (original, duplicate) pair as (a, b) with a < b.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db import connection
from django.utils import timezone

from kliento.customers.demo import (
    EN_FEMALE,
    EN_LAST,
    EN_MALE,
    RU_CITIES,
    RU_FEMALE,
    RU_LAST,
    RU_MALE,
    RU_MOBILE,
    female_surname,
    translit,
)
from kliento.customers.models import Contact

RU_MIDDLE_M = ["Александрович", "Сергеевич", "Иванович", "Петрович", "Андреевич", "Дмитриевич"]
RU_MIDDLE_F = ["Александровна", "Сергеевна", "Ивановна", "Петровна", "Андреевна", "Дмитриевна"]
NICK = {
    "Александр": "Саша",
    "Александра": "Саша",
    "Алексей": "Алёша",
    "Дмитрий": "Дима",
    "Иван": "Ваня",
    "Михаил": "Миша",
    "Николай": "Коля",
    "Павел": "Паша",
    "Сергей": "Серёжа",
    "Владимир": "Вова",
    "Мария": "Маша",
    "Наталья": "Наташа",
    "Екатерина": "Катя",
    "Анна": "Аня",
    "Ольга": "Оля",
    "Татьяна": "Таня",
    "Елена": "Лена",
    "Юлия": "Юля",
    "Ирина": "Ира",
    "Светлана": "Света",
    "William": "Bill",
    "Robert": "Bob",
    "Elizabeth": "Liz",
    "James": "Jim",
    "Thomas": "Tom",
    "Christopher": "Chris",
    "Daniel": "Dan",
    "Joseph": "Joe",
    "Samuel": "Sam",
    "Matthew": "Matt",
    "Jennifer": "Jenny",
}
EN_CITIES = ["London", "Manchester", "New York", "Boston", "Chicago", "Leeds"]
DOMAINS = ["mail.ru", "yandex.ru", "gmail.com", "bk.ru", "outlook.com", "yahoo.com"]
COLS = (
    "id",
    "owner_id",
    "tags",
    "custom",
    "version",
    "created_at",
    "updated_at",
    "first_name",
    "middle_name",
    "last_name",
    "email",
    "phone",
    "emails",
    "phones",
    "birth_date",
    "gender",
    "language",
    "country",
    "region",
    "city",
    "social",
    "lifecycle_stage",
    "preferred_channel",
    "preferences",
)


@dataclass
class Generated:
    contacts: int = 0
    duplicates: int = 0
    # (original, duplicate) pairs: what the scan must find.
    truth: set[tuple[int, int]] = field(default_factory=set)
    # Two duplicates of one original: the same person, but they may share nothing with each
    # other (found through the original); found or not, they are neither right nor wrong.
    siblings: set[tuple[int, int]] = field(default_factory=set)


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 4:
        return word + word[-1]
    i = rng.randrange(1, len(word) - 1)
    action = rng.random()
    if action < 0.35:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if action < 0.6:
        return word[:i] + word[i + 1 :]
    if action < 0.8:
        return word[:i] + word[i] + word[i:]
    letters = "аеиоуклмнрст" if "а" <= word[i].lower() <= "я" else "aeioulmnrst"
    return word[:i] + rng.choice(letters) + word[i + 1 :]


_LATIN = {"ю": "yu", "я": "ya", "й": "y", "х": "h", "ц": "c", "щ": "sch", "ё": "yo", "ж": "j"}


def _romanise(rng: random.Random, text: str) -> str:
    """Another romanisation than `fold` uses, as a person writes it in a Latin-only form."""
    if not any("а" <= ch.lower() <= "я" for ch in text):
        return text
    if rng.random() < 0.5:
        out = translit(text)
    else:
        out = "".join(_LATIN.get(ch, translit(ch) or "") for ch in text.lower())
    return out[:1].upper() + out[1:]


def _phone(rng: random.Random, ru: bool) -> str:
    if ru:
        return f"+7{rng.choice(RU_MOBILE)}{rng.randrange(10**7):07d}"
    return f"+44{rng.choice(['74', '75', '77', '78', '79'])}{rng.randrange(10**8):08d}"


def _person(rng: random.Random, pk: int) -> dict:
    ru = rng.random() < 0.7
    female = rng.random() < 0.5
    if ru:
        first = rng.choice(RU_FEMALE if female else RU_MALE)
        last = rng.choice(RU_LAST)
        last = female_surname(last) if female else last
        middle = rng.choice(RU_MIDDLE_F if female else RU_MIDDLE_M) if rng.random() < 0.6 else ""
        city = rng.choice(RU_CITIES)[0] if rng.random() < 0.85 else ""
    else:
        first = rng.choice(EN_FEMALE if female else EN_MALE)
        last = rng.choice(EN_LAST)
        middle = ""
        city = rng.choice(EN_CITIES) if rng.random() < 0.85 else ""
    local = f"{translit(first)[:1]}.{translit(last)}{rng.randrange(10**5)}"
    emails = [f"{local}@{rng.choice(DOMAINS)}".lower()] if rng.random() < 0.85 else []
    phones = [_phone(rng, ru)] if rng.random() < 0.8 or not emails else []
    birth = None
    if rng.random() < 0.4:
        birth = date(1950, 1, 1) + timedelta(days=rng.randrange(55 * 365))
    return {
        "id": pk,
        "first": first,
        "middle": middle,
        "last": last,
        "emails": emails,
        "phones": phones,
        "birth": birth,
        "city": city,
        "gender": "f" if female else "m",
        "country": "RU" if ru else "GB",
    }


def _email_variant(rng: random.Random, email: str) -> str:
    local, domain = email.split("@")
    roll = rng.random()
    if domain == "gmail.com" and roll < 0.4:
        return f"{local.replace('.', '')}@{domain}"
    if roll < 0.7:
        return f"{local}+crm@{domain}"
    return email.upper() if rng.random() < 0.5 else email.title()


def _duplicate(rng: random.Random, o: dict, pk: int) -> dict:
    c = dict(o, id=pk)
    roll = rng.random()
    if roll < 0.25:
        c["last"] = _typo(rng, c["last"])
    elif roll < 0.40:
        c["first"] = _typo(rng, c["first"])
    elif roll < 0.55:
        c["first"] = _romanise(rng, c["first"])
        c["last"] = _romanise(rng, c["last"])
        c["middle"] = _romanise(rng, c["middle"])
    elif roll < 0.67:
        c["first"], c["last"] = c["last"], c["first"]
    elif roll < 0.77 and c["first"] in NICK:
        c["first"] = NICK[c["first"]]
    kept = False
    emails = list(o["emails"])
    roll = rng.random()
    if emails and roll < 0.45:
        kept = True
    elif emails and roll < 0.6:
        emails = [_email_variant(rng, emails[0])]
        kept = True
    elif roll < 0.8:
        emails = []
    else:
        emails = [f"{translit(c['first'])[:3]}{rng.randrange(10**6)}@{rng.choice(DOMAINS)}"]
    phones = list(o["phones"])
    roll = rng.random()
    if phones and roll < 0.5:
        kept = True
    elif roll < 0.75:
        phones = []
    else:
        phones = [_phone(rng, o["country"] == "RU")]
    c["birth"] = o["birth"] if rng.random() < 0.7 else None
    kept = kept or bool(c["birth"])
    if not kept:
        if o["phones"]:
            phones = list(o["phones"])
        elif o["emails"]:
            emails = list(o["emails"])
        else:
            c["birth"] = o["birth"]
    c["emails"], c["phones"] = emails, phones
    c["city"] = o["city"] if rng.random() < 0.8 else ""
    c["middle"] = c["middle"] if rng.random() < 0.5 else ""
    return c


def people(n: int, seed: int = 7, dup_share: float = 0.05) -> Iterator[tuple[dict, int | None]]:
    """(person, id of the original it duplicates or None), ids 1..n in a shuffled order."""
    rng = random.Random(seed)
    n_dups = int(n * dup_share)
    n_base = n - n_dups
    ids = list(range(1, n + 1))
    rng.shuffle(ids)
    base_ids = ids[:n_base]
    dup_ids = ids[n_base:]
    originals: list[dict] = []
    shared_phone: list[str] = []
    for pk in base_ids:
        p = _person(rng, pk)
        # Different people on one office line or one shared mailbox.
        if shared_phone and rng.random() < 0.005:
            p["phones"] = [rng.choice(shared_phone)]
        elif p["phones"] and rng.random() < 0.002:
            shared_phone.append(p["phones"][0])
        if len(originals) < 200_000 or rng.random() < 0.2:
            originals.append(p)
        yield p, None
    d = 0
    while d < len(dup_ids):
        o = rng.choice(originals)
        copies = 2 if rng.random() < 0.1 and d + 1 < len(dup_ids) else 1
        for _ in range(copies):
            yield _duplicate(rng, o, dup_ids[d]), o["id"]
            d += 1


def _row(p: dict, owner_id: int, now) -> tuple:
    emails = [e.lower().strip() for e in p["emails"]]
    phones = p["phones"]
    return (
        p["id"],
        owner_id,
        "",
        "{}",
        1,
        now,
        now,
        p["first"],
        p["middle"],
        p["last"],
        emails[0] if emails else "",
        phones[0] if phones else "",
        json.dumps(emails),
        json.dumps(phones),
        p["birth"],
        p["gender"],
        "",
        p["country"],
        "",
        p["city"],
        "{}",
        "lead",
        "",
        "",
    )


def load(n: int, owner_id: int, seed: int = 7, dup_share: float = 0.05, log=None) -> Generated:
    """Insert the generated contacts straight into the table (no search index, no audit)."""
    result = Generated()
    clusters: dict[int, list[int]] = {}
    now = timezone.now()
    table = Contact._meta.db_table
    batch: list[tuple] = []

    def flush():
        if not batch:
            return
        with connection.cursor() as cur:
            if connection.vendor == "postgresql":
                with cur.cursor.copy(f"COPY {table} ({', '.join(COLS)}) FROM STDIN") as copy:
                    for row in batch:
                        copy.write_row(row)
            else:
                marks = ", ".join(["%s"] * len(COLS))
                cur.executemany(f"INSERT INTO {table} ({', '.join(COLS)}) VALUES ({marks})", batch)
        batch.clear()

    for p, original in people(n, seed, dup_share):
        batch.append(_row(p, owner_id, now))
        result.contacts += 1
        if original is not None:
            result.duplicates += 1
            clusters.setdefault(original, [original]).append(p["id"])
        if len(batch) >= 10_000:
            flush()
            if log:
                log(f"generated {result.contacts:,}")
    flush()
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT MAX(id) FROM {table}))"
            )
    for original, members in clusters.items():
        copies = members[1:]
        for pk in copies:
            result.truth.add((min(original, pk), max(original, pk)))
        for x in range(len(copies)):
            for y in range(x + 1, len(copies)):
                result.siblings.add((min(copies[x], copies[y]), max(copies[x], copies[y])))
    return result
