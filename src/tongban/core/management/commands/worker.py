"""``tongban worker``: the background job consumer (huey), run beside ``tongban serve``."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from huey.consumer_options import ConsumerConfig
from huey.contrib.djhuey import HUEY


class Command(BaseCommand):
    help = "Run background jobs and periodic sweeps. / 运行后台任务"

    def add_arguments(self, parser):
        parser.add_argument("--workers", type=int, default=2)

    def handle(self, *args, workers, **options):
        # Import every app's tasks so the consumer knows them (huey registers on import).
        from django.utils.module_loading import autodiscover_modules

        autodiscover_modules("tasks")
        config = ConsumerConfig(workers=workers, worker_type="thread", periodic=True, check_worker_health=True)
        config.validate()
        self.stdout.write(f"tongban worker: {workers} threads, queue {HUEY.name} ({type(HUEY).__name__})")
        consumer = HUEY.create_consumer(**config.values)
        consumer.run()
