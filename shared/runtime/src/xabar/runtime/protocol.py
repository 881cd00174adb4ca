"""uvicorn's httptools protocol with limits on request headers: 431 before the app runs.

httptools itself takes a header of any length and any number of them, holding each in memory
until it is complete. ``LimitedHttpTools`` answers ``431 Request Header Fields Too Large`` and
closes the connection once the request line and headers together pass ``total_bytes``, one
header line passes ``line_bytes``, or there are more than ``count`` headers. What it buffers is
bounded by ``total_bytes`` plus one read from the socket.
"""

import json
from dataclasses import dataclass
from typing import Any, ClassVar

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol


@dataclass(frozen=True, slots=True)
class HeaderLimits:
    line_bytes: int = 8 * 1024  # one header line (name, colon, value)
    total_bytes: int = 64 * 1024  # the request line and every header
    count: int = 100


LINGER_S = 2.0


class HeadersTooLarge(Exception):
    """Raised inside a parser callback (httptools wraps it); ``data_received`` answers 431."""


def refusal(message: str) -> bytes:
    """The whole 431 response, with the runtime's JSON error body."""
    body = json.dumps({"error": {"code": "headers_too_large", "message": message}}).encode()
    head = (
        STATUS_LINE[431]
        + b"content-type: application/json\r\n"
        + b"content-length: "
        + str(len(body)).encode()
        + b"\r\nconnection: close\r\n\r\n"
    )
    return head + body


class LimitedHttpTools(HttpToolsProtocol):
    limits: ClassVar[HeaderLimits] = HeaderLimits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = False
        self._head_bytes = 0
        self._header_count = 0
        self._header_bytes = 0  # exactly: the URL, and each header's name and value
        self._refused: str | None = None

    def data_received(self, data: bytes) -> None:
        """uvicorn's own, but a request refused for its headers is answered 431 (and logged as
        such, not as an invalid request)."""
        if self._refused is not None:
            return
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self._refused is not None:
                self._refuse(self._refused)
                return
            self.logger.warning("Invalid HTTP request received.")
            self.send_400_response("Invalid HTTP request received.")
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        if self._in_head:  # the headers are still incomplete, so all of this chunk was head
            self._head_bytes += len(data)
            if self._head_bytes > self.limits.total_bytes:
                self._refuse(f"the request headers are over {self.limits.total_bytes} bytes")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_bytes = 0
        self._header_count = 0
        self._header_bytes = 0

    def on_url(self, url: bytes) -> None:
        self._header_bytes += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.limits.count:
            self._refused = f"a request may have at most {self.limits.count} headers"
            raise HeadersTooLarge
        line = len(name) + len(value) + 2
        if line > self.limits.line_bytes:
            self._refused = f"a request header line is over {self.limits.line_bytes} bytes"
            raise HeadersTooLarge
        self._header_bytes += line + 2
        if self._header_bytes > self.limits.total_bytes:
            self._refused = f"the request headers are over {self.limits.total_bytes} bytes"
            raise HeadersTooLarge
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        if self._header_bytes > self.limits.total_bytes:  # a long URL and few headers
            self._refused = f"the request headers are over {self.limits.total_bytes} bytes"
            raise HeadersTooLarge
        super().on_headers_complete()

    def _refuse(self, message: str) -> None:
        """Answer 431 and end the connection. Closing at once, with the client's headers still
        arriving, would reset the connection and lose the answer: so the write side is shut,
        what still comes is read and dropped, and the connection closes ``LINGER_S`` later."""
        self._refused = message
        self.logger.info("request refused: %s", message)
        if self.transport.is_closing():
            return
        self.transport.write(refusal(message))
        if self.transport.can_write_eof():
            self.transport.write_eof()
            self.loop.call_later(LINGER_S, self.transport.close)
        else:
            self.transport.close()


__all__ = ["HeaderLimits", "LimitedHttpTools", "refusal"]
