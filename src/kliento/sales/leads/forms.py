"""Reading the leads app's HTML forms into service data, and the embed snippet of a web form."""

from __future__ import annotations

from typing import Any

from django.http import QueryDict
from django.utils.html import escape
from django.utils.translation import gettext as _

from kliento.sales.leads.models import Lead, WebForm
from kliento.sales.leads.services import FORM_FIELDS, HONEYPOT, UTM_FIELDS

LEAD_FORM_FIELDS = (
    "first_name",
    "last_name",
    "company_name",
    "job_title",
    "email",
    "phone",
    "website",
    "country",
    "region",
    "city",
    "message",
    "status",
    "source",
    "channel",
    "campaign",
    "owner_id",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "referrer",
)


def lead_data_from_post(post: QueryDict) -> dict[str, Any]:
    data: dict[str, Any] = {k: post.get(k, "") for k in LEAD_FORM_FIELDS if k in post}
    if "tags" in post:
        data["tags"] = [t for t in post.get("tags", "").split(",") if t.strip()]
    return data


def lead_values(lead: Lead) -> dict[str, Any]:
    values = {k: getattr(lead, k) for k in LEAD_FORM_FIELDS if k != "owner_id"}
    values["owner_id"] = str(lead.owner_id)
    values["tags"] = ", ".join(t for t in lead.tags.split(",") if t)
    return values


def field_labels() -> dict[str, str]:
    return {f: str(Lead._meta.get_field(f).verbose_name).capitalize() for f in FORM_FIELDS}


def web_form_data_from_post(post: QueryDict) -> dict[str, Any]:
    return {
        "name": post.get("name", ""),
        "fields": [f for f in post.getlist("fields") if f],
        "campaign": post.get("campaign", ""),
        "channel": post.get("channel", "web"),
        "success_message": post.get("success_message", ""),
        "redirect_url": post.get("redirect_url", ""),
        "default_owner_id": post.get("default_owner_id") or None,
        "active": bool(post.get("active")),
    }


def rule_data_from_post(post: QueryDict) -> dict[str, Any]:
    return {
        "name": post.get("name", ""),
        "kind": post.get("kind", ""),
        "active": bool(post.get("active")),
        "regions": post.get("regions", ""),
        "cities": post.get("cities", ""),
        "sources": [s for s in post.getlist("sources") if s],
        "web_form_id": post.get("web_form_id") or None,
        "team_id": post.get("team_id") or None,
        "user_id": post.get("user_id") or None,
    }


def scoring_data_from_post(post: QueryDict) -> dict[str, Any]:
    return {
        "name": post.get("name", ""),
        "kind": post.get("kind", ""),
        "field": post.get("field", ""),
        "value": post.get("value", ""),
        "points": post.get("points", ""),
        "active": bool(post.get("active")),
        "position": post.get("position") or 0,
    }


_INPUT_TYPES = {"email": "email", "phone": "tel", "website": "url"}


def embed_snippet(form: WebForm, base_url: str) -> str:
    """Plain HTML a site pastes in: posts to Kliento, carries UTM tags from the page's URL."""
    labels = field_labels()
    lines = [
        f'<form action="{base_url}/leads/f/{form.key}/" method="post" accept-charset="utf-8" '
        'class="kliento-form">',
    ]
    for field in form.fields:
        label = escape(labels.get(field, field))
        if field == "message":
            control = '<textarea name="message" rows="4"></textarea>'
        else:
            kind = _INPUT_TYPES.get(field, "text")
            required = " required" if field in {"email"} and "phone" not in form.fields else ""
            control = f'<input type="{kind}" name="{field}"{required}>'
        lines.append(f"  <p><label>{label}<br>{control}</label></p>")
    lines.append(
        f'  <p style="position:absolute;left:-9999px" aria-hidden="true">'
        f'<label>Fax <input type="text" name="{HONEYPOT}" tabindex="-1" autocomplete="off">'
        "</label></p>"
    )
    for field in (*UTM_FIELDS, "referrer"):
        lines.append(f'  <input type="hidden" name="{field}">')
    lines.append(f'  <p><button type="submit">{escape(_("Send"))}</button></p>')
    lines.append("</form>")
    lines.append(
        "<script>(function(f){var q=new URLSearchParams(location.search);"
        "['utm_source','utm_medium','utm_campaign','utm_term','utm_content'].forEach("
        "function(k){if(q.get(k))f.elements[k].value=q.get(k);});"
        "f.elements.referrer.value=document.referrer||location.href;"
        "})(document.currentScript.previousElementSibling);</script>"
    )
    return "\n".join(lines)
