"""Suite-wide fixtures. Every test runs on SQLite and, in `make test`, again on PostgreSQL."""

from __future__ import annotations

import pytest
from django.test.utils import override_settings
from hypothesis import settings as hypothesis_settings

# Property tests check behaviour, not speed: on a shared 2-core CI machine running two suites,
# hypothesis's default 200 ms per-example deadline fails correct code now and then.
hypothesis_settings.register_profile("tongban", deadline=None)
hypothesis_settings.load_profile("tongban")

# Tests read static files through the finders: the hashed manifest exists only after
# `collectstatic`, which production runs once at install.
_TEST_SETTINGS = override_settings(
    STORAGES={
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    },
    # Argon2 is the production hasher; tests that are not about hashing use a fast one.
    PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
)


@pytest.fixture(scope="session", autouse=True)
def _test_settings():
    from django.conf import settings

    if not settings.configured:  # pure-Python modules also run without Django (-p no:django)
        yield
        return
    from huey.contrib.djhuey import HUEY

    _TEST_SETTINGS.enable()
    # Background jobs run in the test process, synchronously (huey's immediate mode).
    HUEY.immediate = True
    yield
    _TEST_SETTINGS.disable()
