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



@pytest.fixture(autouse=True)
def _reference_data_after_flush(request):
    """Transactional tests (browser and concurrency tests) empty every table when they end,
    including the reference data the migrations load (code lists, data elements, the holiday
    calendar). pytest-django runs them after the others; each one reloads that data first if
    an earlier one flushed it, so their order on each database doesn't matter."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None or not (marker.kwargs.get("transaction") or (marker.args and marker.args[0])):
        yield
        return
    request.getfixturevalue("transactional_db")
    from importlib import import_module

    from django.apps import apps

    from tongban.catalog.models import DataElement
    from tongban.core.models import CalendarDay

    if not DataElement.objects.exists():
        import_module("tongban.catalog.migrations.0002_standard_code_lists_and_data_elements").load(apps, None)
    if not CalendarDay.objects.exists():
        import_module("tongban.core.migrations.0003_load_calendar").load(apps, None)
    yield


@pytest.fixture(autouse=True)
def _fresh_process_caches():
    """Test transactions roll back, so ids and the access generation come round again — which a
    long-lived worker never sees. Every test starts with empty per-process authorization caches."""
    from django.conf import settings

    if not settings.configured:
        yield
        return
    from tongban.exchange.services import authz, sealing
    from tongban.identity import tokens

    authz.clear_caches()
    tokens.clear_cache()
    sealing._last_round.clear()
    yield
    authz.clear_caches()
    tokens.clear_cache()
