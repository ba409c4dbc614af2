"""The matching model: features, similarity, scores and blocking keys."""

from __future__ import annotations

import pytest

from kliento.dataio.dedup.matching import (
    company_features,
    company_keys,
    company_name_key,
    contact_features,
    contact_keys,
    damerau,
    email_key,
    evidence_text,
    jaro_winkler,
    phone_key,
    phonetic,
    score_companies,
    score_contacts,
)


def person(pk, first, last, emails=(), phones=(), birth=None, city="", middle=""):
    return contact_features(pk, first, middle, last, list(emails), list(phones), birth, city)


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("Ivan.Petrov+crm@GMail.com", "ivanpetrov@gmail.com"),
        ("i.v.a.n@googlemail.com", "ivan@gmail.com"),
        ("Anna.K+x@yandex.ru", "anna.k@yandex.ru"),
    ],
)
def test_email_key_folds_case_gmail_dots_and_tags(raw, key):
    assert email_key(raw) == key


@pytest.mark.parametrize(
    "raw", ["+7 916 123-45-67", "8 (916) 123 45 67", "9161234567", "+79161234567"]
)
def test_phone_key_reads_any_russian_format(raw):
    assert phone_key(raw) == "79161234567"


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("ООО «Ромашка»", "romashka"),
        ("Romashka LLC", "romashka"),
        ("ЗАО Ромашка", "romashka"),
        ('"Romashka" Ltd.', "romashka"),
        ("Acme GmbH", "akme"),
        ("ИП Иванов", "ivanov"),
    ],
)
def test_company_name_key_drops_legal_forms_and_quotes(name, key):
    assert company_name_key(name) == key


def test_similarity_measures():
    assert jaro_winkler("martha", "marhta") == pytest.approx(0.961, abs=0.001)
    assert damerau("ivanov", "ivnaov") == 1
    assert damerau("petrov", "petrova") == 1
    assert phonetic("ivanova") == phonetic("ivanov") == phonetic("ivanoff")


def test_transliterated_names_with_shared_phone_are_one_person():
    a = person(1, "Иван", "Петров", phones=["+79161234567"])
    b = person(2, "Ivan", "Petrov", phones=["8 916 123 45 67"])
    confidence, evidence = score_contacts(a, b)
    assert confidence > 0.99
    assert [e["feature"] for e in evidence] == ["last_name", "first_name", "phone"]
    assert {e["level"] for e in evidence} == {"exact"}


def test_swapped_names_are_recognised():
    a = person(1, "Анна", "Смирнова", emails=["anna@x.ru"])
    b = person(2, "Smirnova", "Anna", emails=["ANNA@x.ru"])
    confidence, evidence = score_contacts(a, b)
    assert confidence > 0.95
    assert "swapped" in [e["feature"] for e in evidence]


def test_nickname_counts_as_the_same_first_name():
    a = person(1, "Александр", "Орлов", emails=["orlov@x.ru"])
    b = person(2, "Саша", "Орлов", emails=["orlov@x.ru"])
    _confidence, evidence = score_contacts(a, b)
    assert evidence[1]["feature"] == "first_name"
    assert evidence[1]["level"] == "nickname"


def test_typo_in_last_name_with_same_birth_date_matches():
    a = person(1, "Мария", "Кузнецова", birth="1985-03-02", city="Казань")
    b = person(2, "Мария", "Кузнецова".replace("не", "ен"), birth="1985-03-02", city="Kazan")
    confidence, _evidence = score_contacts(a, b)
    assert confidence > 0.9


def test_namesakes_with_different_email_and_phone_are_not_a_match():
    a = person(1, "Иван", "Иванов", emails=["a@x.ru"], phones=["+79160000001"], city="Москва")
    b = person(2, "Иван", "Иванов", emails=["b@y.ru"], phones=["+79160000002"], city="Москва")
    confidence, _evidence = score_contacts(a, b)
    assert confidence < 0.1


def test_shared_office_email_with_other_names_is_not_a_match():
    a = person(1, "Ольга", "Белова", emails=["info@firm.ru"])
    b = person(2, "Пётр", "Соколов", emails=["info@firm.ru"])
    assert score_contacts(a, b)[0] < 0.05


def test_companies_match_by_tax_id_and_stripped_name():
    a = company_features(1, "ООО «Ромашка»", "", "7701234567", "", [], [], "Москва")
    b = company_features(2, "Romashka LLC", "", "7701234567", "https://romashka.ru", [], [], "")
    confidence, evidence = score_companies(a, b)
    assert confidence > 0.99
    assert [e["feature"] for e in evidence] == ["company_name", "tax_id"]


def test_companies_with_different_tax_ids_are_not_a_match():
    a = company_features(1, "Ромашка", "", "7701234567", "", [], [], "")
    b = company_features(2, "Ромашка", "", "5401234567", "", [], [], "")
    assert score_companies(a, b)[0] < 0.01


def test_swapped_names_share_a_blocking_key():
    a = person(1, "Анна", "Смирнова")
    b = person(2, "Smirnova", "Anna")
    assert {k for k in contact_keys(a) if k.startswith("n:")} & contact_keys(b)


def test_company_keys_include_tax_id_and_domain():
    f = company_features(1, "Acme LLC", "", "12-3456789", "https://www.acme.com/about", [], [], "")
    assert {"t:123456789", "d:acme.com", "n:akme"} <= company_keys(f)


def test_evidence_reads_in_russian():
    from django.utils import translation

    item = {"feature": "email", "level": "exact", "weight": 11.2, "a": "a@x.ru", "b": "a@x.ru"}
    with translation.override("ru"):
        assert evidence_text(item).endswith(": совпадает (a@x.ru) +11.2")
    assert evidence_text(item) == "Email: same (a@x.ru) +11.2"
