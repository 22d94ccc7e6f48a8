import django_filters

from customers.models import Customer


class CustomerFilter(django_filters.FilterSet):
    status = django_filters.TypedChoiceFilter(choices=Customer.Status.choices, coerce=int)
    external_id = django_filters.CharFilter()

    class Meta:
        model = Customer
        fields = ["status", "external_id"]
