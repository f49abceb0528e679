"""Place an order and watch its confirmation go out.

Unlike reports/views.py, nothing here talks to the broker: placing an order writes two
rows in one transaction, so it succeeds whenever the database does, broker or not.
Orders need a signed-in user, and the confirmation goes to that user's own address:
a form that mailed any address it was given would relay spam from the site's domain.
"""

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render

from . import services
from .forms import OrderForm
from .models import Order


@login_required
def place_order(request):
    form = OrderForm(request.POST or None)
    if not request.user.email:
        form.add_error(None, "Your account has no e-mail address to confirm the order to.")
    elif request.method == "POST" and form.is_valid():
        order = services.place_order(request.user, **form.cleaned_data)
        return redirect("orders:detail", pk=order.pk)
    return render(request, "orders/place.html", {"form": form})


@login_required
def order_detail(request, pk):
    # Another user's order number is a 404, as if it did not exist.
    order = get_object_or_404(Order, pk=pk, user=request.user)
    return render(request, "orders/detail.html", {"order": order})
