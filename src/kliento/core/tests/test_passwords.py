from django.conf import settings as django_settings
from django.contrib.auth.hashers import make_password
from django.test import override_settings

from kliento.settings import PASSWORD_HASHERS


def test_production_hashes_passwords_with_argon2():
    assert PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    with override_settings(PASSWORD_HASHERS=PASSWORD_HASHERS):
        assert make_password("s3cret-pass").startswith("argon2$")
    assert django_settings.SECRET_KEY
