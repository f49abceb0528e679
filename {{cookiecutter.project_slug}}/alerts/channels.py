"""Where alerts go: the admins' e-mail, and a chat webhook when one is configured.

A channel that fails is logged and skipped. An alert is sent from inside a worker,
often because something is already broken; it must never break the worker further.
"""

import logging
from dataclasses import replace

import requests
from django.conf import settings
from django.core.mail import mail_admins

from . import throttle
from .redaction import hide_emails

logger = logging.getLogger(__name__)

WEBHOOK_TIMEOUT = 5


def email_admins(alert):
    mail_admins(alert.title, alert.text())


def post_to_webhook(alert):
    """POST the alert as Slack-compatible JSON: {"text": ...}. The webhook belongs to a
    third party: no task arguments unless ALERTS_WEBHOOK_ARGUMENTS, no e-mail addresses."""
    body = alert.text(with_arguments=settings.ALERTS_WEBHOOK_ARGUMENTS)
    text = hide_emails(f"*{alert.title}*\n```{body[:3000]}```")
    try:
        response = requests.post(
            settings.ALERTS_WEBHOOK_URL, json={"text": text}, timeout=WEBHOOK_TIMEOUT
        )
        response.raise_for_status()
    except requests.RequestException as error:
        # requests names the URL in its messages, and a webhook's URL is its secret.
        status = getattr(error.response, "status_code", None)
        raise WebhookFailed(type(error).__name__ + (f", HTTP {status}" if status else "")) from None


class WebhookFailed(Exception):
    """The webhook refused the alert or could not be reached; the URL is not said."""


def channels():
    found = [email_admins]
    if settings.ALERTS_WEBHOOK_URL:
        found.append(post_to_webhook)
    return found


def notify(alert):
    """Send the alert on every channel, unless one like it went out in this window.
    Secrets are hidden in every field first, whoever built the alert."""
    alert = alert.redacted()
    send, suppressed = throttle.admit(alert.kind, settings.ALERTS_WINDOW_SECONDS)
    if not send:
        logger.info("Alert held back (one like it was sent recently): %s", alert.title)
        return False
    if suppressed:
        held_back = (
            f"\n\n{suppressed} more alert(s) like this one were held back in the previous "
            f"{settings.ALERTS_WINDOW_SECONDS} s."
        )
        alert = replace(alert, body=alert.body + held_back)
    for channel in channels():
        try:
            channel(alert)
        except Exception:
            logger.exception("The %s alert channel failed", channel.__name__)
    return True
