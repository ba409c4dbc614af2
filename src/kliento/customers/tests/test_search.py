import unicodedata
from difflib import SequenceMatcher

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kliento.customers import normalize, services
from kliento.customers.normalize import phone_digits_variants
from kliento.customers.search import _best_ratio, levenshtein, search


@pytest.fixture
def people(org):
    company = services.company_create(
        user=org.rep, data={"name": "Ромашка", "tax_id": "7701234567"}
    )
    petrov = services.contact_create(
        user=org.rep,
        data={
            "first_name": "Иван",
            "last_name": "Петров",
            "emails": ["ivan.petrov@mail.ru"],
            "phones": ["+7 916 123-45-67"],
            "companies": [{"company_id": company.pk}],
        },
    )
    smith = services.contact_create(
        user=org.rep,
        data={"first_name": "John", "last_name": "Smith", "emails": ["john@smith.co.uk"]},
    )
    hidden = services.contact_create(
        user=org.other_rep,
        data={"first_name": "Мария", "last_name": "Кузнецова", "emails": ["maria@example.com"]},
    )
    return {"company": company, "petrov": petrov, "smith": smith, "hidden": hidden}


@pytest.mark.parametrize(
    "query",
    [
        "Петров",
        "Petrov",
        "petrov ivan",
        "Петроф",
        "Pterov",
        "Ivn Petrv",
        "ivan.petrov@mail.ru",
        "8 (916) 123-45-67",
        "+79161234567",
        "916 123 45 67",
    ],
)
def test_search_finds_petrov_however_typed(org, people, query):
    hits = search(user=org.rep, q=query)
    assert hits[0].entity == "contact" and hits[0].id == people["petrov"].pk
    assert hits[0].title == "Иван Петров"


@pytest.mark.parametrize("query", ["Romashka", "ромашко", "7701234567"])
def test_search_finds_companies_by_name_and_tax_id(org, people, query):
    hits = search(user=org.rep, q=query)
    assert (hits[0].entity, hits[0].id) == ("company", people["company"].pk)


def test_hidden_record_only_says_it_exists_and_whose(org, people):
    hits = search(user=org.rep, q="Kuznetsova")
    assert len(hits) == 1
    hit = hits[0]
    assert (hit.visible, hit.id, hit.title, hit.subtitle) == (False, None, "", "")
    assert hit.owner_name == org.other_rep.display_name


def test_admin_sees_every_hit_in_full(org, people):
    hits = search(user=org.admin, q="Кузнецова")
    assert [(h.visible, h.id) for h in hits] == [(True, people["hidden"].pk)]


def test_nonsense_and_short_queries_find_nothing(org, people):
    assert search(user=org.admin, q="zzqqxx") == []
    assert search(user=org.admin, q="a") == []


def test_search_follows_updates_and_deletes(org, people):
    services.contact_update(user=org.rep, contact=people["smith"], data={"last_name": "Jones"})
    assert search(user=org.rep, q="Jones")[0].id == people["smith"].pk
    services.contact_delete(user=org.rep, contact=people["smith"])
    assert search(user=org.rep, q="Jones") == []


@pytest.mark.parametrize(
    ("a", "b", "d"),
    [("ivanov", "ivanov", 0), ("ivanov", "ivonov", 1), ("petrov", "petorv", 1), ("abc", "xyz", 3)],
)
def test_levenshtein(a, b, d):
    assert levenshtein(a, b) == d


def test_phone_typed_in_national_form_is_scored_as_the_number_itself(org, people):
    # The E.164 digits come first among equally long variants, whatever a set's order is.
    assert phone_digits_variants("8 (916) 123-45-67") == ["79161234567", "89161234567"]
    hits = search(user=org.rep, q="8 (916) 123-45-67")
    assert (hits[0].id, hits[0].score) == (people["petrov"].pk, 1.0)


def test_hidden_record_found_by_national_phone_says_whose(org, people):
    services.contact_update(
        user=org.other_rep, contact=people["hidden"], data={"phones": ["+7 903 555-12-34"]}
    )
    hits = search(user=org.rep, q="8 (903) 555-12-34")
    assert [(h.visible, h.id, h.owner_name) for h in hits] == [
        (False, None, org.other_rep.display_name)
    ]


@settings(max_examples=300, deadline=None)
@given(
    exact=st.text(alphabet="abcdeiknorstv", min_size=3, max_size=12),
    words=st.lists(st.text(alphabet="abcdeiknorstv@.", min_size=1, max_size=14), max_size=25),
)
def test_best_ratio_is_the_plain_maximum_of_difflib_ratios(exact, words):
    # Skipping words by the quick_ratio bound and memoising must not change a score.
    memo: dict = {}
    expected = max((SequenceMatcher(None, exact, w).ratio() * 0.6 for w in words), default=0.0)
    assert _best_ratio(memo, exact, words) * 0.6 == expected
    assert _best_ratio(memo, exact, words) * 0.6 == expected  # answered from the memo


def _reference_fold(text: str) -> str:
    """normalize.fold as first written: per-character transliteration, always decomposed."""
    text = (text or "").lower()
    text = "".join(normalize._CYR.get(ch, ch) for ch in text)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    for src, dst in normalize._LAT_FOLD:
        text = text.replace(src, dst)
    text = normalize._NON_WORD.sub(" ", text)
    return normalize._SPACES.sub(" ", text).strip()


_FOLD_SAMPLES = st.one_of(
    st.sampled_from(
        ["Иванов", "Ёлкин", "Жанна Щукина", "Müller", "Ørsted", "Σοφία", "İstanbul", "ﬁne",
         "a̐b", "Ǆ", "Mc'Kay-Smith", "Khabibullin", "Yelena", ""]
    ),
    st.text(max_size=40),
)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(text=_FOLD_SAMPLES)
def test_fold_equals_the_per_character_reference(text):
    assert normalize.fold(text) == _reference_fold(text)
