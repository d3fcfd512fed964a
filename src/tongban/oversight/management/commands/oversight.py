"""``tongban oversight <verb>``: the cockpit's batch work from the command line.

One sub-command per verb: ``add_<verb>_arguments(verbs)`` declares it and ``handle_<verb>(console,
**options)`` runs it (``handle`` dispatches by name).

* ``quality [--resource CODE]`` — recompute data quality (every published resource with records,
  or one), with a progress bar per resource, and print the scores.
* ``alerts`` — run the security detection rules once and print the new alerts (安全预警).
* ``assessment [--period YYYY-MM]`` — compute and store the department assessment (考核) of a
  period (default: the current month) and print the ranking.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tongban.core.errors import DomainError


def _progress(console: Console) -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console)


def _figure(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


class Command(BaseCommand):
    help = "Oversight cockpit: recompute data quality. / 监管驾驶舱"

    def add_arguments(self, parser):
        verbs = parser.add_subparsers(dest="verb", required=True, metavar="verb")
        self.add_quality_arguments(verbs)
        self.add_alerts_arguments(verbs)
        self.add_assessment_arguments(verbs)

    def handle(self, *args, verb: str, **options):
        console = Console(file=self.stdout._out, width=140)
        return getattr(self, f"handle_{verb}")(console, **options)

    # --- quality ------------------------------------------------------------------------------------------------

    def add_quality_arguments(self, verbs) -> None:
        quality = verbs.add_parser("quality", help="recompute data quality (数据质量) from the records")
        quality.add_argument("--resource", metavar="CODE", help="one resource's code (default: every resource)")

    def handle_quality(self, console: Console, *, resource: str | None = None, **_options) -> None:
        from tongban.oversight.services import quality

        codes = [resource] if resource else quality.measurable_codes()
        if not codes:
            console.print("no published resource has records / 没有可计算的资源")
            return
        scores = []
        with _progress(console) as bar:
            overall = bar.add_task("resources 资源", total=len(codes))
            for code in codes:
                task = bar.add_task(code, total=None)
                try:
                    scores.append(quality.compute_resource(
                        code, progress=lambda done, total, task=task: bar.update(task, completed=done, total=total)))
                except DomainError as error:
                    if resource:
                        raise CommandError(f"{code}: {error.message_en} / {error.message_zh}") from None
                bar.update(overall, advance=1)
                bar.remove_task(task)
        table = Table("resource", "records", "completeness", "validity", "timeliness", "uniqueness", "consistency",
                      "score")
        for score in scores:
            table.add_row(score.resource_code, str(score.records), *(_figure(getattr(score, d)) for d in quality.DIMENSIONS),
                          _figure(score.score))
        console.print(table)

    # --- alerts -------------------------------------------------------------------------------------------------

    def add_alerts_arguments(self, verbs) -> None:
        verbs.add_parser("alerts", help="run the security detection rules once (安全预警) and print new alerts")

    def handle_alerts(self, console: Console, **_options) -> None:
        from tongban.oversight.services import alerts

        changed = alerts.detect()
        new = [alert for alert in changed if alert.is_new]
        if not new:
            console.print(f"no new alert ({len(changed)} updated) / 无新预警（更新 {len(changed)} 条）")
            return
        table = Table("id", "severity", "rule", "caller", "title", "last seen")
        for alert in new:
            table.add_row(str(alert.pk), alert.severity, alert.rule, alert.actor, f"{alert.title_zh} / {alert.title_en}",
                          alert.last_seen.isoformat(timespec="seconds"))
        console.print(table)
        console.print(f"{len(new)} new, {len(changed) - len(new)} updated / 新增 {len(new)} 条，更新 {len(changed) - len(new)} 条")

    # --- assessment ---------------------------------------------------------------------------------------------

    def add_assessment_arguments(self, verbs) -> None:
        assessment = verbs.add_parser("assessment", help="compute the department assessment (考核) of a period")
        assessment.add_argument("--period", metavar="YYYY-MM", help="a month YYYY-MM or a quarter YYYY-Qn "
                                "(default: the current month)")

    def handle_assessment(self, console: Console, *, period: str | None = None, **_options) -> None:
        from django.db import transaction

        from tongban.oversight.services import assessment

        try:
            with transaction.atomic():
                scores = assessment.compute(period)
        except DomainError as error:
            raise CommandError(f"{error.message_en} / {error.message_zh}") from None
        period = scores[0].period if scores else (period or assessment.current_period())
        if not scores:
            console.print(f"{period}: no department to assess / 没有可考核的部门")
            return
        table = Table("rank", "department", "total", *assessment.INDICATORS, title=f"assessment 考核 {period}")
        for score in scores:
            table.add_row(str(score.rank), f"{score.department.code} {score.department.name}", _figure(score.total),
                          *(_figure(score.indicators.get(key)) for key in assessment.INDICATORS))
        console.print(table)
