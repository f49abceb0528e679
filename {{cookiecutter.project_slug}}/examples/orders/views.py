"""Place an order and watch its confirmation go out.

Unlike reports/views.py, nothing here talks to the broker: placing an order writes two
rows in one transaction, so it succeeds whenever the database does, broker or not.
"""

from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render

from . import services
from .forms import OrderForm
from .models import Order

# The orders this browser session placed: a session sees only its own orders, and a
# guessed order number reveals nothing.
SESSION_KEY = "order_ids"
REMEMBERED_ORDERS = 20


def place_order(request):
    form = OrderForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        order = services.place_order(**form.cleaned_data)
        remembered = request.session.get(SESSION_KEY, [])
        request.session[SESSION_KEY] = [*remembered, order.pk][-REMEMBERED_ORDERS:]
        return redirect("orders:detail", pk=order.pk)
    return render(request, "orders/place.html", {"form": form})


def order_detail(request, pk):
    if pk not in request.session.get(SESSION_KEY, []):
        raise Http404("No such order")
    order = get_object_or_404(Order, pk=pk)
    return render(request, "orders/detail.html", {"order": order})
