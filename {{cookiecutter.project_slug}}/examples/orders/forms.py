from django import forms

from .models import Order


class OrderForm(forms.ModelForm):
    class Meta:
        model = Order
        fields = ["item", "quantity"]
        widgets = {"quantity": forms.NumberInput(attrs={"min": 1, "max": 99})}
