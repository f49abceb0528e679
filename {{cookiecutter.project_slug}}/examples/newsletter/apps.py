from django.apps import AppConfig


class NewsletterConfig(AppConfig):
    name = "examples.newsletter"
