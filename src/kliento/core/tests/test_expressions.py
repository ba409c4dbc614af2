"""core.expressions.Bucket: the bucket of a column, worked out in SQL."""

from __future__ import annotations

import datetime as dt

import pytest

from kliento.core.expressions import Bucket
from kliento.customers.models import Contact

UTC = dt.UTC


def _at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize("buckets", [1, 2, 3, 7, 12])
def test_each_row_gets_the_bucket_its_value_falls_in(org, contact_factory, buckets):
    months = [dt.date(2024 + (m // 12), m % 12 + 1, 1) for m in range(buckets)]
    starts = [_at(m.year, m.month, 1) for m in months]
    moments = []
    for start in starts:
        moments += [start, start + dt.timedelta(days=14, hours=5)]
    moments.append(starts[-1] + dt.timedelta(days=27, hours=23, minutes=59))
    for i, moment in enumerate(moments):
        contact = contact_factory(owner=org.rep, last_name=f"N{i:03}")
        Contact.objects.filter(pk=contact.pk).update(created_at=moment)

    got = dict(
        Contact.objects.annotate(month=Bucket("created_at", starts, months)).values_list(
            "last_name", "month"
        )
    )

    expected = {f"N{i:03}": dt.date(m.year, m.month, 1) for i, m in enumerate(moments)}
    assert got == expected


def test_bounds_and_values_must_pair_up():
    with pytest.raises(ValueError):
        Bucket("created_at", [dt.date(2024, 1, 1)], [])
    with pytest.raises(ValueError):
        Bucket("created_at", [], [])
