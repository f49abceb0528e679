from django import forms


class SignupReportForm(forms.Form):
    days = forms.IntegerField(min_value=1, max_value=366, initial=7, label="Days to cover")
