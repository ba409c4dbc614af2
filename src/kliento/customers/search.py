"""Customer search: one interface over SQLite FTS5 (trigram) and PostgreSQL pg_trgm.

Every contact and company has a SearchEntry whose `text` is its names, emails, company names
and tax id folded to lowercase Latin (Cyrillic transliterated), plus its phones' digits. A query
is folded the same way, so "Иванов", "Ivanov" and "IVANOV" meet. Typos are corrected against the
vocabulary of indexed words (SearchWord) by trigram similarity and edit distance, and each query
word then matches as a substring (so "ivan" finds "ivanova"). Candidates are re-ranked in Python.
Visibility comes from core.permissions: visible hits carry data; a record the user may not see
is reported only as "exists, owned by X".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

from django.db import connection

from kliento.core.models import OrgSettings, User
from kliento.core.permissions import scope_for
from kliento.customers.models import Company, Contact, SearchEntry, SearchWord
from kliento.customers.normalize import fold, format_phone, phone_digits_variants, search_text

MIN_WORD = 3
VOCAB_MIN = 4
_PHONEISH = re.compile(r"^[\d\s()+\-.]+$")


@dataclass
class Hit:
    entity: str
    id: int | None
    title: str
    subtitle: str = ""
    score: float = 0.0
    visible: bool = True
    owner_id: int | None = None
    owner_name: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


# --- indexing -----------------------------------------------------------------------------


def contact_text(contact: Contact) -> str:
    company_names = list(contact.companies.values_list("name", flat=True))
    return search_text(
        contact.first_name,
        contact.middle_name,
        contact.last_name,
        *contact.emails,
        *company_names,
        phones=contact.phones,
    )


def company_text(company: Company) -> str:
    return search_text(
        company.name, company.legal_name, company.tax_id, *company.emails, phones=company.phones
    )


def vocabulary_words(text: str) -> set[str]:
    return {w[:100] for w in text.split() if len(w) >= VOCAB_MIN and not w.isdigit()}


def _index(entity: str, obj, title: str, text: str) -> None:
    SearchEntry.objects.update_or_create(
        entity=entity,
        object_id=obj.pk,
        defaults={"owner_id": obj.owner_id, "title": title[:255], "text": text},
    )
    words = vocabulary_words(text)
    if words:
        SearchWord.objects.bulk_create([SearchWord(word=w) for w in words], ignore_conflicts=True)


def index_contact(contact: Contact) -> None:
    _index("contact", contact, contact.full_name, contact_text(contact))


def index_company(company: Company) -> None:
    _index("company", company, company.name, company_text(company))


def unindex(entity: str, object_id: int) -> None:
    SearchEntry.objects.filter(entity=entity, object_id=object_id).delete()


def vocabulary_rebuild(batch: int = 20_000) -> int:
    """Rebuild SearchWord from every SearchEntry (after bulk loads). Returns the word count."""
    words: set[str] = set()
    last = 0
    while True:
        rows = list(
            SearchEntry.objects.filter(id__gt=last).order_by("id").values_list("id", "text")[:batch]
        )
        if not rows:
            break
        for _id, text in rows:
            words |= vocabulary_words(text)
        last = rows[-1][0]
    SearchWord.objects.all().delete()
    ordered = sorted(words)
    for i in range(0, len(ordered), batch):
        SearchWord.objects.bulk_create(
            [SearchWord(word=w) for w in ordered[i : i + batch]], ignore_conflicts=True
        )
    return len(ordered)


# --- query parsing ------------------------------------------------------------------------


def levenshtein(a: str, b: str, limit: int = 3) -> int:
    """Edit distance counting a swap of two neighbours as one edit (optimal string alignment)."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cost = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cost = min(cost, prev2[j - 2] + 1)
            cur.append(cost)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


def _max_distance(word: str) -> int:
    return 1 if len(word) <= 6 else 2


def _trigrams(word: str) -> list[str]:
    return sorted({word[i : i + 3] for i in range(len(word) - 2)})


def _fts_quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _similar_words(word: str) -> list[str]:
    """Vocabulary words within a small edit distance of `word` (typo correction)."""
    if len(word) < VOCAB_MIN or word.isdigit():
        return []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The default 0.3 misses swapped letters in short words ("pterov" ~ "petrov" 0.27).
            cursor.execute("SET pg_trgm.similarity_threshold = 0.2")
            cursor.execute(
                "SELECT word FROM customers_searchword WHERE word %% %s "
                "ORDER BY word <-> %s LIMIT 100",
                [word, word],
            )
        else:
            grams = _trigrams(word)
            if not grams:
                return []
            cursor.execute(
                "SELECT word FROM customers_searchword_fts WHERE customers_searchword_fts "
                "MATCH %s ORDER BY rank LIMIT 200",
                [" OR ".join(_fts_quote(g) for g in grams)],
            )
        candidates = [row[0] for row in cursor.fetchall()]
    limit = _max_distance(word)
    close = [(levenshtein(word, c, limit), c) for c in candidates if c != word]
    return [c for d, c in sorted(close) if d <= limit][:8]


def query_terms(q: str) -> list[list[str]]:
    """Each query word becomes a list of alternatives (itself and near spellings)."""
    q = (q or "").strip()[:200]
    if _PHONEISH.match(q) and sum(ch.isdigit() for ch in q) >= 5:
        variants = phone_digits_variants(q, OrgSettings.get().default_region)
        return [variants] if variants else []
    terms = []
    for word in fold(q).split():
        if len(word) < MIN_WORD:
            continue
        terms.append([word, *_similar_words(word)])
    return terms


# --- matching -----------------------------------------------------------------------------


def _candidates(terms: list[list[str]], owner_filter: str, params: list, limit: int) -> list:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            clauses, args = [], []
            for alternatives in terms:
                clauses.append("(" + " OR ".join(["e.text LIKE %s"] * len(alternatives)) + ")")
                args += [f"%{_like_escape(a)}%" for a in alternatives]
            order = " ".join(a[0] for a in terms)
            cursor.execute(
                "SELECT e.entity, e.object_id, e.owner_id, e.title, e.text "
                "FROM customers_searchentry e WHERE "
                + " AND ".join(clauses)
                + owner_filter
                + " ORDER BY similarity(e.text, %s) DESC, e.id LIMIT %s",
                [*args, *params, order, limit],
            )
        else:
            match = " AND ".join(
                "(" + " OR ".join(_fts_quote(a) for a in alternatives) + ")"
                for alternatives in terms
            )
            cursor.execute(
                "SELECT e.entity, e.object_id, e.owner_id, e.title, e.text "
                "FROM customers_search_fts f JOIN customers_searchentry e ON e.id = f.rowid "
                "WHERE customers_search_fts MATCH %s" + owner_filter + " ORDER BY f.rank LIMIT %s",
                [match, *params, limit],
            )
        return cursor.fetchall()


def _score(terms: list[list[str]], text: str) -> float:
    words = text.split()
    total = 0.0
    for alternatives in terms:
        exact = alternatives[0]
        if any(exact == w for w in words):
            best = 1.0
        elif any(exact in w for w in words):
            best = 0.9
        else:
            best = max((SequenceMatcher(None, exact, w).ratio() * 0.85 for w in words), default=0.0)
        total += best
    return total / max(len(terms), 1)


def _visible_filter(user: User) -> tuple[str, list]:
    scope = scope_for(user)
    if scope.read_all:
        return "", []
    owner_ids = sorted(scope.owner_ids)
    clause = " AND (e.owner_id IN (" + ",".join(["%s"] * len(owner_ids)) + ")" + _SHARED + ")"
    return clause, [*owner_ids, user.pk]


def _hidden_filter(user: User) -> tuple[str, list]:
    owner_ids = sorted(scope_for(user).owner_ids)
    clause = (
        " AND (e.owner_id IS NULL OR e.owner_id NOT IN ("
        + ",".join(["%s"] * len(owner_ids))
        + ")) AND NOT ("
        + _SHARED[4:]
        + ")"
    )
    return clause, [*owner_ids, user.pk]


_SHARED = (
    " OR EXISTS (SELECT 1 FROM customers_recordshare s WHERE s.user_id = %s"
    " AND s.entity = e.entity AND s.object_id = e.object_id)"
)


def search(*, user: User, q: str, limit: int = 20) -> list[Hit]:
    terms = query_terms(q)
    if not terms:
        return []
    limit = max(1, min(limit, 100))
    clause, params = _visible_filter(user)
    rows = _candidates(terms, clause, params, limit=max(limit * 5, 100))
    if len(rows) < limit and len(terms) > 1:
        # Relax "every word" to "any word" so one badly mistyped word doesn't hide the match.
        relaxed = [[alt for alternatives in terms for alt in alternatives]]
        seen = {(r[0], r[1]) for r in rows}
        rows += [
            r
            for r in _candidates(relaxed, clause, params, limit=max(limit * 5, 100))
            if (r[0], r[1]) not in seen
        ]
    ranked = sorted(
        (
            (_score(terms, text), entity, object_id, owner_id, title)
            for entity, object_id, owner_id, title, text in rows
        ),
        key=lambda r: (-r[0], r[1], r[2]),
    )[:limit]
    hits = [
        Hit(entity=e, id=oid, title=title, score=round(s, 3), owner_id=owner)
        for s, e, oid, owner, title in ranked
    ]
    _fill_subtitles(hits)
    if not scope_for(user).read_all:
        hits += _hidden_hits(user, terms, {(h.entity, h.id) for h in hits})
    _fill_owner_names(hits)
    return hits


def _hidden_hits(user: User, terms: list[list[str]], seen: set) -> list[Hit]:
    """Records matching strongly that the user cannot see: only that they exist, and whose."""
    clause, params = _hidden_filter(user)
    rows = _candidates(terms, clause, params, limit=50)
    hits = []
    for entity, object_id, owner_id, _title, text in rows:
        if (entity, object_id) in seen or _score(terms, text) < 0.8:
            continue
        hits.append(
            Hit(entity=entity, id=None, title="", score=0.0, visible=False, owner_id=owner_id)
        )
        if len(hits) >= 5:
            break
    return hits


def _fill_subtitles(hits: list[Hit]) -> None:
    contact_ids = [h.id for h in hits if h.entity == "contact"]
    company_ids = [h.id for h in hits if h.entity == "company"]
    contacts = Contact.objects.only("email", "phone", "city").in_bulk(contact_ids)
    companies = Company.objects.only("tax_id", "city").in_bulk(company_ids)
    for hit in hits:
        if hit.entity == "contact" and hit.id in contacts:
            c = contacts[hit.id]
            parts = [c.email, format_phone(c.phone), c.city]
        elif hit.entity == "company" and hit.id in companies:
            c = companies[hit.id]
            parts = [c.tax_id, c.city]
        else:
            parts = []
        hit.subtitle = " · ".join(p for p in parts if p)


def _fill_owner_names(hits: list[Hit]) -> None:
    owners = User.objects.in_bulk({h.owner_id for h in hits if h.owner_id})
    for hit in hits:
        owner = owners.get(hit.owner_id)
        hit.owner_name = owner.display_name if owner else ""
