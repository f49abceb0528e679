"""Django's error reports (the 500 e-mail, the debug page) without credentials in URLs.

Django hides a setting whose name looks secret (PASSWORD, SECRET_KEY...), but not the
password inside a URL-valued setting such as CELERY_BROKER_URL or a cache LOCATION.
https://docs.djangoproject.com/en/5.2/howto/error-reporting/#custom-error-reports
"""

from django.views.debug import SafeExceptionReporterFilter

from alerts.redaction import redact_text


class ReporterFilter(SafeExceptionReporterFilter):
    def cleanse_setting(self, key, value):
        value = super().cleanse_setting(key, value)
        return redact_text(value) if isinstance(value, str) else value
