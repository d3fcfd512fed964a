"""``tongban credential verify|export-trust-list``.

``verify`` works with no database and no network: the trust list and its pinned root key, and
optionally the status lists (``--status``, the VC-JWTs published at their URLs), come from files.
Without status lists a revocable credential fails closed (``status_unavailable``).
"""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from tongban.credentials.keys import CredentialError


class Command(BaseCommand):
    help = "Electronic certificates: verify offline, export the node's trust list. / 电子证照"
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser):
        verbs = parser.add_subparsers(dest="verb", required=True, metavar="{verify,export-trust-list}")
        check = verbs.add_parser("verify", help="verify a VC-JWT or TB1: text offline")
        check.add_argument("file", type=Path, help="the credential (VC-JWT or TB1: QR text)")
        check.add_argument("--trust", type=Path, action="append", required=True,
                           help="a signed trust list (repeat for several regions; the first is the local one)")
        check.add_argument("--root", type=Path, action="append",
                           help="the pinned root public JWK of each --trust (default <TRUST>.root.json)")
        check.add_argument("--status", type=Path, action="append", help="a status list VC-JWT file (repeatable)")
        check.add_argument("--json", action="store_true", help="print the result as JSON")
        export = verbs.add_parser("export-trust-list", help="write the node's signed trust list and root key")
        export.add_argument("out", type=Path, help="the trust list file; the root key goes to OUT.root.json")
        export.add_argument("--status-dir", type=Path, help="also write the status list credentials here")

    def handle(self, *args, verb: str, **options):
        if verb == "verify":
            return self._verify(**options)
        return self._export(**options)

    def _verify(self, *, file, trust, root, status, json: bool, **_options):
        from tongban.credentials.offline import verify_file

        try:
            result = verify_file(file, trust, root, status)
        except (OSError, ValueError, KeyError, CredentialError) as exc:
            raise CommandError(f"cannot read the inputs: {exc}") from None
        if json:
            self.stdout.write(_json(result.to_dict()))
        else:
            for name, check in result.checks.items():
                mark = "OK  " if check["ok"] else "FAIL"
                self.stdout.write(f"{mark} {name}: {check['reason']}")
            self.stdout.write("VALID 有效" if result.valid else "INVALID 无效")
        if not result.valid:
            raise SystemExit(1)

    def _export(self, *, out: Path, status_dir: Path | None, **_options):
        from tongban.credentials import services
        from tongban.credentials.models import StatusListRow

        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(services.published_trust_list() + "\n", encoding="utf-8")
        root = out.with_name(out.name + ".root.json")
        root.write_text(_json(services.root_public_jwk()) + "\n", encoding="utf-8")
        self.stdout.write(f"wrote {out} and {root}")
        if status_dir:
            status_dir.mkdir(parents=True, exist_ok=True)
            for row in StatusListRow.objects.order_by("purpose", "list_id"):
                path = status_dir / f"{row.purpose}-{row.list_id}.jwt"
                path.write_text(services.status_list_credential(row.purpose, row.list_id) + "\n", encoding="utf-8")
                self.stdout.write(f"wrote {path}")


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2)
