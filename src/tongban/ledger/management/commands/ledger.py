"""``tongban ledger integrate|verify|audit``: the ledger's worker and its two checkers."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from tongban.ledger import integrator
from tongban.ledger.audit import AuditError, audit
from tongban.ledger.verify import verify_ledger


class Command(BaseCommand):
    help = "Tamper-evident ledger: integrate pending entries, verify the log, audit a node over HTTP. / 存证账本"

    def add_arguments(self, parser):
        verbs = parser.add_subparsers(dest="verb", required=True, metavar="{integrate,verify,audit}")
        integrate = verbs.add_parser("integrate", help="number and integrate committed entries, sign a checkpoint")
        integrate.add_argument("--follow", action="store_true",
                               help="keep integrating (the worker): nothing waits longer than --interval")
        integrate.add_argument("--interval", type=float, default=0.5, help="seconds between polls (default 0.5)")
        integrate.add_argument("--batch-size", type=int, default=integrator.DEFAULT_BATCH_SIZE)
        integrate.add_argument("--nice", type=int, default=int(os.environ.get("TONGBAN_SEQUENCER_NICE", "10")),
                               help="with --follow, lower this worker's CPU priority by this much (default 10): "
                                    "requests go first, the entries wait durably in the queue")
        verbs.add_parser("verify", help="recompute every leaf, node and checkpoint; exit 1 at the first bad index")
        check = verbs.add_parser("audit", help="check a node from outside over its public API")
        check.add_argument("--url", required=True, help="the node's site URL, e.g. https://tongban.example.gov.cn")
        check.add_argument("--key", help="the node's verifier key (default: fetch it, trusting it on first use)")
        check.add_argument("--state", type=Path, help="JSON file remembering the last audited checkpoint")

    def handle(self, *args, verb: str, **options):
        getattr(self, f"_{verb}")(**options)

    def _integrate(self, *, follow: bool, interval: float, batch_size: int, nice: int = 0, **_options) -> None:
        if not follow:
            result = integrator.integrate(batch_size=batch_size, wait=True)
            self.stdout.write(f"integrated {result.integrated} entries; tree size {result.size}")
            return
        if nice > 0:
            # Sealing and integrating are batch work: on a busy node they use the CPU requests leave.
            os.nice(nice)
        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
        self.stdout.write(f"integrating every {interval}s; Ctrl-C to stop")
        try:
            integrator.follow(interval=interval, batch_size=batch_size, should_stop=lambda: bool(stopping),
                              report=lambda r: self.stdout.write(f"integrated {r.integrated}; tree size {r.size}"))
        except KeyboardInterrupt:
            pass

    def _verify(self, **_options) -> None:
        report = verify_ledger(progress=None)
        summary = (f"{report.entries} entries, {report.nodes} tree nodes, {report.checkpoints} checkpoints checked; "
                   f"tree size {report.size}, {report.pending} pending")
        if report.problem is not None:
            raise CommandError(f"ledger verification FAILED at {report.problem}\n({summary})", returncode=1)
        self.stdout.write(self.style.SUCCESS(f"ledger OK: {summary}"))

    def _audit(self, *, url: str, key: str | None, state: Path | None, **_options) -> None:
        try:
            result = audit(url, key=key, state_file=state, say=self.stdout.write)
        except AuditError as exc:
            raise CommandError(f"ledger audit FAILED: {exc}", returncode=1) from None
        self.stdout.write(self.style.SUCCESS(f"ledger audit OK: size {result.size}"))
