"""Authentication backend: Django's, with the signed-in user's team loaded in the same query.

Every page shows the user's team in the account menu and the visibility scope starts from
it (core.permissions.scope_for), so fetching it with the user saves a query per request.
"""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend

from kliento.core.models import User


class TeamModelBackend(ModelBackend):
    def get_user(self, user_id):
        try:
            user = User._default_manager.select_related("team").get(pk=user_id)
        except User.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None
