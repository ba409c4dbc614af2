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
from collections import Counter
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

from django.db import connection

from kliento.core.models import OrgSettings, User
from kliento.core.permissions import scope_for
from kliento.customers.models import Company, Contact, RecordShare, SearchEntry, SearchWord
from kliento.customers.normalize import fold, format_phone, phone_digits_variants, search_text

MIN_WORD = 3
VOCAB_MIN = 4
CANDIDATES = 300
MAX_CORRECTIONS = 4
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


_VOCAB_WORD = re.compile(rf"[a-z]{{{VOCAB_MIN},40}}")


def vocabulary_words(text: str) -> set[str]:
    """Name-like words only: emails, numbers and phones are matched exactly, not corrected."""
    return {w for w in text.split() if _VOCAB_WORD.fullmatch(w)}


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


def _similar_words(word: str, max_distance: int | None = None) -> list[str]:
    """Vocabulary words within a small edit distance of `word` (typo correction)."""
    if not _VOCAB_WORD.fullmatch(word):
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
    limit = _max_distance(word) if max_distance is None else max_distance
    close = [(levenshtein(word, c, limit), c) for c in candidates if c != word]
    return [c for d, c in sorted(close) if d <= limit][:8]


def query_terms(q: str) -> list[list[str]]:
    """Each query word becomes a list of alternatives (itself and near spellings)."""
    q = (q or "").strip()[:200]
    if _PHONEISH.match(q) and sum(ch.isdigit() for ch in q) >= 5:
        variants = phone_digits_variants(q, OrgSettings.get().default_region)
        return [variants] if variants else []
    words = [w for w in fold(q).split() if len(w) >= MIN_WORD][:8]
    # A word the vocabulary knows is taken as spelled; only unknown ones get corrections.
    known = set(SearchWord.objects.filter(word__in=words).values_list("word", flat=True))

    # A known word may still be a typo that exists in the data ("Owwens"): alone it keeps
    # its nearest one-letter neighbours; beside other words (a full name) it is taken as
    # spelled, since every extra spelling multiplies the work of the match.
    def alternatives(word: str) -> list[str]:
        if word not in known:
            return [word, *_similar_words(word)[:MAX_CORRECTIONS]]
        if len(words) == 1:
            return [word, *_similar_words(word, max_distance=1)[:2]]
        return [word]

    return [alternatives(w) for w in words]


# --- matching -----------------------------------------------------------------------------


def _candidates(terms: list[list[str]], owner_filter: str, params: list, limit: int) -> list:
    """Up to `limit` entries matching every term (any of its spellings), in no set order.

    Ranking every match in the database (bm25, similarity) costs time proportional to the
    match count — seconds for a common name over millions of rows — so the database only
    finds candidates and `_score` ranks them.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            clauses, args = [], []
            for alternatives in terms:
                clauses.append("(" + " OR ".join(["e.text LIKE %s"] * len(alternatives)) + ")")
                args += [f"%{_like_escape(a)}%" for a in alternatives]
            cursor.execute(
                "SELECT e.entity, e.object_id, e.owner_id, e.title, e.text "
                "FROM customers_searchentry e WHERE "
                + " AND ".join(clauses)
                + owner_filter
                + " LIMIT %s",
                [*args, *params, limit],
            )
        else:
            match = " AND ".join(
                "(" + " OR ".join(_fts_quote(a) for a in alternatives) + ")"
                for alternatives in terms
            )
            cursor.execute(
                "SELECT e.entity, e.object_id, e.owner_id, e.title, e.text "
                "FROM customers_search_fts f JOIN customers_searchentry e ON e.id = f.rowid "
                "WHERE customers_search_fts MATCH %s" + owner_filter + " LIMIT %s",
                [match, *params, limit],
            )
        return cursor.fetchall()


def search_candidate_ids(*, entity: str, text: str, limit: int) -> list[int]:
    """Ids of `entity` records ("contact" or "company") whose index entry matches every word of
    `text`, typo corrections included, as search() finds them: unranked, and regardless of who
    may see them, so the caller ranks the records and checks visibility itself.

    At most `limit` entries of either entity are read, so fewer than `limit` ids may come back.
    """
    terms = query_terms(text)
    if not terms:
        return []
    rows = _candidates(terms, "", [], limit=limit)
    return [object_id for row_entity, object_id, *_rest in rows if row_entity == entity]


def _score(terms: list[list[str]], text: str, similar: dict | None = None) -> float:
    """1.0 for whole-word matches of every query word; less for prefixes and corrections.

    `similar` memoises the fuzzy ratio of (query word, text word) across the candidates of one
    search: they share most words (first names, mail domains), and the ratio was most of a
    two-word search's time.
    """
    similar = {} if similar is None else similar
    words = text.split()
    total = 0.0
    for exact, *corrections in terms:
        if exact in words:
            best = 1.0
        elif any(w.startswith(exact) for w in words):
            best = 0.9
        elif any(exact in w for w in words):
            best = 0.8
        elif any(c in words for c in corrections):
            best = 0.75
        elif any(c in w for c in corrections for w in words):
            best = 0.65
        else:
            best = _best_ratio(similar, exact, words[:20]) * 0.6
        total += best
    return total / max(len(terms), 1)


def _best_ratio(similar: dict, exact: str, words: list[str]) -> float:
    """The highest SequenceMatcher ratio of `exact` against `words` (0.0 for none).

    A word whose letters in common with `exact` (counted with repeats, difflib's quick_ratio)
    cap its ratio at or below the best so far cannot change the maximum, so its ratio — the
    expensive part — is not computed.
    """
    best = 0.0
    size = len(exact)
    letters = None
    for word in words:
        key = (exact, word)
        ratio = similar.get(key)
        if ratio is None:
            if letters is None:
                letters = Counter(exact).items()
            common = sum(min(n, word.count(ch)) for ch, n in letters)
            if 2.0 * common / (size + len(word)) <= best:
                continue
            ratio = similar[key] = SequenceMatcher(None, exact, word).ratio()
        best = max(best, ratio)
    return best


def _visible_filter(user: User) -> tuple[str, list]:
    scope = scope_for(user)
    if scope.read_all:
        return "", []
    owner_ids = sorted(scope.owner_ids)
    clause = " AND (e.owner_id IN (" + ",".join(["%s"] * len(owner_ids)) + ")" + _SHARED + ")"
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
    scope = scope_for(user)
    rows = _candidates(terms, "", [], limit=CANDIDATES)
    if len(rows) < limit and len(terms) > 1:
        # Relax "every word" to "any word" so one badly mistyped word doesn't hide the match.
        relaxed = [[alt for alternatives in terms for alt in alternatives]]
        seen = {(r[0], r[1]) for r in rows}
        rows += [
            r for r in _candidates(relaxed, "", [], limit=CANDIDATES) if (r[0], r[1]) not in seen
        ]
    visible, hidden = rows, []
    if not scope.read_all:
        shared = _shared_keys(user, rows)
        visible = [r for r in rows if r[2] in scope.owner_ids or (r[0], r[1]) in shared]
        hidden = [r for r in rows if not (r[2] in scope.owner_ids or (r[0], r[1]) in shared)]
        if len(rows) >= CANDIDATES and len(visible) < limit:
            # Too many matches to filter after the fact: ask for visible ones only.
            clause, params = _visible_filter(user)
            visible = _candidates(terms, clause, params, limit=CANDIDATES)
    similar: dict = {}
    ranked = sorted(
        (
            (_score(terms, text, similar), entity, object_id, owner_id, title)
            for entity, object_id, owner_id, title, text in visible
        ),
        key=lambda r: (-r[0], r[1], r[2]),
    )[:limit]
    hits = [
        Hit(entity=e, id=oid, title=title, score=round(s, 3), owner_id=owner)
        for s, e, oid, owner, title in ranked
    ]
    _fill_subtitles(hits)
    hits += _hidden_hits(terms, hidden, similar)
    _fill_owner_names(hits)
    return hits


def _shared_keys(user: User, rows: list) -> set[tuple[str, int]]:
    ids = [r[1] for r in rows]
    if not ids:
        return set()
    return set(
        RecordShare.objects.filter(user_id=user.pk, object_id__in=ids).values_list(
            "entity", "object_id"
        )
    )


def _hidden_hits(terms: list[list[str]], rows: list, similar: dict | None = None) -> list[Hit]:
    """Records matching strongly that the user cannot see: only that they exist, and whose."""
    hits = []
    for entity, _object_id, owner_id, _title, text in rows:
        if _score(terms, text, similar) < 0.8:
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
