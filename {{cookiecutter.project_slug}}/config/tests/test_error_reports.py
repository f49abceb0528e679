"""What Django's error reports show of the settings."""

from django.test import RequestFactory, override_settings
from django.views.debug import get_default_exception_reporter_filter

from alerts.redaction import REDACTED

URL_SETTINGS = {
    "CELERY_BROKER_URL": "amqp://app:broker-pass-123@rabbitmq:5672/site",
    "CELERY_RESULT_BACKEND": "redis://:result-pass-123@redis:6379/2",
    "CACHES": {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://:cache-pass-123@redis:6379/0",
        }
    },
    "EMAIL_URL": "smtp://mailer:mail-pass-123@smtp.example.com:587",
}


@override_settings(**URL_SETTINGS)
def test_the_error_report_hides_passwords_inside_url_settings():
    shown = get_default_exception_reporter_filter().get_safe_settings()

    report = repr({name: shown[name] for name in URL_SETTINGS})
    assert "pass-123" not in report
    assert f"amqp://app:{REDACTED}@rabbitmq:5672/site" in report
    assert shown["SECRET_KEY"] != "" and "*" in shown["SECRET_KEY"]


def test_a_request_s_environment_is_cleansed_the_same_way():
    request = RequestFactory().get("/", HTTP_X_UPSTREAM="https://u:meta-pass-123@example.com/")
    meta = get_default_exception_reporter_filter().get_safe_request_meta(request)

    assert "meta-pass-123" not in repr(meta)
