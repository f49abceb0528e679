from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "examples.orders"
    welcome_links = [
        ("Place an order: its confirmation e-mail goes through the outbox", "orders:place")
    ]
