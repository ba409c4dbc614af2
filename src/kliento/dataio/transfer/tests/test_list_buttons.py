"""Sales lists carry Export (for all who see them) and Import (for those who may write)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path, entity",
    [
        ("/leads/", "leads"),
        ("/orders/", "orders"),
        ("/catalog/products/", "products"),
        ("/deals/list/", "deals"),
    ],
)
def test_sales_lists_offer_export_and_import(org, login, path, entity):
    html = login(org.admin).get(path).content.decode()
    assert f'formaction="/data/export/{entity}/"' in html
    assert f"/data/?entity={entity}#import" in html
    # an analyst may export what they see but not import
    html = login(org.analyst).get(path).content.decode()
    assert f'formaction="/data/export/{entity}/"' in html
    assert f"/data/?entity={entity}#import" not in html


def test_data_page_leads_to_the_duplicates_queue(org, login):
    html = login(org.rep).get("/data/").content.decode()
    card = html.split('id="duplicates"', 1)[1].split("</section>", 1)[0]
    assert 'href="/duplicates/"' in card
