"""The page cursor's text form: what it encodes decodes to the same position and page, the old audit form is read
only where asked for, and anything else is refused with the reason a 422 gives."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

import pytest

from scheduler_core.schemas.cursors import REFUSED, PageCursor


@pytest.mark.parametrize(
    "cursor",
    [
        PageCursor(datetime(2027, 3, 27, 1, 2, 3, 456789, tzinfo=UTC), 42, 3),
        PageCursor(datetime(1, 1, 1, tzinfo=UTC), 0, 1),
        PageCursor(datetime(3169, 11, 1, tzinfo=UTC), 10**18 - 1, 10**18 - 1),  # near the latest instant it holds
    ],
)
def test_a_cursor_decodes_to_what_it_encodes(cursor: PageCursor) -> None:
    assert PageCursor.decode(cursor.encode()) == cursor
    assert PageCursor.decode(cursor.encode(), legacy=True) == cursor


def test_an_instant_with_an_offset_is_encoded_as_its_utc_instant() -> None:
    local = datetime(2027, 3, 27, 3, 0, tzinfo=timezone(timedelta(hours=2)))
    assert PageCursor.decode(PageCursor(local, 1, 2).encode()).at == datetime(2027, 3, 27, 1, 0, tzinfo=UTC)


def test_an_audit_cursor_of_the_earlier_form_is_read_only_where_asked_for() -> None:
    old = base64.urlsafe_b64encode(b"2027-03-27T01:02:03.000004+00:00|17").decode().rstrip("=")
    assert PageCursor.decode(old, legacy=True) == PageCursor(datetime(2027, 3, 27, 1, 2, 3, 4, tzinfo=UTC), 17, None)
    with pytest.raises(ValueError, match=REFUSED):
        PageCursor.decode(old)
    # The page after it keeps that form: the chain ends as it began.
    assert PageCursor.decode(PageCursor.decode(old, legacy=True).encode(), legacy=True).page is None


@pytest.mark.parametrize(
    "token",
    [
        "",
        "12.34",
        "1.2.0",  # pages count from 1
        "01.2.3",  # one spelling per number
        "1" * 18 + ".1.2",  # an instant past what a cursor holds
        "not-a-cursor",
        base64.urlsafe_b64encode(b"2027-03-27T01:02:03|1").decode(),  # no offset
        base64.urlsafe_b64encode(b"0001-01-01T00:00:00+05:00|1").decode(),  # before the first UTC instant
        base64.urlsafe_b64encode(b"2027-03-27T01:02:03+00:00|" + b"1" * 19).decode(),  # an id past 64 bits
    ],
)
def test_anything_else_is_refused(token: str) -> None:
    with pytest.raises(ValueError, match=REFUSED):
        PageCursor.decode(token, legacy=True)
