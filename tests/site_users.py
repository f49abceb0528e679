"""People on a generated site: create their accounts, and sign in as a browser does.

The example pages need a signed-in user (the reports also `users.view_user`), so tests
that use them create a user through the project's Django shell and sign in on its
sign-in page, with the CSRF cookie a browser would send.
"""

import requests

PASSWORD = "a-long-test-password-7"
LOGIN_PATH = "/accounts/login/"


def create_user_code(username, *permissions, superuser=False):
    """Python for `manage.py shell -c`: a user with these permissions ("app.codename")."""
    create = "create_superuser" if superuser else "create_user"
    codenames = [permission.split(".", 1)[1] for permission in permissions]
    return (
        "from django.contrib.auth import get_user_model; "
        "from django.contrib.auth.models import Permission; "
        f"user = get_user_model().objects.{create}("
        f"{username!r}, '{username}@example.com', {PASSWORD!r}); "
        f"user.user_permissions.add(*Permission.objects.filter(codename__in={codenames!r}))"
    )


def sign_in(base_url, username, session=None, timeout=30):
    """A session signed in as `username` on the site's sign-in page."""
    session = session or requests.Session()
    session.get(base_url + LOGIN_PATH, timeout=timeout)
    response = session.post(
        base_url + LOGIN_PATH,
        data={
            "username": username,
            "password": PASSWORD,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        allow_redirects=False,
        timeout=timeout,
    )
    assert response.status_code == 302, f"{username} could not sign in: {response.text[:1000]}"
    return session
