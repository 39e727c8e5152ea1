"""The mail and notification settings: what runs with none set, and what is refused."""

from __future__ import annotations

import pytest

from backend import create_app
from backend.settings import SettingsError


def test_without_mail_server_messages_are_logged(app_settings):
    app = create_app(**app_settings)

    assert app.config["MAIL_BACKEND"] == "backend.notifications.log_backend.EmailBackend"


def test_with_mail_server_messages_go_over_smtp(app_settings):
    app = create_app(**{**app_settings, "MAIL_SERVER": "smtp.example.org"})

    assert app.config["MAIL_BACKEND"] == "smtp"


def test_tls_and_ssl_together_are_refused(app_settings):
    with pytest.raises(SettingsError, match="MAIL_USE_TLS and MAIL_USE_SSL"):
        create_app(**{**app_settings, "MAIL_USE_TLS": True, "MAIL_USE_SSL": True})


def test_unknown_delivery_mode_is_refused(app_settings):
    with pytest.raises(SettingsError, match="NOTIFICATIONS_DELIVERY"):
        create_app(**{**app_settings, "NOTIFICATIONS_DELIVERY": "celery"})


def test_delivery_off_has_no_thread(app_settings):
    app = create_app(**{**app_settings, "NOTIFICATIONS_DELIVERY": "OFF"})

    assert app.extensions["notifications"] is None
