"""`manage.py sync_schedules`: install the schedules each installed app's schedules.py declares.

compose/common/django/migrate runs it after the migrations. It is safe to run again at
any time, and it never overwrites a schedule changed in the admin (scheduling/sync.py).
"""

from django.core.management.base import BaseCommand

from scheduling.declarations import declared_schedules
from scheduling.sync import KEPT, RELEASED, sync_schedules


class Command(BaseCommand):
    help = (
        "Create or update the periodic tasks declared in each app's schedules.py, "
        "leaving any schedule changed in the admin as it is."
    )

    def handle(self, *args, **options):
        for outcome in sync_schedules(declared_schedules()):
            line = f"{outcome.action:>9}  {outcome.name}"
            if outcome.detail:
                line += f": {outcome.detail}"
            style = self.style.WARNING if outcome.action in (KEPT, RELEASED) else self.style.SUCCESS
            self.stdout.write(style(line))
