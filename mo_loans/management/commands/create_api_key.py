from django.core.management.base import BaseCommand
from rest_framework_api_key.models import APIKey


class Command(BaseCommand):
    help = "Create an API key called NAME and print it as the last line of output."

    def add_arguments(self, parser) -> None:
        parser.add_argument("name", help="who or what the key is for")

    def handle(self, *args, name: str, **options) -> None:
        _, key = APIKey.objects.create_key(name=name)
        self.stderr.write(f"Created API key '{name}'. It is shown once; store it now.")
        self.stdout.write(key)
