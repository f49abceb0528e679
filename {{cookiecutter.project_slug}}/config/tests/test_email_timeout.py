"""A mail server that accepts the connection and then says nothing fails the send."""

import socket
import time
from smtplib import SMTPServerDisconnected

import pytest
from django.core.mail import get_connection, send_mail


def test_the_default_timeout_is_ten_seconds(settings):
    assert settings.EMAIL_TIMEOUT == 10


def test_a_silent_mail_server_fails_the_send_after_email_timeout(settings):
    settings.EMAIL_TIMEOUT = 1
    with socket.create_server(("127.0.0.1", 0)) as silent:  # listens, never greets
        port = silent.getsockname()[1]
        backend = "django.core.mail.backends.smtp.EmailBackend"
        connection = get_connection(backend, host="127.0.0.1", port=port)
        started = time.monotonic()
        # smtplib reports the socket timeout as a disconnection.
        with pytest.raises(SMTPServerDisconnected, match="timed out"):
            send_mail("s", "b", "a@example.com", ["b@example.com"], connection=connection)
    assert time.monotonic() - started < 5
