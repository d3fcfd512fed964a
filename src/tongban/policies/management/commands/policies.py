"""``tongban policies snapshot|match|list``: the policy service's long jobs from the command line,
with a progress bar (rich) — the same use cases the job page runs.

``match`` runs in this process (no worker needed): it builds a fresh profile snapshot, matches
the chosen published policies set-wise, stores one match run per policy and, unless
``--no-deliver``, notifies the matched subjects that have accounts and grants 免申即享 benefits.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

ACTOR = "system:cli"


def _progress(console: Console) -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
                    console=console)


class Command(BaseCommand):
    help = "Policy service: build profile snapshots, bulk-match policies, list them. / 政策通"

    def add_arguments(self, parser):
        verbs = parser.add_subparsers(dest="verb", required=True, metavar="{snapshot,match,list}")
        snap = verbs.add_parser("snapshot", help="build a profile snapshot from the shared data")
        snap.add_argument("--target", choices=["enterprise", "citizen"], default="enterprise")
        match = verbs.add_parser("match", help="bulk-match published policies (all in force by default)")
        match.add_argument("--policy", action="append", default=[], help="a policy code (repeatable)")
        match.add_argument("--no-deliver", action="store_true", help="only count and store the matches")
        verbs.add_parser("list", help="the published policies and their last match")

    def handle(self, *args, verb: str, **options):
        console = Console(file=self.stdout._out, width=140)
        if verb == "snapshot":
            return self._snapshot(console, options["target"])
        if verb == "match":
            return self._match(console, options["policy"], not options["no_deliver"])
        return self._list(console)

    def _snapshot(self, console: Console, target: str) -> None:
        from tongban.policies.services.snapshots import build_snapshot

        with _progress(console) as bar:
            task = bar.add_task(f"profiles ({target})", total=None)
            snapshot = build_snapshot(target, created_by=ACTOR,
                                      progress=lambda done, total: bar.update(task, completed=done, total=total))
        console.print(f"snapshot {snapshot.pk}: {snapshot.rows} profiles, sha256 {snapshot.sha256[:16]}…")

    def _match(self, console: Console, codes: list[str], deliver: bool) -> None:
        from tongban.policies.models import Policy
        from tongban.policies.services.matching import run_match
        from tongban.policies.services.policies import is_in_force, library

        if codes:
            found = {p.code: p for p in Policy.objects.filter(code__in=codes)}
            missing = [c for c in codes if c not in found]
            if missing:
                raise CommandError(f"no such policy: {', '.join(missing)} / 没有这些政策")
            chosen = [found[c] for c in codes if is_in_force(found[c])]
        else:
            chosen = [p for p in library() if is_in_force(p)]
        if not chosen:
            raise CommandError("no published policy in force to match / 没有可匹配的政策")
        with _progress(console) as bar:
            task = bar.add_task("matching 匹配", total=100)
            result = run_match([p.pk for p in chosen], created_by=ACTOR, deliver=deliver,
                               progress=lambda done, total: bar.update(task, completed=done, total=total))
        table = Table("policy", "matched", "delivered", "granted")
        for code, row in result["policies"].items():
            table.add_row(code, str(row["matched"]), str(row["delivered"]), str(row["granted"]))
        console.print(table)

    def _list(self, console: Console) -> None:
        from tongban.policies.models import MatchRun
        from tongban.policies.services.policies import library

        table = Table("id", "code", "title", "mode", "target", "last matched")
        for policy in library():
            run = MatchRun.objects.filter(policy=policy).order_by("-created_at").first()
            table.add_row(str(policy.pk), policy.code, policy.title, policy.mode, policy.target,
                          f"{run.matched} ({run.created_at:%Y-%m-%d %H:%M})" if run else "—")
        console.print(table)
