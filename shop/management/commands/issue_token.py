"""Sign a token for local use with AUTH_MODE=jwt, as an identity provider would issue one."""

import uuid

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from shop.identity import issue_token


class Command(BaseCommand):
    help = "Print a JWT for a customer (or staff with --staff), signed with AUTH_JWT_SECRET (HS256)."

    def add_arguments(self, parser):
        parser.add_argument("customer_id", help="the token's subject: a customer id (any id with --staff)")
        parser.add_argument("--staff", action="store_true", help="add the staff role")
        parser.add_argument("--lifetime", type=int, default=3600, help="seconds until it expires (default 3600)")

    def handle(self, *args, customer_id: str, staff: bool, lifetime: int, **options):
        if not staff:
            try:
                uuid.UUID(customer_id)
            except ValueError:
                raise CommandError(f"A customer's token needs the customer id, a UUID: {customer_id!r}.") from None
        try:
            self.stdout.write(issue_token(subject=customer_id, staff=staff, lifetime=lifetime))
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
