from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DedupConfig(AppConfig):
    name = "kliento.dataio.dedup"
    label = "dedup"
    verbose_name = _("Duplicates")

    def ready(self) -> None:
        from kliento.dataio.dedup import panels

        panels.register()
