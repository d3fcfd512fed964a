from django.core.management.base import BaseCommand
from django.db import transaction

from tongban.core.demo import DEMO_PASSWORD, DemoContext, load_demo


class Command(BaseCommand):
    help = "Load the synthetic demo province into the configured database (idempotent). / 加载演示数据"

    def handle(self, *args, **options):
        context = DemoContext(say=lambda line: self.stdout.write(line))
        with transaction.atomic():
            load_demo(context)
        self.stdout.write(self.style.SUCCESS("演示数据已加载 / Demo province loaded."))
        for note in context.notes:
            self.stdout.write(f"  {note}")
        self.stdout.write("")
        self.stdout.write(f"演示账号 / Demo accounts (password 密码: {DEMO_PASSWORD}):")
        width = max(len(username) for username, _ in context.logins) if context.logins else 0
        for username, description in context.logins:
            self.stdout.write(f"  {username.ljust(width)}  {description}")
