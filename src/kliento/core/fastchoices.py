"""A cheaper `get_FOO_display()` for fields with choices.

Django rebuilds `dict(make_hashable(field.flatchoices))` on every call; a timeline page calls it
about a hundred times (kind, channel, direction per item), which was ~17% of the contact page's
time. The mapping is the same for every call, so it is built once per field. Labels stay lazy
translations, so the active language still decides the text.
"""

from __future__ import annotations

from functools import partialmethod

from django.db.models import Model
from django.utils.encoding import force_str

_original = Model._get_FIELD_display


def _get_field_display(self, field):
    choices = field.__dict__.get("_kliento_choices")
    if choices is None:
        try:
            choices = dict(field.flatchoices)
        except TypeError:  # unhashable choice values: keep Django's way
            return _original(self, field)
        field._kliento_choices = choices
    value = getattr(self, field.attname)
    try:
        label = choices.get(value, value)
    except TypeError:
        return _original(self, field)
    return force_str(label, strings_only=True)


def install() -> None:
    """Rebind every model's `get_FOO_display`.

    Django binds `partialmethod(cls._get_FIELD_display, field=f)` when each model class is
    created, so patching `Model._get_FIELD_display` alone reaches no model that already exists.
    """
    from django.apps import apps

    Model._get_FIELD_display = _get_field_display
    for model in apps.get_models(include_auto_created=True):
        for field in model._meta.fields:
            name = f"get_{field.name}_display"
            if field.choices and name in model.__dict__:
                setattr(model, name, partialmethod(_get_field_display, field=field))
