from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DealsConfig(AppConfig):
    name = "kliento.sales.deals"
    label = "deals"
    verbose_name = _("Deals and pipelines")

    def ready(self) -> None:
        from kliento.sales import panels

        panels.register()
