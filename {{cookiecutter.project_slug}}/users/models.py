"""The project's user model.

It adds nothing yet; it exists so that fields can be added later without the painful
switch away from django.contrib.auth's User that an existing database requires.
https://docs.djangoproject.com/en/5.2/topics/auth/customizing/#using-a-custom-user-model-when-starting-a-project
"""

from django.contrib.auth.models import AbstractUser


class User(AbstractUser):
    pass
