"""Per-recipient subject ids: a stable, opaque id for one person as one recipient sees them.

Two suppliers must not be able to join what they received on a shared id, and the MIS's own
`source_id` is never shown outside Steward. So each recipient sees HMAC-SHA256(key, recipient,
school, kind, source id), cut to 32 hex characters: the same person always gets the same id at
the same recipient (deltas and sign-ins line up), a different one at every other recipient, and
nobody without the key can go back to the MIS id. The key is derived from Django's SECRET_KEY with
its own salt, so rotating it is a deliberate act (every recipient then sees new ids).
"""

from __future__ import annotations

import hashlib
import hmac
from functools import cache

from django.conf import settings

SALT = b"steward.rostering.subject-id"


@cache
def _key() -> bytes:
    return hmac.new(settings.SECRET_KEY.encode(), SALT, hashlib.sha256).digest()


def subject_id(*, recipient_code: str, school_urn: int, kind: str, source_id: str) -> str:
    """The id `recipient_code` knows this person (or class, or school) by. `kind` is the record kind
    (e.g. "student", "teacher", "class", "org"), so a class and a pupil with the same MIS id differ."""
    message = f"{recipient_code}\x1f{school_urn}\x1f{kind}\x1f{source_id}".encode()
    return hmac.new(_key(), message, hashlib.sha256).hexdigest()[:32]
