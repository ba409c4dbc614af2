def test_choice_labels_follow_the_active_language(db):
    from django.utils import translation

    from kliento.customers.models import Interaction

    call = Interaction(kind="call", channel="phone", direction="in")
    assert call.get_kind_display() == "Call"
    with translation.override("ru"):
        assert call.get_kind_display() == "Звонок"
    assert Interaction(kind="unknown").get_kind_display() == "unknown"
