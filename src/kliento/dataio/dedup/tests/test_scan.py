"""The batch scan: quality on a generated base with known duplicates, blocking, storage."""

from __future__ import annotations

import csv

import pytest

from kliento.customers.models import Company
from kliento.dataio.dedup import generate
from kliento.dataio.dedup.cli import main as dedup_cli
from kliento.dataio.dedup.models import DuplicatePair
from kliento.dataio.dedup.scan import pairs_store, scan


@pytest.fixture
def generated(org):
    return generate.load(3000, org.rep.pk, seed=11, dup_share=0.06)


def test_scan_finds_known_duplicates_with_high_precision_and_recall(generated):
    result = scan(entity="contact", min_confidence=0.5)
    found = {(a, b) for a, b, _c, _e in result.pairs}
    tp = len(found & generated.truth)
    fp = len(found - generated.truth - generated.siblings)
    fn = len(generated.truth - found)
    assert generated.duplicates == 180
    assert tp / (tp + fp) >= 0.97
    assert tp / (tp + fn) >= 0.95


def test_scan_compares_far_fewer_pairs_than_all(generated):
    result = scan(entity="contact", min_confidence=0.5)
    all_pairs = 3000 * 2999 // 2
    assert result.records == 3000
    assert 0 < result.compared < all_pairs / 500


def test_each_pair_carries_readable_evidence(generated):
    result = scan(entity="contact", min_confidence=0.5)
    a, b, confidence, evidence = result.pairs[0]
    assert a < b
    assert 0.5 <= confidence <= 1
    assert {"feature", "level", "weight", "a", "b"} <= set(evidence[0])


def test_not_a_duplicate_is_remembered_across_rescans(org, twin_contacts):
    pairs = scan(entity="contact").pairs
    assert len(pairs) == 1
    pairs_store(entity="contact", pairs=pairs)
    pair = DuplicatePair.objects.get()
    pair.status = DuplicatePair.Status.NOT_DUPLICATE
    pair.save()

    stored = pairs_store(entity="contact", pairs=scan(entity="contact").pairs)

    assert stored == {"new": 0, "updated": 0, "kept": 1, "removed": 0}
    assert list(DuplicatePair.objects.values_list("status", flat=True)) == ["not_duplicate"]


def test_rescan_drops_open_pairs_no_longer_found(org, twin_contacts):
    pairs_store(entity="contact", pairs=scan(entity="contact").pairs)
    a, b = twin_contacts
    b.first_name, b.last_name, b.emails, b.phones = "Olga", "Belova", ["o@b.ru"], ["+79990000000"]
    b.save()

    stored = pairs_store(entity="contact", pairs=scan(entity="contact").pairs)

    assert stored["removed"] == 1
    assert DuplicatePair.objects.count() == 0


def test_company_scan_matches_legal_forms_and_tax_id(org, company_factory):
    a = company_factory(owner=org.rep, name="ООО «Ромашка»", tax_id="7701234567")
    b = company_factory(owner=org.rep, name="Romashka LLC", tax_id="7701234567")
    company_factory(owner=org.rep, name="Василёк", tax_id="7709999999")

    result = scan(entity="company")

    assert [(p[0], p[1]) for p in result.pairs] == [(a.pk, b.pk)]
    assert Company.objects.count() == 3


def test_cli_writes_pairs_csv(org, twin_contacts, tmp_path, capsys):
    out = tmp_path / "pairs.csv"
    status = dedup_cli(["scan", "--entity", "contacts", "--output", str(out), "--quiet"])
    assert status == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    a, b = twin_contacts
    assert [(int(r["a_id"]), int(r["b_id"])) for r in rows] == [(a.pk, b.pk)]
    assert rows[0]["a_external_ids"] == ""
    assert float(rows[0]["confidence"]) > 0.99
    assert "Phone: same" in rows[0]["evidence"]
    assert DuplicatePair.objects.count() == 1
    assert "1 pairs at or above 0.5" in capsys.readouterr().out


def test_cli_rejects_a_confidence_out_of_range(db, capsys):
    assert dedup_cli(["scan", "--min-confidence", "2", "--quiet"]) == 2
