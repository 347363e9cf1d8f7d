"""History cursors: where the next page of runs starts (`nextCursor` out, `cursor` in).

A cursor is a token to hand back, not to read: `<slot>.<id>.<page>`, the last listed run's place in history's
order (its scheduled_at, in microseconds since 0001-01-01T00:00:00Z, and its id) and the number of the page it
opens. Every string of CURSOR_PATTERN is a cursor (any position is a valid place to start from), so the pattern
is the whole validation: a request with anything else is refused (422 naming `cursor`), and none that matches is.
Bounds: slots before the year 3170 (17 digits), ids below 10^18, pages below 10^18 - all the store can hold."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

CURSOR_PATTERN: Final = r"^(0|[1-9][0-9]{0,16})\.(0|[1-9][0-9]{0,17})\.([1-9][0-9]{0,17})$"
CURSOR_MAX_LENGTH: Final = 17 + 1 + 18 + 1 + 18
_EPOCH: Final = datetime(1, 1, 1, tzinfo=UTC)
_PARSE: Final = re.compile(CURSOR_PATTERN)


@dataclass(frozen=True, slots=True)
class HistoryCursor:
    scheduled_at: datetime  # the last listed run's slot
    id: int  # and its id: the next page starts after this run
    page: int  # the number of the page the cursor opens (1-based)

    def encode(self) -> str:
        elapsed = self.scheduled_at.astimezone(UTC) - _EPOCH
        micros = (elapsed.days * 86_400 + elapsed.seconds) * 1_000_000 + elapsed.microseconds
        return f"{micros}.{self.id}.{self.page}"

    @classmethod
    def decode(cls, token: str) -> HistoryCursor:
        """The cursor a token names; ValueError if it is none (it does not match CURSOR_PATTERN)."""
        match = _PARSE.fullmatch(token)
        if match is None:
            raise ValueError("must be a nextCursor the API returned")
        micros, execution_id, page = (int(part) for part in match.groups())
        return cls(_EPOCH + timedelta(microseconds=micros), execution_id, page)
