import pytest
from django.core.exceptions import ImproperlyConfigured

from config.secrets import problems, refuse_weak_settings

KEY = "k3y-" + "abcdefghij" * 5
PASSWORD = "p4ss-word-long-enough"
STRONG = {
    "DJANGO_SECRET_KEY": KEY,
    "DJANGO_ALLOWED_HOSTS": "shop.example.com",
    "DATABASE_URL": f"postgres://site:{PASSWORD}@postgres:5432/site",
    "REDIS_URL": f"redis://:{PASSWORD}@redis:6379/0",
    "CELERY_BROKER_URL": f"amqp://site:{PASSWORD}@rabbitmq:5672/site",
    "FLOWER_PASSWORD": PASSWORD,
}


def test_strong_settings_pass():
    assert problems(STRONG) == []
    refuse_weak_settings(STRONG)


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("DJANGO_SECRET_KEY", "change-me-django-secret-key", "still holds a change-me-"),
        ("DJANGO_SECRET_KEY", "secret", "is shorter than 50 characters"),
        ("DJANGO_SECRET_KEY", "a" * 60, "has fewer than 5 different characters"),
        ("DJANGO_ALLOWED_HOSTS", " ", "is not set"),
        ("FLOWER_PASSWORD", "admin", "is shorter than 16 characters"),
        ("REDIS_URL", "redis://redis:6379/0", "has no password of at least 16"),
        ("DATABASE_URL", "postgres://site:short@db/site", "has no password of at least 16"),
        # kombu's failover list: every server needs the password.
        ("CELERY_BROKER_URL", f"amqp://u:{PASSWORD}@a//;amqp://b//", "has no password"),
    ],
)
def test_each_weak_setting_is_named_without_its_value(name, value, problem):
    found = problems({**STRONG, name: value})

    assert len(found) == 1 and found[0].startswith(f"{name} ") and problem in found[0]
    if value.strip():
        assert value not in found[0]
    with pytest.raises(ImproperlyConfigured):
        refuse_weak_settings({**STRONG, name: value})


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:6379/0",  # this host's loopback interface
        "postgres://site@localhost/site",
        "postgres:///site",  # a Unix socket
        "memory://",
    ],
)
def test_a_server_on_this_host_may_go_without_a_password(url):
    assert problems({**STRONG, "REDIS_URL": url}) == []
