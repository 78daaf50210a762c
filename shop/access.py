"""Who may call each route, declared once per view and applied by one permission class.

Every API view says, per action (a viewset's ``list``, ``create``, ...) or per HTTP method (an
APIView's ``get``, ``post``), which of four rules applies:

- ``PUBLIC``: anyone, with or without credentials.
- ``CUSTOMER``: any verified caller; the route acts on the caller's own data only (their cart,
  an order for themselves), so there is nothing of another's to reach.
- ``OWNER``: any verified caller, scoped: a customer's querysets hold only their own rows (another's
  object is 404, so ids don't leak), staff see everyone's. The scoping is ``customer_scope()`` handed
  to the selectors.
- ``STAFF``: staff only; a customer gets 403.

In ``AUTH_MODE=header`` nothing is verified, so no role is checked: the caller is trusted as given
(the contract's local mode) and the header only scopes the owner's routes, as it always did. In
``jwt`` mode, no or bad credentials on a route that is not public answer 401 with
``WWW-Authenticate: Bearer``. A view without a rule for the action being called answers 500 and
fails the authorization matrix test, which walks every route of every service.
"""

from __future__ import annotations

import enum

from django.core.exceptions import ImproperlyConfigured
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.permissions import BasePermission

from shop.identity import CallerKind, KeysUnavailable


class Access(enum.StrEnum):
    PUBLIC = "public"
    CUSTOMER = "customer"
    OWNER = "owner"
    STAFF = "staff"


def action_of(view, method: str) -> str:
    """The key a view's ``access`` map is read with: the viewset action, else the lower-case method."""
    method = method.lower()
    return getattr(view, "action_map", {}).get(method, method)


def rule_for(view, method: str) -> Access:
    """The rule for calling ``view`` with ``method``; methods the view does not answer pass on to DRF's 405."""
    method = "get" if method.lower() == "head" else method.lower()
    actions = getattr(view, "action_map", None)
    action = actions.get(method) if actions is not None else (method if hasattr(view, method) else None)
    if method == "options" or action is None:
        return Access.PUBLIC  # DRF's metadata answer, or its 405: nothing is read or written
    declared = getattr(view, "access", None)
    if declared is None:
        raise ImproperlyConfigured(f"{type(view).__name__} declares no access rules.")
    try:
        return declared[action]
    except KeyError:
        raise ImproperlyConfigured(f"{type(view).__name__} declares no access rule for {action!r}.") from None


class BearerScheme(OpenApiAuthenticationExtension):
    """The OpenAPI schema shows the bearer scheme, required by every operation that is not public."""

    target_class = "shop.identity.CallerAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": 'AUTH_MODE=jwt: a token whose sub is the customer id (roles ["staff"] for staff). '
            "AUTH_MODE=header (local only): no token; X-Customer-ID names the caller.",
        }

    def get_security_requirement(self, auto_schema):
        if rule_for(auto_schema.view, auto_schema.method) is Access.PUBLIC:
            return {}
        return {self.name: []}


class DeclaredAccess(BasePermission):
    """The default permission class of every API view: applies the view's ``access`` rule."""

    def has_permission(self, request, view) -> bool:
        rule = rule_for(view, request.method)
        if rule is Access.PUBLIC:
            return True
        caller = request.user
        if caller.kind is CallerKind.TRUSTED:
            return True
        if caller.kind is CallerKind.ANONYMOUS:
            raise exceptions.NotAuthenticated("This route needs a bearer token.")
        if caller.kind is CallerKind.REFUSED:
            raise exceptions.AuthenticationFailed(caller.refusal)
        if caller.kind is CallerKind.MISMATCHED:
            raise exceptions.PermissionDenied(caller.refusal)
        if caller.kind is CallerKind.UNVERIFIABLE:
            raise KeysUnavailable()
        if rule is Access.STAFF and not caller.is_staff:
            raise exceptions.PermissionDenied("This route is for staff only.")
        return True
