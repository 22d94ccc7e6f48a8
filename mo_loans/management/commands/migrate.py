"""``manage.py migrate`` as the database owner, then the app role's grants.

With ``DATABASE_OWNER_USER`` set (and different from ``DATABASE_USER``) the
migrations run on a connection as the owner, who owns what they create; the app
role then gets its privileges (mo_loans.dbroles). Without it, Django's migrate
runs as ``DATABASE_USER``, as before.
"""

from django.core.management.commands.migrate import Command as DjangoMigrateCommand

from mo_loans.dbroles import app_role_grant, connected_as_owner


class Command(DjangoMigrateCommand):
    help = DjangoMigrateCommand.help + " Runs as DATABASE_OWNER_USER and grants DATABASE_USER."

    def handle(self, *args, **options):
        alias = options["database"]
        with connected_as_owner(alias) as app_role:
            super().handle(*args, **options)
            if app_role and not options.get("plan") and not options.get("check_unapplied"):
                app_role_grant(alias=alias, role=app_role)
                if options["verbosity"] >= 1:
                    self.stdout.write(f"Granted the app role {app_role!r} its privileges.")
