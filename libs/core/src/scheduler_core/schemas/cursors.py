"""The page cursor: where the next page of a newest-first listing starts (`nextCursor` out, `cursor` in), for the
execution history and the audit trail alike.

A cursor is a token to hand back, not to read: `<at>.<id>.<page>`, the last listed row's place in the listing's
order (its instant - a run's slot, an entry's occurredAt - in microseconds since 0001-01-01T00:00:00Z, and its id)
and the number of the page it opens. Every string of CURSOR_PATTERN is a cursor (any position is a valid place to
start from), so the pattern is the whole validation: anything else is refused (422 naming `cursor`), and nothing
that matches is. Bounds: instants before the year 3170 (17 digits), ids below 10^18, pages below 10^18 - all the
store can hold.

One rule for `page` sent together with `cursor`: the cursor says which page it opens, and `page` is ignored. The
history always did this; the audit trail refused the pair until its cursors carried a page number, so no request
accepted before is refused now.

Audit cursors from before the audit trail used this form (base64 of `<ISO 8601 instant>|<id>`, no page number)
may still be held by a client paging when the API is upgraded: `decode(..., legacy=True)` still reads them (the
page such a cursor opens is unknown: None), and the cursor after such a page keeps that form, so a chain begun
before the upgrade ends as it began. Only the audit endpoints accept them; the history's form never changed."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

CURSOR_PATTERN: Final = r"^(0|[1-9][0-9]{0,16})\.(0|[1-9][0-9]{0,17})\.([1-9][0-9]{0,17})$"
CURSOR_MAX_LENGTH: Final = 17 + 1 + 18 + 1 + 18
# What the audit endpoints accept: this form, or an old audit cursor's URL-safe base64 (checked by decode).
LEGACY_CURSOR_PATTERN: Final = rf"{CURSOR_PATTERN}|^[A-Za-z0-9_-]+$"
LEGACY_CURSOR_MAX_LENGTH: Final = 200
REFUSED: Final = "must be a nextCursor the API returned"
_EPOCH: Final = datetime(1, 1, 1, tzinfo=UTC)
_PARSE: Final = re.compile(CURSOR_PATTERN)
_LEGACY_ID_DIGITS: Final = 18  # ids are 64-bit: 18 digits always fit


@dataclass(frozen=True, slots=True)
class PageCursor:
    at: datetime  # the last listed row's instant (a run's slot, an audit entry's occurredAt)
    id: int  # and its id: the next page starts after this row
    page: int | None  # the number of the page the cursor opens (1-based); None only for a legacy audit cursor

    def encode(self) -> str:
        if self.page is None:  # the page after a legacy cursor's: the chain keeps the form it began with
            text = f"{self.at.astimezone(UTC).isoformat()}|{self.id}"
            return base64.urlsafe_b64encode(text.encode("ascii")).decode("ascii").rstrip("=")
        elapsed = self.at.astimezone(UTC) - _EPOCH
        micros = (elapsed.days * 86_400 + elapsed.seconds) * 1_000_000 + elapsed.microseconds
        return f"{micros}.{self.id}.{self.page}"

    @classmethod
    def decode(cls, token: str, *, legacy: bool = False) -> PageCursor:
        """The cursor a token names; ValueError (its message the reason, for a 422 naming `cursor`) if it is none.
        `legacy`: an old audit cursor is one too (see the module's docstring)."""
        match = _PARSE.fullmatch(token)
        if match is not None:
            micros, row_id, page = (int(part) for part in match.groups())
            return cls(_EPOCH + timedelta(microseconds=micros), row_id, page)
        if legacy:
            return cls._decode_legacy(token)
        raise ValueError(REFUSED)

    @classmethod
    def _decode_legacy(cls, token: str) -> PageCursor:
        try:
            text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
            instant, separator, row_id = text.partition("|")
            at = datetime.fromisoformat(instant)
            # An instant without an offset, or with none in UTC (before its first instant), is not one we made.
            if not separator or not row_id.isdigit() or len(row_id) > _LEGACY_ID_DIGITS or at.tzinfo is None:
                raise ValueError(REFUSED)
            return cls(at.astimezone(UTC), int(row_id), None)
        except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError):
            raise ValueError(REFUSED) from None
