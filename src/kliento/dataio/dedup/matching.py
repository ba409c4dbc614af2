"""Is this the same customer? Features of a record and a probabilistic score of the evidence.

The model is Fellegi–Sunter: each compared field lands on one agreement level (exact, similar,
nickname, swapped, different, missing) and contributes a weight ln(m/u), where m is how often
that level occurs between two records of the same customer and u how often between two
different customers. The weights add up (fields are taken as independent given the match
status) and the sum plus a prior log-odds (how rare duplicates are among the pairs a blocking
key brings together) is turned into a confidence with the logistic function:

    confidence = 1 / (1 + exp(-(ln(DUP_RATE / n) + Σ weights)))

m and u were set from what a CRM's data looks like (see the tables below) and checked on the
generated set of bench/dedup_scan.py, where the known duplicates give precision and recall.
Name agreement is worth less for common names: in a batch scan u is the name's share of the
base (a name two percent of contacts have says little), clamped so a rare name is not proof.

Names are compared after `fold` (lowercase, Cyrillic transliterated, Latin spelling variants
merged), with nicknames mapped to the full name, straight and with first/last swapped, by
Jaro–Winkler and Damerau–Levenshtein. Emails are compared in a canonical form (lowercase,
gmail dots and +tags dropped), phones as E.164 digits, companies by their name without the
legal form and quotes, tax id, website domain, emails and phones.

`Evidence` items are plain dicts (stored as JSON on DuplicatePair), made readable in the
user's language by `evidence_text`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from django.utils.dateparse import parse_date
from django.utils.translation import get_language, gettext_lazy

from kliento.customers.normalize import fold

# Among all pairs of a base of n records, about DUP_RATE / n are one customer (5 % of the
# records being a second copy): the prior log-odds of a pair is ln(DUP_RATE / n).
DUP_RATE = 0.1
# Two different customers share a mailbox, a phone line or a tax id rarely: of n records,
# about SHARED[f] * n / 2 pairs of different customers agree on f, so u = SHARED[f] / n.
# Company names (legal form removed) repeat more: Ромашка is everywhere.
SHARED = {"email": 0.05, "phone": 0.1, "tax_id": 0.01, "domain": 0.05, "company_name": 0.5}
# The base size assumed when scoring one record against a few (entry check).
DEFAULT_N = 100_000
# Above this a new record is held back on entry until the user confirms.
ENTRY_THRESHOLD = 0.8
# Shown as possible matches while a record is typed.
SUGGEST_THRESHOLD = 0.1
# What a scan stores for review.
SCAN_THRESHOLD = 0.5

# (m, u) per feature and agreement level. u for names is replaced by the name's frequency in
# a scan (clamped to NAME_U_MIN..).
M_U: dict[tuple[str, str], tuple[float, float]] = {
    ("last_name", "exact"): (0.85, 0.004),
    ("last_name", "similar"): (0.11, 0.002),
    ("last_name", "different"): (0.04, 0.994),
    ("first_name", "exact"): (0.80, 0.02),
    ("first_name", "nickname"): (0.06, 0.002),
    ("first_name", "similar"): (0.08, 0.008),
    ("first_name", "initial"): (0.02, 0.02),
    ("first_name", "different"): (0.04, 0.95),
    ("middle_name", "exact"): (0.6, 0.05),
    ("middle_name", "different"): (0.1, 0.9),
    ("email", "exact"): (0.55, 0.0),
    ("email", "different"): (0.12, 1.0),
    ("phone", "exact"): (0.55, 0.0),
    ("phone", "different"): (0.12, 1.0),
    ("birth_date", "exact"): (0.93, 1 / 20000),
    ("birth_date", "similar"): (0.03, 1 / 2000),
    ("birth_date", "different"): (0.04, 1.0),
    # Customers cluster in a few big cities: agreement says little.
    ("city", "exact"): (0.8, 0.3),
    ("city", "different"): (0.15, 0.7),
    ("company_name", "exact"): (0.75, 0.0),
    ("company_name", "similar"): (0.18, 1e-3),
    ("company_name", "different"): (0.07, 0.999),
    ("tax_id", "exact"): (0.7, 0.0),
    ("tax_id", "different"): (0.02, 1.0),
    ("domain", "exact"): (0.6, 0.0),
    ("domain", "different"): (0.2, 1.0),
}
NAME_U_MIN = 1e-4
WEIGHT = {key: math.log(m / u) for key, (m, u) in M_U.items() if u}

# Full names and their everyday forms, folded (see `fold`). A nickname maps to every full
# name it may stand for.
_NICKNAMES_RAW = {
    "aleksandr": ["sasha", "sashka", "shura", "alex", "aleks", "alik", "san", "aleksander"],
    "aleksandra": ["sasha", "shura", "alex", "aleks", "sandra"],
    "aleksei": ["alesha", "lesha", "alex", "aleks", "aleksis"],
    "anastasiia": ["nastia", "nastena", "asia", "stasia", "anastasia"],
    "anna": ["ania", "aniuta", "anechka", "ann", "annie"],
    "dmitrii": ["dima", "dimka", "mitia", "dmitri"],
    "ekaterina": ["katia", "katerina", "kate", "katie", "katrin", "katherine", "katharina"],
    "elena": ["lena", "helen", "helena", "alena"],
    "evgenii": ["zhenia", "evgeni", "eugene", "eugeni"],
    "evgeniia": ["zhenia", "evgenia", "eugenia"],
    "ivan": ["vania", "vanechka", "john"],
    "konstantin": ["kostia", "kostik"],
    "maria": ["masha", "mania", "mariia", "mary", "marie"],
    "mihail": ["misha", "mikhail", "mikhael", "michael", "mike"],
    "nikolai": ["kolia", "nikola", "nick", "nik"],
    "natalia": ["natasha", "nata", "natalie", "nataliia"],
    "olga": ["olia", "olechka"],
    "pavel": ["pasha", "paul"],
    "petr": ["petia", "piotr", "peter", "pyotr", "pietr"],
    "sergei": ["serezha", "serega", "serzh", "sergi", "sergey"],
    "svetlana": ["sveta", "lana"],
    "tatiana": ["tania", "tatiana", "tatyana", "tanya"],
    "zhanna": ["janna", "jeanne", "zhannochka"],
    "vladimir": ["vova", "volodia", "vladik", "vlad"],
    "iuliia": ["iulia", "julia", "yulia", "iulechka"],
    "irina": ["ira", "irisha"],
    "viktoriia": ["vika", "viktoria", "victoria", "vicky"],
    "andrei": ["andriusha", "andrew", "andy", "andrei"],
    "william": ["will", "bill", "billy", "liam"],
    "robert": ["rob", "bob", "bobby", "robbie"],
    "elizabeth": ["liz", "lizzie", "beth", "betty", "eliza", "elizabet"],
    "margaret": ["maggie", "meg", "peggy"],
    "james": ["jim", "jimmy", "jamie"],
    "richard": ["rick", "dick", "richie"],
    "thomas": ["tom", "tommy"],
    "christopher": ["chris", "kris"],
    "jennifer": ["jen", "jenny"],
    "daniel": ["dan", "danny", "danila", "daniil"],
    "joseph": ["joe", "joey"],
    "rebecca": ["becky", "becca"],
    "samuel": ["sam", "sammy"],
    "edward": ["ed", "eddie", "ted"],
    "anthony": ["tony"],
    "matthew": ["matt"],
    "nicholas": ["nick", "nicky"],
    "jonathan": ["jon", "jonny"],
    "stephen": ["steve", "stephan", "steven"],
    "patricia": ["pat", "patty", "trish"],
    "susan": ["sue", "susie"],
    "deborah": ["deb", "debbie"],
    "kimberly": ["kim"],
    "timothy": ["tim", "timmy"],
}


def _fold_keys() -> dict[str, frozenset[str]]:
    table: dict[str, set[str]] = {}
    for full, nicks in _NICKNAMES_RAW.items():
        full_f = fold(full)
        table.setdefault(full_f, set()).add(full_f)
        for nick in nicks:
            table.setdefault(fold(nick), set()).add(full_f)
    return {k: frozenset(v) for k, v in table.items()}


NICKNAMES = _fold_keys()


@lru_cache(maxsize=100_000)
def name_forms(first: str) -> frozenset[str]:
    """The full names a (folded) first name may stand for, itself included."""
    return NICKNAMES.get(first, frozenset()) | {first}


# --- string similarity --------------------------------------------------------------------


@lru_cache(maxsize=200_000)
def jaro_winkler(a: str, b: str) -> float:
    if a == b:
        return 1.0
    la, lb = len(a), len(b)
    if not la or not lb:
        return 0.0
    window = max(la, lb) // 2 - 1
    window = max(window, 0)
    matched_b = [False] * lb
    a_matches = []
    for i, ch in enumerate(a):
        lo = max(0, i - window)
        hi = min(lb, i + window + 1)
        for j in range(lo, hi):
            if not matched_b[j] and b[j] == ch:
                matched_b[j] = True
                a_matches.append(ch)
                break
    m = len(a_matches)
    if not m:
        return 0.0
    b_matches = [b[j] for j in range(lb) if matched_b[j]]
    transpositions = sum(x != y for x, y in zip(a_matches, b_matches, strict=True)) / 2
    jaro = (m / la + m / lb + (m - transpositions) / m) / 3
    prefix = 0
    for x, y in zip(a[:4], b[:4], strict=False):
        if x != y:
            break
        prefix += 1
    return jaro + prefix * 0.1 * (1 - jaro)


@lru_cache(maxsize=200_000)
def damerau(a: str, b: str) -> int:
    """Optimal-string-alignment distance (insert, delete, substitute, swap neighbours)."""
    if a == b:
        return 0
    la, lb = len(a), len(b)
    if abs(la - lb) > 2:
        return 3
    prev2: list[int] = []
    prev = list(range(lb + 1))
    for i in range(1, la + 1):
        cur = [i] + [0] * lb
        for j in range(1, lb + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            best = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                best = min(best, prev2[j - 2] + 1)
            cur[j] = best
        prev2, prev = prev, cur
    return prev[lb]


def similar(a: str, b: str) -> bool:
    """Close enough to be one name typed twice: one edit, or Jaro–Winkler ≥ 0.92."""
    if abs(len(a) - len(b)) > 2 or len(set(a) ^ set(b)) > 4:
        return False
    if len(a) >= 4 and len(b) >= 4 and damerau(a, b) <= 1:
        return True
    return jaro_winkler(a, b) >= 0.92 if len(a) >= 3 and len(b) >= 3 else False


# --- canonical forms ----------------------------------------------------------------------

_GMAIL = {"gmail.com", "googlemail.com"}
FREE_MAIL = {
    "gmail.com",
    "googlemail.com",
    "mail.ru",
    "yandex.ru",
    "ya.ru",
    "bk.ru",
    "inbox.ru",
    "list.ru",
    "rambler.ru",
    "outlook.com",
    "hotmail.com",
    "hotmail.co.uk",
    "yahoo.com",
    "icloud.com",
    "proton.me",
    "protonmail.com",
    "btinternet.com",
}


def email_key(email: str) -> str:
    """An email as the mailbox it reaches: lowercase, gmail dots and +tags dropped."""
    email = (email or "").strip().lower()
    if "@" not in email:
        return email
    local, domain = email.rsplit("@", 1)
    local = local.split("+", 1)[0]
    if domain in _GMAIL:
        local = local.replace(".", "")
        domain = "gmail.com"
    return f"{local}@{domain}"


_DIGITS = re.compile(r"\D")


def phone_key(phone: str) -> str:
    """E.164 digits; a Russian national form (8 916 …) counts as +7."""
    digits = _DIGITS.sub("", phone or "")
    if len(digits) == 11 and digits[0] == "8":
        digits = "7" + digits[1:]
    elif len(digits) == 10 and digits[0] == "9":
        digits = "7" + digits
    return digits


_LEGAL_FORMS_RAW = {
    "ooo",
    "oao",
    "zao",
    "pao",
    "ao",
    "ip",
    "nko",
    "ano",
    "fgup",
    "mup",
    "gup",
    "tov",
    "llc",
    "ltd",
    "limited",
    "inc",
    "incorporated",
    "corp",
    "corporation",
    "co",
    "company",
    "gmbh",
    "ag",
    "sa",
    "sarl",
    "bv",
    "nv",
    "plc",
    "llp",
    "lp",
    "oy",
    "ab",
    "as",
    "spa",
    "srl",
    "kg",
}
LEGAL_FORMS = {fold(x) for x in _LEGAL_FORMS_RAW}
_LEGAL_PHRASES = [
    "obshchestvo s ogranichennoi otvetstvennostiu",
    "obschestvo s ogranichennoi otvetstvennostiu",
    "aktsionernoe obshchestvo",
    "aktsionernoe obschestvo",
    "publichnoe aktsionernoe obschestvo",
    "individualnyi predprinimatel",
    "limited liability company",
]
_LEGAL_PHRASES_FOLDED = [fold(p) for p in _LEGAL_PHRASES]


@lru_cache(maxsize=100_000)
def company_name_key(name: str) -> str:
    """A company's name without legal form, quotes and punctuation, folded."""
    text = fold(name.replace("«", " ").replace("»", " ").replace('"', " ").replace("'", " "))
    for phrase in _LEGAL_PHRASES_FOLDED:
        text = text.replace(phrase, " ")
    words = [w for w in re.split(r"[\s.,&]+", text) if w and w not in LEGAL_FORMS]
    return " ".join(words)


def domain_key(website: str) -> str:
    text = (website or "").strip().lower()
    text = re.sub(r"^[a-z]+://", "", text)
    text = text.split("/", 1)[0].split(":", 1)[0]
    return text.removeprefix("www.")


_SLAVIC_C = re.compile(r"c(?=[eiyv])")


@lru_cache(maxsize=400_000)
def fold_name(text: str) -> str:
    """A name folded for comparison; a Latin "c" before e/i/y/v is read as "ts", the way
    Slavic romanisations write ц (Zaycev = Зайцев, Cvetkova = Цветкова)."""
    return fold(_SLAVIC_C.sub("ts", text.lower())).replace(" ", "")


# Consonant classes for the phonetic key: letters that sound alike or are confused in
# transliteration share one class; vowels (after the first letter) and doubles drop out.
_PHON = str.maketrans(
    {
        "b": "p",
        "f": "v",
        "w": "v",
        "d": "t",
        "z": "s",
        "c": "k",
        "g": "k",
        "q": "k",
        "h": "k",
        "x": "k",
        "j": "i",
        "y": "i",
    }
)


@lru_cache(maxsize=400_000)
def phonetic(name: str) -> str:
    """A soundex-like key of a folded name: Ivanov, Ivanova, Иванов and Ivanoff agree."""
    if not name:
        return ""
    text = name.translate(_PHON)
    text = text.replace("ff", "v")
    out = [text[0]]
    for ch in text[1:]:
        if ch in "aeiou" or ch == out[-1]:
            continue
        out.append(ch)
    return "".join(out)[:6]


# --- records -------------------------------------------------------------------------------


@dataclass(slots=True)
class ContactFeatures:
    id: int
    first: str
    last: str
    middle: str
    emails: frozenset[str]
    phones: frozenset[str]
    birth: str
    city: str


@dataclass(slots=True)
class CompanyFeatures:
    id: int
    name: str
    tax_id: str
    domain: str
    emails: frozenset[str]
    phones: frozenset[str]
    city: str


def contact_features(
    pk: int,
    first: str,
    middle: str,
    last: str,
    emails: Iterable[str],
    phones: Iterable[str],
    birth: Any,
    city: str,
) -> ContactFeatures:
    return ContactFeatures(
        id=pk,
        first=fold_name(first or ""),
        last=fold_name(last or ""),
        middle=fold_name(middle or ""),
        emails=frozenset(email_key(e) for e in emails if e),
        phones=frozenset(phone_key(p) for p in phones if p),
        birth=_birth_key(birth),
        city=fold_name(city or ""),
    )


def _birth_key(birth: Any) -> str:
    """YYYY-MM-DD, or "" for no date or a text that is not one (a half-typed form field)."""
    if not birth:
        return ""
    try:
        day = birth if isinstance(birth, date) else parse_date(str(birth).strip())
    except ValueError:
        return ""
    return day.isoformat() if day else ""


def company_features(
    pk: int,
    name: str,
    legal_name: str,
    tax_id: str,
    website: str,
    emails: Iterable[str],
    phones: Iterable[str],
    city: str,
) -> CompanyFeatures:
    emails = frozenset(email_key(e) for e in emails if e)
    domain = domain_key(website)
    if not domain:
        domains = {e.rsplit("@", 1)[-1] for e in emails} - FREE_MAIL
        domain = min(domains) if domains else ""
    return CompanyFeatures(
        id=pk,
        name=company_name_key(name or legal_name or ""),
        tax_id=_DIGITS.sub("", tax_id or "") or (tax_id or "").strip().upper(),
        domain=domain,
        emails=emails,
        phones=frozenset(phone_key(p) for p in phones if p),
        city=fold_name(city or ""),
    )


# --- scoring ------------------------------------------------------------------------------


class BaseStats:
    """What the weights depend on: the base size n and how common each folded name is."""

    def __init__(
        self,
        n: int = DEFAULT_N,
        first: dict[str, int] | None = None,
        last: dict[str, int] | None = None,
    ):
        self.n = max(n, 1000)
        self.first = first or {}
        self.last = last or {}
        self.prior = math.log(DUP_RATE / self.n)
        self.cache: dict[tuple[str, str], float] = {}
        self.exact = {
            feature: math.log(M_U[(feature, "exact")][0] * self.n / shared)
            for feature, shared in SHARED.items()
        }

    def name_u(self, kind: str, name: str, default: float) -> float:
        if not self.first and not self.last:
            return default
        # Counted in both roles: a swapped record has a first name in `last`.
        share = max(self.first.get(name, 0) + self.last.get(name, 0), 1) / self.n
        return min(max(share, NAME_U_MIN), 0.5)

    def weight(self, feature: str, level: str) -> float:
        if level == "exact" and feature in self.exact:
            return self.exact[feature]
        return WEIGHT[(feature, level)]


NO_STATS = BaseStats()


def _item(feature: str, level: str, weight: float, a: Any = "", b: Any = "") -> tuple:
    # A tuple while scoring (most compared pairs are dropped); `explain` makes the dicts.
    return (feature, level, weight, a, b)


def explain(items: list[tuple]) -> list[dict]:
    """Evidence as stored and shown: dicts, weights rounded, one value per side."""
    return [
        {
            "feature": feature,
            "level": level,
            "weight": round(weight, 2),
            "a": min(a) if isinstance(a, frozenset) else a,
            "b": min(b) if isinstance(b, frozenset) else b,
        }
        for feature, level, weight, a, b in items
    ]


def _name_level(a: str, b: str, kind: str) -> str:
    if a == b:
        return "exact"
    if kind == "first_name":
        if name_forms(a) & name_forms(b):
            return "nickname"
        if (len(a) == 1 and b.startswith(a)) or (len(b) == 1 and a.startswith(b)):
            return "initial"
    return "similar" if similar(a, b) else "different"


def _name_weight(kind: str, level: str, name: str, stats: BaseStats) -> float:
    if level != "exact":
        return WEIGHT[(kind, level)]
    key = (kind, name)
    weight = stats.cache.get(key)
    if weight is None:
        m, u = M_U[(kind, level)]
        weight = stats.cache[key] = math.log(m / stats.name_u(kind, name, u))
    return weight


def _names(a: ContactFeatures, b: ContactFeatures, stats: BaseStats) -> tuple[float, list]:
    """Best of the straight and the swapped comparison of first and last names."""
    best: tuple[float, list] | None = None
    for swapped in (False, True):
        b_first, b_last = (b.last, b.first) if swapped else (b.first, b.last)
        total = 0.0
        items = []
        for kind, x, y in (("last_name", a.last, b_last), ("first_name", a.first, b_first)):
            if not x or not y:
                continue
            level = _name_level(x, y, kind)
            weight = _name_weight(kind, level, x, stats)
            total += weight
            items.append(_item(kind, level, weight, x, y))
        if swapped:
            if not (a.first and a.last and b.first and b.last):
                break
            # The swap itself is a small penalty: straight order is the usual case.
            total -= 1.0
            items.append(_item("swapped", "exact", -1.0))
        if best is None or total > best[0]:
            best = (total, items)
        # Swapped names are tried only when the straight reading disagrees somewhere.
        if all(item[1] != "different" for item in items):
            break
    return best or (0.0, [])


def _sets(feature: str, a: frozenset, b: frozenset, stats: BaseStats) -> tuple[float, dict] | None:
    if not a or not b:
        return None
    common = a & b
    if common:
        weight = stats.weight(feature, "exact")
        return weight, _item(feature, "exact", weight, common, common)
    weight = stats.weight(feature, "different")
    return weight, _item(feature, "different", weight, a, b)


def _birth_level(a: str, b: str) -> str:
    if a == b:
        return "exact"
    # Day and month swapped, or one digit off: typed wrong once.
    ya, ma, da = a.split("-")
    yb, mb, db = b.split("-")
    if ya == yb and ma == db and da == mb:
        return "similar"
    if sum(x != y for x, y in zip(a, b, strict=False)) == 1:
        return "similar"
    return "different"


def score_contacts(
    a: ContactFeatures, b: ContactFeatures, stats: BaseStats = NO_STATS
) -> tuple[float, list[dict]]:
    """(confidence 0–1, evidence) that `a` and `b` are one person."""
    confidence, items = contact_score(a, b, stats)
    return confidence, explain(items)


def score_companies(
    a: CompanyFeatures, b: CompanyFeatures, stats: BaseStats = NO_STATS
) -> tuple[float, list[dict]]:
    """(confidence 0–1, evidence) that `a` and `b` are one company."""
    confidence, items = company_score(a, b, stats)
    return confidence, explain(items)


def contact_score(
    a: ContactFeatures, b: ContactFeatures, stats: BaseStats = NO_STATS
) -> tuple[float, list[tuple]]:
    """`score_contacts` with the evidence as raw tuples (see `explain`), for the batch scan."""
    total, evidence = _names(a, b, stats)
    if a.middle and b.middle:
        level = "exact" if a.middle == b.middle or similar(a.middle, b.middle) else "different"
        weight = WEIGHT[("middle_name", level)]
        total += weight
        evidence.append(_item("middle_name", level, weight, a.middle, b.middle))
    for feature, x, y in (("email", a.emails, b.emails), ("phone", a.phones, b.phones)):
        found = _sets(feature, x, y, stats)
        if found:
            total += found[0]
            evidence.append(found[1])
    if a.birth and b.birth:
        level = _birth_level(a.birth, b.birth)
        weight = WEIGHT[("birth_date", level)]
        total += weight
        evidence.append(_item("birth_date", level, weight, a.birth, b.birth))
    if a.city and b.city:
        level = "exact" if a.city == b.city or similar(a.city, b.city) else "different"
        weight = WEIGHT[("city", level)]
        total += weight
        evidence.append(_item("city", level, weight, a.city, b.city))
    return _confidence(stats.prior + total), evidence


def company_score(
    a: CompanyFeatures, b: CompanyFeatures, stats: BaseStats = NO_STATS
) -> tuple[float, list[tuple]]:
    total = 0.0
    evidence: list[dict] = []
    if a.name and b.name:
        if a.name == b.name:
            level = "exact"
        elif similar(a.name, b.name) or (
            min(len(a.name), len(b.name)) >= 5 and (a.name in b.name or b.name in a.name)
        ):
            level = "similar"
        else:
            level = "different"
        weight = stats.weight("company_name", level)
        total += weight
        evidence.append(_item("company_name", level, weight, a.name, b.name))
    if a.tax_id and b.tax_id:
        level = "exact" if a.tax_id == b.tax_id else "different"
        weight = stats.weight("tax_id", level)
        total += weight
        evidence.append(_item("tax_id", level, weight, a.tax_id, b.tax_id))
    if a.domain and b.domain:
        level = "exact" if a.domain == b.domain else "different"
        weight = stats.weight("domain", level)
        total += weight
        evidence.append(_item("domain", level, weight, a.domain, b.domain))
    for feature, x, y in (("email", a.emails, b.emails), ("phone", a.phones, b.phones)):
        found = _sets(feature, x, y, stats)
        if found:
            total += found[0]
            evidence.append(found[1])
    if a.city and b.city:
        level = "exact" if a.city == b.city else "different"
        weight = WEIGHT[("city", level)]
        total += weight
        evidence.append(_item("city", level, weight, a.city, b.city))
    return _confidence(stats.prior + total), evidence


def _confidence(x: float) -> float:
    if x > 30:
        return 1.0
    if x < -30:
        return 0.0
    return 1 / (1 + math.exp(-x))


# --- blocking keys ------------------------------------------------------------------------


def contact_keys(f: ContactFeatures) -> set[str]:
    """Blocking keys: two records are compared only when they share one."""
    keys = {f"e:{e}" for e in f.emails} | {f"p:{p}" for p in f.phones}
    if f.first and f.last:
        # Nickname forms on both sides (a swapped record has the first name in `last`);
        # the two codes sorted, so that swapped first and last names share the key.
        for first in name_forms(f.first):
            for last in name_forms(f.last):
                pair = sorted((phonetic(first), phonetic(last)))
                keys.add(f"n:{pair[0]}|{pair[1]}")
    if f.birth:
        initials = "".join(sorted(x[0] for x in (f.first, f.last) if x))
        keys.add(f"b:{f.birth}|{initials[:1]}")
    return keys


def company_keys(f: CompanyFeatures) -> set[str]:
    keys = {f"e:{e}" for e in f.emails} | {f"p:{p}" for p in f.phones}
    if f.tax_id:
        keys.add(f"t:{f.tax_id}")
    if f.domain:
        keys.add(f"d:{f.domain}")
    if f.name:
        keys.add(f"n:{f.name[:6]}")
        words = f.name.split()
        if len(words) > 1:
            keys.add(f"w:{max(words, key=len)[:6]}")
    return keys


# --- readable evidence --------------------------------------------------------------------


FEATURE_LABELS = {
    "first_name": gettext_lazy("First name"),
    "last_name": gettext_lazy("Last name"),
    "middle_name": gettext_lazy("Middle name"),
    "swapped": gettext_lazy("First and last name swapped"),
    "email": gettext_lazy("Email"),
    "phone": gettext_lazy("Phone"),
    "birth_date": gettext_lazy("Birth date"),
    "city": gettext_lazy("City"),
    "company_name": gettext_lazy("Name without legal form"),
    "tax_id": gettext_lazy("Tax id"),
    "domain": gettext_lazy("Website domain"),
}
LEVEL_LABELS = {
    "exact": gettext_lazy("same"),
    "similar": gettext_lazy("similar (a typo apart)"),
    "nickname": gettext_lazy("same name, another form"),
    "initial": gettext_lazy("initial matches"),
    "different": gettext_lazy("different"),
}


_LABELS: dict[tuple[str, str], str] = {}


def _label(table: dict, key: str) -> str:
    # gettext costs microseconds; a CSV of a million pairs asks for the same dozen labels.
    cache_key = (get_language() or "", key)
    label = _LABELS.get(cache_key)
    if label is None:
        label = _LABELS[cache_key] = str(table.get(key, key))
    return label


def feature_label(feature: str) -> str:
    return _label(FEATURE_LABELS, feature)


def level_label(level: str) -> str:
    return _label(LEVEL_LABELS, level)


def evidence_text(item: dict, cache: dict | None = None) -> str:
    """One line of evidence in the active language, e.g. "Email: same (ivan@x.ru) +11.2".

    `cache` (a dict the caller keeps) saves looking the labels up again for every line."""
    key = (item["feature"], item["level"])
    labels = cache.get(key) if cache is not None else None
    if labels is None:
        labels = (feature_label(item["feature"]), level_label(item["level"]))
        if cache is not None:
            cache[key] = labels
    label, level = labels
    if item["feature"] == "swapped":
        return f"{label} {item['weight']:+.1f}"
    values = item["a"] if item["a"] == item["b"] else f"{item['a']} / {item['b']}"
    return f"{label}: {level} ({values}) {item['weight']:+.1f}"
