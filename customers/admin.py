from django.contrib import admin

from customers import services
from customers.models import Customer


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["external_id", "name", "email", "score", "status", "created_at"]
    list_filter = ["status"]
    search_fields = ["external_id", "name", "email"]
    readonly_fields = ["created_at", "updated_at"]
    ordering = ["-id"]
    show_full_result_count = False

    def has_delete_permission(self, request, obj=None) -> bool:
        # Customers are parties to the ledger: never deleted (the app role may not either).
        return False

    def get_readonly_fields(self, request, obj=None):
        # The external id is the client's key for the customer: fixed once created.
        return [*self.readonly_fields, "external_id"] if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        """Save through the same services the API uses."""
        if change:
            services.customer_update(
                customer=obj, data={f: form.cleaned_data[f] for f in form.changed_data}
            )
            return
        created = services.customer_create(
            external_id=obj.external_id,
            score=obj.score,
            preapproved_at=obj.preapproved_at,
            name=obj.name,
            email=obj.email,
        )
        obj.pk, obj.status = created.pk, created.status
        obj.created_at, obj.updated_at = created.created_at, created.updated_at
