"""Signed envelopes: with PUBSUB_SIGNING_KEY set, the relay signs each message and the bridge believes
only messages that carry a valid signature, so that only the platform's own relays cause effects."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

SIGNATURE_ATTRIBUTE = "signature"


def envelope_signature(key: str, attributes: Mapping[str, str], data: bytes) -> str:
    """HMAC-SHA256 over every attribute but the signature (sorted, one ``name=value`` a line) and the data."""
    signed = "\n".join(f"{name}={value}" for name, value in sorted(attributes.items()) if name != SIGNATURE_ATTRIBUTE)
    return hmac.new(key.encode(), signed.encode() + b"\n\n" + data, hashlib.sha256).hexdigest()


def signature_valid(key: str, attributes: Mapping[str, str], data: bytes) -> bool:
    given = attributes.get(SIGNATURE_ATTRIBUTE, "")
    return bool(given) and hmac.compare_digest(given, envelope_signature(key, attributes, data))
