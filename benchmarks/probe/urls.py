"""Three ways to place an order in one transaction; they differ only in its task.

- no-task: the order alone, the cost of the rest of the request;
- delay: then `round_trip.delay()` once it has committed, as most projects enqueue;
- outbox (our project only): `outbox.enqueue()` inside the transaction; the relay
  publishes it outside the request.

No CSRF check, no session: requests differ only in the enqueue.
"""

from django.db import transaction
from django.http import HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from .models import Order
from .tasks import round_trip


def place(request):
    return Order.objects.create(email="buyer@example.com", item=request.POST.get("item", "book"))


@csrf_exempt
def no_task(request):
    with transaction.atomic():
        order = place(request)
    return HttpResponse(str(order.pk))


@csrf_exempt
def delay(request):
    with transaction.atomic():
        order = place(request)
    round_trip.delay(order.pk, order.item)
    return HttpResponse(str(order.pk))


@csrf_exempt
def outbox(request):
    from outbox.enqueue import enqueue

    with transaction.atomic():
        order = place(request)
        enqueue(round_trip, order.pk, order.item)
    return HttpResponse(str(order.pk))


urlpatterns = [
    path("bench/no-task/", no_task),
    path("bench/delay/", delay),
    path("bench/outbox/", outbox),
]
