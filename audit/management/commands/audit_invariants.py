"""Check the contract's four invariants across every service's database; exit 1 on any violation.

Reads each service's data through its own connection only (see audit/invariants.py for what each check
does and what the grace excuses). For a verdict that excuses nothing, let the platform drain and
use --grace 0.
"""

import json
import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from audit.invariants import DEFAULT_GRACE_SECONDS, AuditReport, missing_databases, run_audit, saga_bound_seconds


class Command(BaseCommand):
    help = (
        "Audit the platform's invariants (one outcome per cart, stock conservation, one email and one "
        "push per event, nothing lost or done twice). Exit status: 0 all hold, 1 violations found, "
        "2 the audit could not run."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--grace",
            type=float,
            default=DEFAULT_GRACE_SECONDS,
            metavar="SECONDS",
            help=(
                "work younger than this is in flight, not a violation (default: %(default)s); "
                "0 after the platform has drained"
            ),
        )
        parser.add_argument(
            "--bound",
            type=float,
            default=None,
            metavar="SECONDS",
            help=(
                "how long a saga may take, whatever the grace: a cart still processing, or stock reserved "
                "without an order, for longer is stranded (default: from the retry and re-drive settings, "
                f"now {saga_bound_seconds():.0f})"
            ),
        )
        parser.add_argument("--json", action="store_true", help="print the report as JSON (for tools)")
        parser.add_argument(
            "--limit", type=int, default=20, metavar="N", help="violations listed per check (default: %(default)s)"
        )

    def handle(self, *args, **options):
        if options["grace"] < 0:
            raise CommandError("--grace cannot be negative", returncode=2)
        if options["bound"] is not None and options["bound"] < 0:
            raise CommandError("--bound cannot be negative", returncode=2)
        missing = missing_databases()
        if missing:
            raise CommandError(
                f"no connection for {', '.join(missing)}: run the audit without SHOP_SERVICE", returncode=2
            )
        try:
            report = run_audit(grace_seconds=options["grace"], bound_seconds=options["bound"])
        except DatabaseError as exc:
            raise CommandError(f"the audit could not read the databases: {exc}", returncode=2) from exc
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), indent=2))
        else:
            self._write_text(report, limit=max(options["limit"], 0))
        if not report.ok:
            sys.exit(1)

    def _write_text(self, report: AuditReport, *, limit: int) -> None:
        self.stdout.write(
            f"audit at {report.checked_at.isoformat()}, grace {report.grace_seconds:g}s "
            f"(younger work is in flight, not a violation), saga bound {report.bound_seconds:g}s"
        )
        for check in report.checks:
            verdict = (
                self.style.SUCCESS("ok")
                if check.ok
                else self.style.ERROR(f"{check.violation_count} violation{'s' if check.violation_count > 1 else ''}")
            )
            self.stdout.write(f"[{check.invariant}] {check.name}: {check.description}: {verdict}")
            examined = ", ".join(f"{what} {n}" for what, n in check.examined.items())
            self.stdout.write(f"    examined: {examined or 'nothing'}")
        if not report.ok:
            self.stdout.write("")
            self.stdout.write(f"violations ({report.violation_count}):")
            for check in report.checks:
                for violation in check.violations[:limit]:
                    self.stdout.write(f"  [{violation.invariant}] {violation.subject}: {violation.detail}")
                hidden = check.violation_count - min(limit, len(check.violations))
                if hidden > 0:
                    self.stdout.write(f"  [{check.name}] ... and {hidden} more")
        summary = report.summary
        self.stdout.write(self.style.SUCCESS(summary) if report.ok else self.style.ERROR(summary))
