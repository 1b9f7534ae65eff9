"""A local SMTP server that keeps every message it accepts, and a small HTTP API to read them.

    python -m deploy.sinks.smtp --host 127.0.0.1 --smtp-port 1025 --http-port 8025

The dev stack runs it as a process so that every email the platform sends can be read at
``GET /messages?to=ADDRESS``; it stops cleanly on SIGTERM or SIGINT. Tests run :class:`SmtpSink`
inside their own event loop instead (``smtp_port=0`` picks a free port) and read ``.messages``.

Messages are parsed with the standard library's ``email`` package (``policy.default``), so
encoded headers such as a non-ASCII subject come back decoded. Only the newest ``max_messages``
are kept, in memory, oldest first. Nothing is relayed anywhere.

``--headers-only`` (``SmtpSink(headers_only=True)``) is for throughput runs: parsing costs the
sink 4 to 5 ms a message, more than a sender spends making it, so a benchmark would measure the
sink. In this mode each message keeps only its header lines as received (not decoded; the
subject as written, text empty, no HTML), and :attr:`SmtpSink.received` counts every message.

Faults, to exercise a sender's error handling, for one recipient address or for all, forever
or for the next N messages to it (``times``), set with :meth:`SmtpSink.add_fault` or over HTTP
(``POST /faults``, ``GET /faults``, ``DELETE /faults``):

- ``reply``: answer ``RCPT TO`` with this 4xx or 5xx reply (``550`` permanent, ``451`` temporary);
- ``delay_s``: wait this long before answering the message's data (a slow server);
- ``drop_connection``: close the connection at ``RCPT TO`` without a reply.

:meth:`SmtpSink.reject` is the shorthand for a reply to one address, forever.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import socket
import uuid
import weakref
from collections.abc import Iterator, Sequence
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Annotated, Any

import uvicorn
from aiosmtpd.smtp import SMTP
from fastapi import FastAPI, Query, Response
from pydantic import BaseModel, Field, field_validator

from deploy.sinks import AFTER_DESCRIPTION, ReceivedLog
from deploy.sinks.running import FaultBook, run_sink
from shared.db import utcnow
from shared.logs import get_logger

log = get_logger(__name__)

DEFAULT_MAX_MESSAGES = 10_000
# Larger than any email Tawny sends; a bigger one is refused with 552 rather than kept in memory.
MAX_MESSAGE_BYTES = 5 * 1024 * 1024
ADDRESS_MAX_LENGTH = 320
SINK_HOSTNAME = "tawny-smtp-sink"


class ReceivedMessage(BaseModel):
    """One message as the sink received it: the SMTP envelope and the parsed content."""

    id: str = Field(description="The sink's own id for the message")
    mail_from: str = Field(description="The envelope sender (MAIL FROM)")
    rcpt_tos: list[str] = Field(description="The envelope recipients the sink accepted (RCPT TO)")
    subject: str = Field(description="The decoded Subject header; empty if there was none")
    text: str = Field(description="The text/plain body; empty if there was none")
    html: str | None = Field(description="The text/html body, if the message had one")
    headers: dict[str, str] = Field(
        description="Decoded headers; a header that appears more than once has its values "
        "joined by newlines"
    )
    peer: str = Field(description="The client's address and port: one value per SMTP connection")
    received_at: datetime


def parse_message(
    content: bytes, *, mail_from: str, rcpt_tos: Sequence[str], peer: str
) -> ReceivedMessage:
    # SMTP carries CRLF line endings; readers of the sink want the text as it was written.
    normalised = content.replace(b"\r\n", b"\n")
    message = BytesParser(_class=EmailMessage, policy=policy.default).parsebytes(normalised)
    headers: dict[str, str] = {}
    for name, value in message.items():
        headers[name] = f"{headers[name]}\n{value}" if name in headers else str(value)
    text_part = message.get_body(preferencelist=("plain",))
    html_part = message.get_body(preferencelist=("html",))
    return ReceivedMessage(
        id=uuid.uuid4().hex,
        mail_from=mail_from,
        rcpt_tos=list(rcpt_tos),
        subject=str(message.get("subject", "")),
        text=_content_of(text_part) if text_part is not None else "",
        html=_content_of(html_part) if html_part is not None else None,
        headers=headers,
        peer=peer,
        received_at=utcnow(),
    )


def headers_of(
    content: bytes, *, mail_from: str, rcpt_tos: Sequence[str], peer: str
) -> ReceivedMessage:
    """The message with only its header block read, as written (the light mode)."""
    head = content.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    headers: dict[str, str] = {}
    name = ""
    for line in head.split("\r\n"):
        if line[:1] in (" ", "\t") and name:
            headers[name] += line  # a folded header's next line
            continue
        name, _colon, value = line.partition(":")
        value = value.strip()
        headers[name] = f"{headers[name]}\n{value}" if name in headers else value
    return ReceivedMessage(
        id=uuid.uuid4().hex,
        mail_from=mail_from,
        rcpt_tos=list(rcpt_tos),
        subject=headers.get("Subject", ""),
        text="",
        html=None,
        headers=headers,
        peer=peer,
        received_at=utcnow(),
    )


def _content_of(part: Any) -> str:
    """A text part's decoded content, or its bytes read as UTF-8 if its charset is unusable."""
    try:
        return str(part.get_content())
    except (LookupError, UnicodeDecodeError):
        payload = part.get_payload(decode=True) or b""
        return bytes(payload).decode("utf-8", errors="replace")


class MessageStore:
    """The newest ``max_messages`` messages, oldest first. Used from one event loop only."""

    def __init__(self, max_messages: int = DEFAULT_MAX_MESSAGES) -> None:
        if max_messages < 1:
            raise ValueError("max_messages must be at least 1")
        self._messages: ReceivedLog[ReceivedMessage] = ReceivedLog(max_messages)

    def add(self, message: ReceivedMessage) -> None:
        self._messages.append(message)

    def find(self, *, to: str | None = None, after: int = 0) -> list[ReceivedMessage]:
        found = self._messages.after(after)
        if to is None:
            return found
        wanted = to.strip().lower()
        return [m for m in found if wanted in (r.lower() for r in m.rcpt_tos)]

    def clear(self) -> None:
        self._messages.clear()


MAX_FAULT_DELAY_S = 120.0


def _check_reply(reply: str) -> str:
    if len(reply) < 4 or not reply[:3].isdigit() or reply[0] not in "45" or reply[3] != " ":
        raise ValueError(f"not a 4xx or 5xx SMTP reply: {reply!r}")
    if "\r" in reply or "\n" in reply:
        raise ValueError("an SMTP reply must be one line")
    return reply


class Fault(BaseModel):
    """Misbehave for one recipient (or every one) — for the next ``times`` messages, or until
    the faults are cleared."""

    model_config = {
        "json_schema_extra": {
            "examples": [
                {"address": "slow@example.org", "reply": "451 4.7.1 Try again later", "times": 3},
                {"delay_s": 0.05},
                {"address": "gone@example.org", "reply": "550 5.1.1 No such mailbox"},
            ]
        }
    }

    address: str | None = Field(
        default=None,
        max_length=ADDRESS_MAX_LENGTH,
        description="The envelope recipient it applies to (any letter case); unset: every one",
    )
    reply: str | None = Field(
        default=None,
        max_length=200,
        description="Answer RCPT TO with this 4xx or 5xx reply, e.g. '451 4.7.1 Try again later'",
    )
    delay_s: float = Field(
        default=0.0,
        ge=0,
        le=MAX_FAULT_DELAY_S,
        description="Wait this long before answering the message's data",
    )
    drop_connection: bool = Field(
        default=False, description="Close the connection at RCPT TO, without a reply"
    )
    times: int | None = Field(
        default=None, ge=1, le=1_000_000, description="Apply to the next N messages only"
    )

    @field_validator("reply")
    @classmethod
    def _is_an_error_reply(cls, reply: str | None) -> str | None:
        return None if reply is None else _check_reply(reply)


class SmtpFaultBook(FaultBook[Fault]):
    """The faults in force; an address's own (in any letter case) come before those for
    everyone."""

    def __init__(self) -> None:
        super().__init__(lambda fault: fault.address, normalise=str.lower)


class _SinkHandler:
    """aiosmtpd's hooks: misbehave as the faults say, keep everything else."""

    def __init__(self, store: MessageStore, faults: SmtpFaultBook, *, headers_only: bool) -> None:
        self._store = store
        self._faults = faults
        self._read = headers_of if headers_only else parse_message
        self.received = 0

    async def handle_RCPT(  # noqa: N802 (aiosmtpd finds its hooks by these names)
        self, server: SMTP, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        fault = self._faults.take(address)
        if fault is not None:
            if fault.drop_connection:
                if server.transport is not None:
                    server.transport.close()
                return "421 4.4.2 Connection dropped"
            if fault.reply is not None:
                return fault.reply
            if fault.delay_s:
                envelope.tawny_delay_s = max(getattr(envelope, "tawny_delay_s", 0.0), fault.delay_s)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(  # noqa: N802
        self, server: SMTP, session: Any, envelope: Any
    ) -> str:
        delay_s = getattr(envelope, "tawny_delay_s", 0.0)
        if delay_s:
            await asyncio.sleep(delay_s)
        peer = session.peer
        self.received += 1
        message = self._read(
            envelope.original_content or b"",
            mail_from=envelope.mail_from or "",
            rcpt_tos=envelope.rcpt_tos,
            peer=f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer),
        )
        self._store.add(message)
        log.info(
            "smtp_sink.message_received",
            message_id=message.id,
            recipients=len(message.rcpt_tos),
            size=len(envelope.original_content or b""),
        )
        return "250 2.0.0 Message accepted"


def create_http_app(store: MessageStore, faults: SmtpFaultBook | None = None) -> FastAPI:
    faults = faults or SmtpFaultBook()
    app = FastAPI(
        title="Tawny SMTP sink",
        description="Every email the platform sent, as the local SMTP sink received it.",
        version="0.1.0",
    )

    @app.get("/messages", summary="Messages received, oldest first")
    async def list_messages(
        to: Annotated[
            str | None,
            Query(
                max_length=ADDRESS_MAX_LENGTH,
                description="Only messages with this envelope recipient (any letter case)",
                examples=["resident@demo.tawny.london"],
            ),
        ] = None,
        after: Annotated[int, Query(ge=0, description=AFTER_DESCRIPTION)] = 0,
    ) -> list[ReceivedMessage]:
        return store.find(to=to, after=after)

    @app.delete("/messages", status_code=204, summary="Forget every message received")
    async def clear_messages() -> Response:
        store.clear()
        return Response(status_code=204)

    @app.post("/faults", status_code=201, summary="Misbehave for one recipient, or all")
    async def add_fault(fault: Fault) -> Fault:
        faults.add(fault)
        return fault

    @app.get("/faults", summary="The faults in force, in the order they were added")
    async def list_faults() -> list[Fault]:
        return faults.listed()

    @app.delete("/faults", status_code=204, summary="Behave again: clear every fault")
    async def clear_faults() -> Response:
        faults.clear()
        return Response(status_code=204)

    @app.get("/healthz", summary="Liveness: the sink is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


class _EmbeddedUvicorn(uvicorn.Server):
    """uvicorn without its own signal handlers: whoever runs the sink decides when it stops."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


class SmtpSink:
    """The SMTP server, and optionally the HTTP API, on the running event loop.

    ``smtp_port=0`` (and ``http_port=0``) bind a free port; read the port chosen from
    :attr:`smtp_port` after :meth:`start`. ``http_port=None`` runs no HTTP API.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        smtp_port: int = 0,
        http_port: int | None = None,
        max_messages: int = DEFAULT_MAX_MESSAGES,
        headers_only: bool = False,
    ) -> None:
        self.host = host
        self.smtp_port = smtp_port
        self.http_port = http_port
        self.store = MessageStore(max_messages)
        self.faults = SmtpFaultBook()
        self.app = create_http_app(self.store, self.faults)
        self._handler = _SinkHandler(self.store, self.faults, headers_only=headers_only)
        self._smtp_server: asyncio.Server | None = None
        self._connections: weakref.WeakSet[SMTP] = weakref.WeakSet()
        self._http_server: _EmbeddedUvicorn | None = None
        self._http_task: asyncio.Task[None] | None = None

    @property
    def messages(self) -> list[ReceivedMessage]:
        return self.store.find()

    @property
    def received(self) -> int:
        """Every message accepted since the start (the store keeps only the newest)."""
        return self._handler.received

    def messages_to(self, address: str) -> list[ReceivedMessage]:
        return self.store.find(to=address)

    def reject(self, address: str, reply: str = "550 5.1.1 Mailbox unavailable") -> None:
        """Answer ``RCPT TO:<address>`` with ``reply`` (a 4xx or 5xx SMTP reply) from now on."""
        self.add_fault(Fault(address=address, reply=_check_reply(reply)))

    def add_fault(self, fault: Fault) -> None:
        self.faults.add(fault)

    def clear_faults(self) -> None:
        self.faults.clear()

    async def start(self) -> None:
        # The HTTP API first: once the SMTP port accepts, as the dev stack waits for, both work.
        if self.http_port is not None:
            await self._start_http(self.http_port)
        loop = asyncio.get_running_loop()

        def new_connection() -> SMTP:
            smtp = SMTP(
                self._handler,
                hostname=SINK_HOSTNAME,
                enable_SMTPUTF8=True,
                data_size_limit=MAX_MESSAGE_BYTES,
                loop=loop,
            )
            self._connections.add(smtp)
            return smtp

        self._smtp_server = await loop.create_server(new_connection, self.host, self.smtp_port)
        self.smtp_port = self._smtp_server.sockets[0].getsockname()[1]
        log.info(
            "smtp_sink.started", host=self.host, smtp_port=self.smtp_port, http_port=self.http_port
        )

    async def _start_http(self, port: int) -> None:
        sock = _listening_socket(self.host, port)
        config = uvicorn.Config(
            self.app, log_config=None, access_log=False, lifespan="off", timeout_graceful_shutdown=2
        )
        server = _EmbeddedUvicorn(config)
        task = asyncio.create_task(server.serve(sockets=[sock]), name="smtp-sink-http")
        while not server.started:
            if task.done():
                sock.close()
                task.result()
                raise RuntimeError("the sink's HTTP server stopped before it started")
            await asyncio.sleep(0.01)
        self.http_port = sock.getsockname()[1]
        self._http_server, self._http_task = server, task

    async def stop(self) -> None:
        if self._smtp_server is not None:
            self._smtp_server.close()
            # Clients may keep connections open; wait_closed would wait for them (3.12+).
            for connection in list(self._connections):
                transport = connection.transport
                if transport is not None:
                    transport.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._smtp_server.wait_closed(), timeout=5)
            self._smtp_server = None
        if self._http_server is not None and self._http_task is not None:
            self._http_server.should_exit = True
            await self._http_task
            self._http_server = self._http_task = None
        log.info("smtp_sink.stopped")

    async def __aenter__(self) -> SmtpSink:
        await self.start()
        return self

    async def __aexit__(self, *_exc_info: object) -> None:
        await self.stop()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="A local SMTP server that keeps what it receives, readable over HTTP."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--smtp-port", type=int, default=1025, help="SMTP port (0: any free)")
    parser.add_argument("--http-port", type=int, default=8025, help="HTTP API port (0: any free)")
    parser.add_argument(
        "--max-messages",
        type=int,
        default=DEFAULT_MAX_MESSAGES,
        help="how many of the newest messages to keep",
    )
    parser.add_argument(
        "--headers-only",
        action="store_true",
        help="keep only each message's header lines, unparsed (for throughput runs)",
    )
    args = parser.parse_args(argv)

    def build() -> SmtpSink:
        # aiosmtpd logs every SMTP command at INFO; the sink logs one line per message instead.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        return SmtpSink(
            host=args.host,
            smtp_port=args.smtp_port,
            http_port=args.http_port,
            max_messages=args.max_messages,
            headers_only=args.headers_only,
        )

    run_sink("smtp-sink", build)


if __name__ == "__main__":
    main()
