"""``tongban backup OUT.tar``: one signed archive of the database, keystore, checkpoint and uploads."""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from tongban.core.backup import PASSPHRASE_ENV, BackupError, backup, read_passphrase


class Command(BaseCommand):
    help = ("Write a consistent, signed backup archive: database dump, keystore encrypted with a passphrase, "
            "latest ledger checkpoint, uploads. / 备份")

    def add_arguments(self, parser):
        parser.add_argument("out", type=Path, help="the archive to write, e.g. tongban-2025-01-01.tar")
        parser.add_argument("--passphrase-file", type=Path,
                            help=f"file holding the keystore passphrase (default: ${PASSPHRASE_ENV}); "
                                 "at least 12 characters")

    def handle(self, *args, out: Path, passphrase_file: Path | None, **options):
        out = out.expanduser().resolve()
        if out.exists():
            raise CommandError(f"{out} exists; choose a new name")
        if not out.parent.is_dir():
            raise CommandError(f"{out.parent} is not a directory")
        try:
            passphrase = read_passphrase(passphrase_file, creating=True)
            result = backup(out, passphrase, say=lambda line: print(line, file=sys.stderr, flush=True))
        except BackupError as exc:
            raise CommandError(f"backup FAILED: {exc}") from None
        self.stdout.write(self.style.SUCCESS(
            f"backup OK: {result.path} ({result.vendor}, ledger size {result.ledger_size}, "
            f"{result.members} members, {result.size} bytes)"))
