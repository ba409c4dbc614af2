from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "kliento.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        from kliento.core import fastchoices, jobs  # noqa: F401  (jobs registers Huey signals)

        fastchoices.install()
