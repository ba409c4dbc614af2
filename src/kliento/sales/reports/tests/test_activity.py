"""Employee activity per user and team."""

from __future__ import annotations

import pytest

from kliento.sales.reports.tests.conftest import MARCH

pytestmark = pytest.mark.django_db

METRICS = ("calls", "meetings", "emails", "notes", "tasks", "created", "moved", "won", "lost")


def _get(api, user, **params):
    return api(user).get("/api/v1/reports/activity", {**MARCH, **params})


def _by_label(response):
    return {
        r["label"]: tuple(r[m] for m in METRICS) + (r["won_amount"],)
        for r in response.json()["rows"]
    }


def test_activity_per_employee_in_march(sales, api):
    response = _get(api, sales.org.admin)

    assert response.status_code == 200
    assert _by_label(response) == {
        "Rep": (2, 1, 1, 1, 1, 1, 1, 1, 1, "3000.00"),
        "Rep_Peer": (1, 0, 0, 0, 1, 1, 0, 1, 0, "2000.00"),
        "Other_Rep": (0, 0, 1, 0, 0, 0, 0, 0, 1, "0.00"),
        "Head": (0, 0, 0, 0, 0, 0, 0, 0, 0, "0.00"),
    }
    totals = response.json()["totals"]
    assert tuple(totals[m] for m in METRICS) == (3, 1, 2, 1, 2, 2, 1, 2, 2)


def test_activity_per_team(sales, api):
    response = _get(api, sales.org.admin, group="team")

    rows = {
        r["label"]: (r["members"], r["calls"], r["won"], r["won_amount"])
        for r in response.json()["rows"]
    }
    assert rows == {
        "Moscow": (2, 3, 2, "5000.00"),
        "Kazan": (1, 0, 0, "0.00"),
        "Sales": (1, 0, 0, "0.00"),
    }


def test_a_rep_sees_only_their_own_activity(sales, api):
    response = _get(api, sales.org.rep)

    assert list(_by_label(response)) == ["Rep"]
    assert response.json()["totals"]["calls"] == 2


def test_a_head_sees_their_subtree(sales, api):
    response = _get(api, sales.org.head)

    assert set(_by_label(response)) == {"Rep", "Rep_Peer", "Other_Rep", "Head"}


def test_a_rep_asking_for_a_colleague_gets_nothing(sales, api):
    response = _get(api, sales.org.rep, owner=sales.org.rep_peer.pk)

    assert response.json()["rows"] == []
    assert response.json()["totals"]["calls"] == 0


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"group": "pipeline"}, "group"),
        ({"pipeline": "1"}, "pipeline"),
        ({"date_to": "x"}, "date_to"),
    ],
)
def test_bad_activity_filters_are_422(sales, api, params, field):
    response = _get(api, sales.org.admin, **params)

    assert response.status_code == 422
    assert list(response.json()["fields"]) == [field]
