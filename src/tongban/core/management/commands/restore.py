"""``tongban restore ARCHIVE --data-dir EMPTY_DIR``: a working node again from a ``tongban backup``."""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from tongban.core.backup import PASSPHRASE_ENV, BackupError, read_passphrase
from tongban.core.backup_restore import restore


class Command(BaseCommand):
    help = ("Restore a backup archive onto an empty data dir and an empty database (DATABASE_URL decides which), "
            "then verify the ledger. / 恢复")

    def add_arguments(self, parser):
        parser.add_argument("archive", type=Path)
        parser.add_argument("--data-dir", type=Path, required=True,
                            help="the new, empty data dir (run the node with TONGBAN_DATA_DIR set to it)")
        parser.add_argument("--passphrase-file", type=Path, help=f"default: ${PASSPHRASE_ENV}")
        parser.add_argument("--expect-key",
                            help="refuse an archive not signed by this verifier key (as published at /ledger/key)")

    def handle(self, *args, archive: Path, data_dir: Path, passphrase_file: Path | None,
               expect_key: str | None, **options):
        try:
            passphrase = read_passphrase(passphrase_file, creating=False)
            result = restore(archive, data_dir, passphrase, say=lambda line: print(line, file=sys.stderr, flush=True),
                             expect_key=expect_key)
        except BackupError as exc:
            raise CommandError(f"restore FAILED: {exc}") from None
        self.stdout.write(self.style.SUCCESS(
            f"restore OK: {result.vendor} database, ledger size {result.ledger_size}, "
            f"{result.keystore_files} keystore files, {result.uploads} uploads into {data_dir}\n{result.verify_summary}"))
