from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TransferConfig(AppConfig):
    name = "kliento.dataio.transfer"
    label = "transfer"
    verbose_name = _("Import and export")

    def ready(self) -> None:
        from kliento.dataio.transfer import panels

        panels.register()
