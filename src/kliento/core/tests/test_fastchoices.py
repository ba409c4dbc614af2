def test_choice_labels_follow_the_active_language(db):
    from django.utils import translation

    from kliento.customers.models import Interaction

    call = Interaction(kind="call", channel="phone", direction="in")
    assert call.get_kind_display() == "Call"
    with translation.override("ru"):
        assert call.get_kind_display() == "Звонок"
    assert Interaction(kind="unknown").get_kind_display() == "unknown"


def test_every_models_display_method_uses_the_cached_mapping():
    from django.apps import apps

    from kliento.core.fastchoices import _get_field_display

    bound = [
        model.__dict__[f"get_{field.name}_display"]
        for model in apps.get_models()
        for field in model._meta.fields
        if field.choices and f"get_{field.name}_display" in model.__dict__
    ]
    assert len(bound) > 10
    assert all(method.func is _get_field_display for method in bound)
