"""The Data page's full-export card names the command that reads the ZIP back as code, in both
languages, with no Markdown backticks left in the text."""

from __future__ import annotations

import pytest
from django.utils import translation


@pytest.fixture(autouse=True)
def _language_reset():
    """The user's language, activated by the middleware, stays on the thread: not after us."""
    yield
    translation.deactivate()


@pytest.mark.parametrize(
    ("language", "sentence"),
    [
        ("en", "with ids and relations. Read it back from the command line:"),
        ("ru", "с идентификаторами и связями. Загрузить его обратно можно из командной строки:"),
    ],
)
def test_the_full_export_card_shows_the_command_as_code(org, login, language, sentence):
    org.admin.language = language
    org.admin.save(update_fields=["language"])

    page = login(org.admin).get("/data/").content.decode()

    card = page[page.index('action="/data/full-export/') :]
    card = card[: card.index("</form>")]
    assert " ".join(card.split()).count(sentence) == 1
    assert '<code class="nowrap">kliento import FILE.zip</code>' in card
    assert "`" not in card
