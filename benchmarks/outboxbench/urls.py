"""Three ways to place an order: the same transaction, except for the confirmation task.

- /bench/no-task/: the order alone, the cost of the rest of the request;
- /bench/on-commit/: plus send_order_confirmation.delay_on_commit(), published to the
  broker (with publisher confirms on RabbitMQ) right after the commit, in the request;
- /bench/outbox/: the project's own examples.orders.services.place_order, which writes the task
  to the outbox in the transaction; the relay publishes it, outside the request.

Each answers with the order's id. No CSRF check and no session: the request differs from
the next one only in the enqueue.
"""

from django.db import transaction
from django.http import HttpResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from examples.orders.models import Order
from examples.orders.services import place_order
from examples.orders.tasks import send_order_confirmation


def fields(request):
    return {"email": request.POST["email"], "item": request.POST["item"], "quantity": 1}


@csrf_exempt
@require_POST
def no_task(request):
    with transaction.atomic():
        order = Order.objects.create(**fields(request))
    return HttpResponse(str(order.pk))


@csrf_exempt
@require_POST
def on_commit(request):
    with transaction.atomic():
        order = Order.objects.create(**fields(request))
        send_order_confirmation.delay_on_commit(order.pk)
    return HttpResponse(str(order.pk))


@csrf_exempt
@require_POST
def outbox(request):
    order = place_order(**fields(request))
    return HttpResponse(str(order.pk))


urlpatterns = [
    path("bench/no-task/", no_task),
    path("bench/on-commit/", on_commit),
    path("bench/outbox/", outbox),
    path("", include("config.urls")),
]
