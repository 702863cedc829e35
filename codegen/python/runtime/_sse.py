"""Incremental Server-Sent Events decoder (WHATWG "event stream interpretation").

The decoder works on raw bytes as they arrive from the network, in reads of any size:

* Line ends are CR, LF or CRLF. A CR that ends one read followed by an LF that starts the next
  read is one line end, not two.
* A UTF-8 byte-order mark at the very start of the stream is removed once (a BOM later in the
  stream is kept, as the standard says).
* Bytes are decoded to text one complete line at a time, so a read may end inside a multi-byte
  UTF-8 character. Invalid UTF-8 becomes U+FFFD, as in browsers.
* Each read is scanned once: a line of several MiB that arrives in many small reads costs
  linear time, not quadratic.

Field rules: ``data`` lines are joined with ``"\\n"``; ``event`` sets the type (``"message"``
when absent); ``id`` sets the last event id unless the value contains NUL, and the id persists
across events as the standard says; ``retry`` is kept only when it is ASCII digits; a line
without a colon is a field with an empty value; one space after the colon is removed; unknown
fields are ignored. Lines starting with ``:`` are comments: the standard ignores them, but
DashScope sends its status as ``:HTTP_STATUS/200``, so the comments of an event are kept on
it (text after the colon, verbatim). An event is dispatched on a blank line; an event without
any ``data`` line is not dispatched (its comments, type and retry are dropped with it).

End of stream (:meth:`SSEDecoder.end`): the standard discards an event that was not followed
by a blank line. DashScope closes the connection right after the last event and some recorded
streams omit the final blank line, and losing the last event would lose ``finish_reason`` and
the final usage. So this decoder is lenient: at EOF it dispatches a pending event that has
data, provided its lines were complete. A final line with no line end at all is discarded,
because it may have been cut in the middle by a dropped connection.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["SSEDecoder", "ServerSentEvent"]

_BOM = b"\xef\xbb\xbf"
_HTTP_STATUS_PREFIX = "HTTP_STATUS/"
# One whole event in the framing the service itself sends: DashScope's
# `id:N` / `event:T` / `:HTTP_STATUS/NNN` / `data:{...}` or the compatible mode's `data: {...}`,
# each ended by a blank line. Such events are cut out with one C-level match instead of a Python
# loop over their lines; anything else (several data lines, retry, other orders) takes the
# general line loop, which gives the same events.
_SERVICE_EVENT = re.compile(
    r"(?:id: ?([^\n\0]*)\nevent: ?([^\n]*)\n:([^\n]*)\n)?data: ?([^\n]*)\n\n"
).match


class ServerSentEvent:
    """One dispatched event."""

    __slots__ = ("comments", "data", "event", "id", "retry")

    def __init__(
        self,
        data: str,
        event: str = "message",
        id: str | None = None,
        retry: int | None = None,
        comments: tuple[str, ...] = (),
    ) -> None:
        self.data = data
        self.event = event
        self.id = id
        self.retry = retry
        self.comments = comments

    def json(self) -> Any:
        """The data parsed as JSON (raises ``json.JSONDecodeError`` when it is not JSON)."""
        return json.loads(self.data)

    @property
    def http_status(self) -> int | None:
        """The status DashScope puts in a ``:HTTP_STATUS/NNN`` comment, or ``None``."""
        for comment in self.comments:
            text = comment.strip()
            if text.startswith(_HTTP_STATUS_PREFIX):
                digits = text[len(_HTTP_STATUS_PREFIX) :]
                if digits.isascii() and digits.isdigit():
                    return int(digits)
        return None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ServerSentEvent):
            return NotImplemented
        return (
            self.data == other.data
            and self.event == other.event
            and self.id == other.id
            and self.retry == other.retry
            and self.comments == other.comments
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"ServerSentEvent(event={self.event!r}, data={self.data!r}, id={self.id!r}, "
            f"retry={self.retry!r}, comments={self.comments!r})"
        )


class SSEDecoder:
    """Byte-level incremental decoder: ``feed(chunk)`` per read, ``end()`` at EOF."""

    __slots__ = (
        "_bom_done",
        "_buf",
        "_comments",
        "_data",
        "_event",
        "_retry",
        "_skip_lf",
        "last_event_id",
        "retry",
    )

    def __init__(self) -> None:
        self._buf = bytearray()
        self._bom_done = False
        self._skip_lf = False
        self._data: list[str] = []
        self._event = ""
        self._retry: int | None = None
        self._comments: tuple[str, ...] = ()
        #: The last event id set by the server (persists across events), or ``None``.
        self.last_event_id: str | None = None
        #: The last valid ``retry`` value seen (reconnection time in ms), or ``None``.
        self.retry: int | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Decode one read; return the events it completed (often none or one)."""
        if not chunk:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if chunk[0] == 0x0A:
                chunk = chunk[1:]
                if not chunk:
                    return []
        if b"\r" in chunk:
            # Normalise line ends to LF. A trailing CR is a line end now; an LF that starts
            # the next read belongs to it and is dropped then.
            self._skip_lf = chunk[-1] == 0x0D
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        buf = self._buf
        if not buf and self._bom_done and chunk[-1] == 0x0A:
            # The common read: whole lines (often one whole event), nothing pending. Decoding
            # the read itself skips the buffer copies; an LF byte never ends inside a UTF-8
            # character, so this decodes exactly as the buffered path below does.
            text = chunk.decode("utf-8", "replace")
            if not self._data and not self._comments and not self._event and self._retry is None:
                m = _SERVICE_EVENT(text)
                if m is not None and m.end() == len(text):
                    # The commonest read of all: exactly one event in the service's framing.
                    event_id, event_type, comment, data = m.groups()
                    if event_id is None:
                        return [ServerSentEvent(data, "message", self.last_event_id, None, ())]
                    self.last_event_id = event_id
                    return [
                        ServerSentEvent(data, event_type or "message", event_id, None, (comment,))
                    ]
                return self._service_events(text, m)
            lines = text.split("\n")
            lines.pop()
            return self._lines(lines)
        start = len(buf)
        buf += chunk
        if not self._bom_done:
            if len(buf) < 3 and _BOM.startswith(buf):
                return []  # could still be a BOM: wait for more bytes
            self._bom_done = True
            if buf.startswith(_BOM):
                del buf[:3]
            start = 0
        last = buf.rfind(b"\n", start)
        if last < 0:
            return []
        text = buf[:last].decode("utf-8", "replace")
        del buf[: last + 1]
        return self._lines(text.split("\n"))

    def end(self) -> list[ServerSentEvent]:
        """Signal EOF; return a final pending event that has data (see the module doc)."""
        self._buf.clear()
        self._bom_done = True
        self._skip_lf = False
        return self._lines(("",))

    def _service_events(self, text: str, m: re.Match[str] | None) -> list[ServerSentEvent]:
        """Whole lines with no event pending: match events in the service's framing one after
        another (`m`: the match at the start, already made); the rest of the text, if any,
        goes through the general line loop."""
        events: list[ServerSentEvent] = []
        match = _SERVICE_EVENT
        pos = 0
        end = len(text)
        while pos < end:
            if pos:
                m = match(text, pos)
            if m is None:
                lines = text[pos:].split("\n")
                lines.pop()
                events += self._lines(lines)
                break
            event_id, event_type, comment, data = m.groups()
            if event_id is None:
                events.append(ServerSentEvent(data, "message", self.last_event_id, None, ()))
            else:
                self.last_event_id = event_id
                events.append(
                    ServerSentEvent(data, event_type or "message", event_id, None, (comment,))
                )
            pos = m.end()
        return events

    def _lines(self, lines: Any) -> list[ServerSentEvent]:
        # Hot path: pending fields live in locals during the loop and are stored back after.
        events: list[ServerSentEvent] = []
        data = self._data
        comments = self._comments
        event_type = self._event
        retry = self._retry
        for line in lines:
            if not line:
                if data:
                    events.append(
                        ServerSentEvent(
                            data[0] if len(data) == 1 else "\n".join(data),
                            event_type or "message",
                            self.last_event_id,
                            retry,
                            comments,
                        )
                    )
                    data.clear()
                event_type = ""
                retry = None
                comments = ()
                continue
            # One partition per line, the common fields first (data, then the comments
            # DashScope sends, then id and event).
            name, _, value = line.partition(":")
            if value and value[0] == " ":
                value = value[1:]
            if name == "data":
                data.append(value)
            elif not name:
                comments += (line[1:],)
            elif name == "id":
                if "\0" not in value:
                    self.last_event_id = value
            elif name == "event":
                event_type = value
            elif name == "retry" and value.isascii() and value.isdigit():
                retry = self.retry = int(value)
        self._comments = comments
        self._event = event_type
        self._retry = retry
        return events
