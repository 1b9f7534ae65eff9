"""Email: alerts, digests, account notices and verification links as plain-text-and-HTML
messages (rendered by :mod:`services.dispatch.rendering.email`; alert and digest emails carry
RFC 8058 one-click unsubscribe headers), handed to one SMTP server (a relay) with aiosmtplib.

Connections. Alerts share one pool of connections per process: opened when a send finds none
idle, reused by the sends that follow, across chunks; a connection idle longer than
``POOL_IDLE_S`` is closed with QUIT when the pool is next used, before the server times it out.
At most ``send_concurrency`` sends run at once in the whole process (one semaphore), so the pool
never holds more connections than that. If a reused connection turns out to be closed by the
server (some relays end a session after N messages with 421, or drop idle ones), the email is
tried once more on a fresh one. A single transactional email (a verification) uses a connection
of its own.

Classifying failures. A 5xx reply to the message (sender, recipient or content refused) is
permanent. A 4xx reply, a connection refused or lost, a failed EHLO, STARTTLS or login, and a
timeout are temporary: the server could not be used just then.

Time. One email's whole hand-over is bounded by ``smtp_timeout_s``, and a call to
:meth:`EmailChannel.send_alert` starts no new send after its budget (``send_budget_s``): the
delivery worker's sweeper takes back deliveries left ``sending`` after ``sending_timeout_s``,
which the settings keep above the budget plus one hand-over, so a slow chunk is never sent twice.

Rate. With ``email_rate_per_s`` set, each send first takes a token from the process's bucket.
"""

from __future__ import annotations

import asyncio
import re
import socket
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import Policy
from email.utils import format_datetime, parseaddr

import aiosmtplib

from services.dispatch.channels.base import Recipient, SendingChannel, SendOne, SendResult
from services.dispatch.channels.ratelimit import TokenBucket
from services.dispatch.channels.stamping import AlertEmailTemplate, PersonalParts, message_date
from services.dispatch.config import DispatchSettings
from services.dispatch.models import ChannelKind
from services.dispatch.preferences.tokens import (
    UnsubscribeLinks,
    UnsubscribeScope,
    UnsubscribeTokens,
)
from services.dispatch.rendering.email import (
    RenderedEmail,
    UnsubscribeUrls,
    alert_email,
    one_line,
    password_reset_email,
    verification_email,
)
from shared.db import utcnow
from shared.events import AlertContent, PasswordResetRequested, VerificationEmailRequested
from shared.logs import get_logger

log = get_logger(__name__)

SEND_BUDGET_S = 30.0
QUIT_TIMEOUT_S = 2.0
# Well under the 5 minutes RFC 5321 lets a server wait for the next command.
POOL_IDLE_S = 30.0
# Alert templates a process keeps (per alert and language); a chunk usually needs one.
TEMPLATE_CACHE_MAX = 64

# --- messages ------------------------------------------------------------------------------


def _new_message(
    *, email_from: str, to: str, subject: str, message_id: str, date: str | None = None
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = email_from
    message["To"] = to
    message["Subject"] = one_line(subject)
    message["Date"] = date if date is not None else format_datetime(utcnow())
    message["Message-ID"] = message_id
    # RFC 3834: machine-sent, so auto-responders stay quiet; and the same for Exchange.
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    return message


class _OneLineHeader(str):
    """A header written exactly as given, on one line. The email package folds a long
    unstructured header by RFC 2047-encoding it, which would hide the URL in
    ``List-Unsubscribe`` from mail software; RFC 5322 allows lines of up to 998 characters,
    and an unsubscribe link (a base URL of at most 200 plus a token) stays well under that."""

    name: str

    def __new__(cls, name: str, value: str) -> _OneLineHeader:
        header = super().__new__(cls, value)
        header.name = name
        return header

    def fold(self, *, policy: Policy) -> str:
        return f"{self.name}: {self}{policy.linesep}"


def _add_one_click_unsubscribe(message: EmailMessage, url: str) -> None:
    message.set_raw("List-Unsubscribe", _OneLineHeader("List-Unsubscribe", f"<{url}>"))
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"


def _add_body(
    message: EmailMessage,
    rendered: RenderedEmail,
    parts: Sequence[tuple[str, str]] | None = None,
) -> None:
    """The plain-text part and its HTML alternative; or, for a stamping template, the given
    placeholder payloads with the transfer encodings the real parts will have."""
    if parts is None:
        message.set_content(rendered.text)
        message.add_alternative(rendered.html, subtype="html")
        return
    (text_mark, text_cte), (html_mark, html_cte) = parts
    message.set_content(text_mark, cte=text_cte)
    message.add_alternative(html_mark, subtype="html", cte=html_cte)


# --- sending --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    starttls: bool
    timeout_s: float
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: DispatchSettings) -> SmtpServer:
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            starttls=settings.smtp_starttls,
            timeout_s=settings.smtp_timeout_s,
            username=settings.smtp_username,
            password=settings.smtp_password_value,
        )


# Replies to RCPT TO that mean the mailbox does not exist (RFC 5321 4.2.3): not worth another try.
NO_SUCH_MAILBOX_CODES = frozenset({550, 551, 553})
_ENHANCED_STATUS = re.compile(r"5\.\d{1,3}\.\d{1,3}")


def _no_such_mailbox(code: int, message: str) -> bool:
    """550 is also used for policy refusals ("550 5.7.1 relaying denied"): with an enhanced
    status code (RFC 3463), only 5.1.x (bad mailbox or domain) says the address is wrong."""
    if code not in NO_SUCH_MAILBOX_CODES:
        return False
    first_word = message.split(maxsplit=1)[0] if message.strip() else ""
    if _ENHANCED_STATUS.fullmatch(first_word):
        return first_word.startswith("5.1.")
    return True


def _by_reply_code(code: int, message: str, *, to_recipient: bool = False) -> SendResult:
    detail = f"{code} {message}"
    if 500 <= code <= 599:
        return SendResult.rejected(
            detail, address_invalid=to_recipient and _no_such_mailbox(code, message)
        )
    return SendResult.deferred(detail)


def _describe(error: BaseException) -> str:
    return str(error) or type(error).__name__


@dataclass(frozen=True)
class StampedEmail:
    """An alert email stamped from its template when handed over; built whole (``build``)
    for a server whose flattening would differ (no 8BITMIME)."""

    template: AlertEmailTemplate
    parts: PersonalParts
    build: Callable[[], EmailMessage]


async def _hand_over(
    client: aiosmtplib.SMTP, message: EmailMessage | StampedEmail, sender: str, recipient: str
) -> tuple[dict[str, aiosmtplib.SMTPResponse], str]:
    if isinstance(message, EmailMessage):
        return await client.send_message(message, sender=sender, recipients=[recipient])
    if client.is_ehlo_or_helo_needed:
        await client.ehlo()
    if not client.supports_extension("8BITMIME"):
        return await client.send_message(message.build(), sender=sender, recipients=[recipient])
    # What send_message does for an ASCII address and an 8BITMIME server, minus the building.
    return await client.sendmail(
        sender, [recipient], message.template.stamp(message.parts), mail_options=["BODY=8BITMIME"]
    )


# Tasks that QUIT stale connections: referenced until done, so none is collected mid-way.
_BACKGROUND: set[asyncio.Task[None]] = set()


class _Connections:
    """The SMTP connections of one batch: opened when needed, reused, closed at the end.

    Used by concurrent sends in one event loop: a connection is either idle here or held by
    exactly one send."""

    def __init__(self, server: SmtpServer, local_hostname: str) -> None:
        self._server = server
        self._local_hostname = local_hostname
        # Idle connections with the loop time each was last released, most recent last.
        self._idle: list[tuple[aiosmtplib.SMTP, float]] = []

    async def send(
        self, message: EmailMessage | StampedEmail, *, sender: str, recipient: str
    ) -> SendResult:
        try:
            async with asyncio.timeout(self._server.timeout_s):
                return await self._send(message, sender, recipient)
        except TimeoutError:
            return SendResult.deferred(f"no answer within {self._server.timeout_s:g} s")

    async def _send(
        self, message: EmailMessage | StampedEmail, sender: str, recipient: str
    ) -> SendResult:
        while True:
            self._close_stale()
            reused = bool(self._idle)
            if reused:
                client, _released_at = self._idle.pop()
            else:
                try:
                    client = await self._connect()
                except (aiosmtplib.SMTPException, OSError) as error:
                    return SendResult.deferred(
                        f"cannot use the SMTP server: {_describe(error)}", provider_error=True
                    )
            try:
                _errors, reply = await _hand_over(client, message, sender, recipient)
            except aiosmtplib.SMTPRecipientsRefused as error:
                refused = error.recipients[0]
                result = _by_reply_code(refused.code, refused.message, to_recipient=True)
            except aiosmtplib.SMTPResponseException as error:
                if reused and error.code == 421:
                    client.close()
                    continue  # the server ended a session we reused; nothing was accepted
                result = _by_reply_code(error.code, error.message)
            except aiosmtplib.SMTPServerDisconnected as error:
                client.close()
                if reused:
                    continue  # closed while idle or after its per-session limit
                return SendResult.deferred(f"connection lost: {_describe(error)}")
            except (aiosmtplib.SMTPNotSupported, ValueError) as error:
                # An address this server cannot take (say, non-ASCII without SMTPUTF8).
                result = SendResult.rejected(_describe(error))
            except (aiosmtplib.SMTPException, OSError) as error:
                # A read timeout, a broken transport: the session can't be trusted any more.
                client.close()
                return SendResult.deferred(_describe(error))
            except BaseException:
                # A timeout or cancellation mid-command leaves the session unusable.
                client.close()
                raise
            else:
                result = SendResult.accepted(reply)
            self._release(client)
            return result

    async def _connect(self) -> aiosmtplib.SMTP:
        server = self._server
        client = aiosmtplib.SMTP(
            hostname=server.host,
            port=server.port,
            username=server.username,
            password=server.password,
            start_tls=server.starttls,
            timeout=server.timeout_s,
            local_hostname=self._local_hostname,
        )
        try:
            await client.connect()
        except BaseException:
            client.close()
            raise
        return client

    def _release(self, client: aiosmtplib.SMTP) -> None:
        if client.is_connected:
            self._idle.append((client, asyncio.get_running_loop().time()))
        else:
            client.close()

    def _close_stale(self) -> None:
        if not self._idle:
            return
        oldest_kept = asyncio.get_running_loop().time() - POOL_IDLE_S
        stale = [client for client, released_at in self._idle if released_at < oldest_kept]
        if stale:
            self._idle = [(c, at) for c, at in self._idle if at >= oldest_kept]
            for client in stale:
                # Saying goodbye must not hold up the send that found them.
                task = asyncio.create_task(self._quit(client))
                _BACKGROUND.add(task)
                task.add_done_callback(_BACKGROUND.discard)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        await asyncio.gather(*(self._quit(client) for client, _at in idle))

    @staticmethod
    async def _quit(client: aiosmtplib.SMTP) -> None:
        try:
            async with asyncio.timeout(QUIT_TIMEOUT_S):
                await client.quit()
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            pass  # every message on it has its answer; an unfriendly goodbye changes nothing
        finally:
            client.close()


class EmailChannel(SendingChannel):
    """The email channel; also sends the platform's own transactional emails."""

    kind = ChannelKind.EMAIL

    def __init__(
        self,
        server: SmtpServer,
        *,
        email_from: str,
        concurrency: int,
        send_budget_s: float = SEND_BUDGET_S,
        rate_limit: TokenBucket | None = None,
        unsubscribe: UnsubscribeLinks | None = None,
    ) -> None:
        super().__init__(
            concurrency=concurrency, send_budget_s=send_budget_s, rate_limit=rate_limit
        )
        self._server = server
        self._unsubscribe = unsubscribe
        self._email_from = email_from
        self.sender_address = parseaddr(email_from)[1]
        self._message_id_domain = self.sender_address.rpartition("@")[2]
        self._pool: _Connections | None = None
        self._local_hostname: str | None = None
        self._templates: dict[tuple[uuid.UUID, str], AlertEmailTemplate | None] = {}

    @classmethod
    def from_settings(cls, settings: DispatchSettings) -> EmailChannel:
        return cls(
            SmtpServer.from_settings(settings),
            email_from=settings.email_from,
            concurrency=settings.send_concurrency,
            send_budget_s=settings.send_budget_s,
            rate_limit=(
                TokenBucket(settings.email_rate_per_s, settings.email_rate_burst)
                if settings.email_rate_per_s > 0
                else None
            ),
            unsubscribe=UnsubscribeLinks(
                settings.public_base_url, UnsubscribeTokens(settings.unsubscribe_key_value)
            ),
        )

    def _unsubscribe_urls(
        self, content: AlertContent, member_id: uuid.UUID
    ) -> UnsubscribeUrls | None:
        if self._unsubscribe is None:
            return None
        return UnsubscribeUrls(
            category=self._unsubscribe.url(UnsubscribeScope(member_id, content.category)),
            everything=self._unsubscribe.url(UnsubscribeScope(member_id)),
        )

    def alert_message(self, content: AlertContent, recipient: Recipient) -> EmailMessage:
        """The whole message built for one recipient: the reference that stamped messages
        equal byte for byte, and the way for those a template cannot stamp."""
        unsubscribe = self._unsubscribe_urls(content, recipient.member_id)
        return self._alert_message(
            content,
            alert_email(content, unsubscribe=unsubscribe),
            to=recipient.address,
            # One id per delivery: a resend after a crash carries the same one, so mail
            # software that removes duplicates by Message-ID can.
            message_id=f"<{recipient.delivery_id}@{self._message_id_domain}>",
            all_url=unsubscribe.everything if unsubscribe else None,
        )

    def _alert_message(
        self,
        content: AlertContent,
        rendered: RenderedEmail,
        *,
        to: str,
        message_id: str,
        all_url: str | None,
        date: str | None = None,
        parts: Sequence[tuple[str, str]] | None = None,
    ) -> EmailMessage:
        message = _new_message(
            email_from=self._email_from,
            to=to,
            subject=rendered.subject,
            message_id=message_id,
            date=date,
        )
        message["X-Tawny-Alert-Id"] = str(content.alert_id)
        if all_url is not None:
            # RFC 8058: mail software offers its own "unsubscribe" button, which POSTs to this
            # link without the member signing in. It stops all alerts; the footer also offers
            # stopping only this alert's category.
            _add_one_click_unsubscribe(message, all_url)
        _add_body(message, rendered, parts)
        return message

    def alert_template(self, content: AlertContent) -> AlertEmailTemplate | None:
        """The alert's email rendered once, to be stamped per recipient; None when this
        alert's messages must be built one by one (see :mod:`stamping`). Kept for the few
        alerts (and languages) being sent at a time."""
        if self._unsubscribe is None:
            return None
        key = (content.alert_id, content.language)
        if key not in self._templates:
            if len(self._templates) >= TEMPLATE_CACHE_MAX:
                self._templates.clear()
            sample = self._unsubscribe_urls(content, uuid.UUID(int=0))
            assert sample is not None

            def render(category_url: str, all_url: str) -> RenderedEmail:
                return alert_email(
                    content, unsubscribe=UnsubscribeUrls(category=category_url, everything=all_url)
                )

            def new_message(
                *,
                to: str,
                message_id: str,
                date: str,
                rendered: RenderedEmail,
                all_url: str,
                parts: Sequence[tuple[str, str]],
            ) -> EmailMessage:
                return self._alert_message(
                    content,
                    rendered,
                    to=to,
                    message_id=message_id,
                    all_url=all_url,
                    date=date,
                    parts=parts,
                )

            self._templates[key] = AlertEmailTemplate.build(
                render=render,
                new_message=new_message,
                link_lengths=(len(sample.category), len(sample.everything)),
                message_id_domain=self._message_id_domain,
            )
        return self._templates[key]

    def personal_parts(
        self, content: AlertContent, recipient: Recipient, *, date: str
    ) -> PersonalParts | None:
        unsubscribe = self._unsubscribe_urls(content, recipient.member_id)
        if unsubscribe is None:
            return None
        return PersonalParts(
            to=recipient.address,
            delivery_id=recipient.delivery_id,
            date=date,
            unsubscribe_category_url=unsubscribe.category,
            unsubscribe_all_url=unsubscribe.everything,
        )

    def digest_message(
        self, rendered: RenderedEmail, *, member_id: uuid.UUID, to: str, digest_id: uuid.UUID
    ) -> EmailMessage:
        message = _new_message(
            email_from=self._email_from,
            to=to,
            subject=rendered.subject,
            message_id=f"<digest-{digest_id}@{self._message_id_domain}>",
        )
        if self._unsubscribe is not None:
            _add_one_click_unsubscribe(message, self._unsubscribe.url(UnsubscribeScope(member_id)))
        _add_body(message, rendered)
        return message

    def unsubscribe_all_url(self, member_id: uuid.UUID) -> str:
        """The member's link to stop every alert (the digest carries it)."""
        if self._unsubscribe is None:
            raise RuntimeError("this channel was built without unsubscribe links")
        return self._unsubscribe.url(UnsubscribeScope(member_id))

    def notice_message(
        self, rendered: RenderedEmail, *, to: str, notice_id: uuid.UUID
    ) -> EmailMessage:
        message = _new_message(
            email_from=self._email_from,
            to=to,
            subject=rendered.subject,
            message_id=f"<notice-{notice_id}@{self._message_id_domain}>",
        )
        _add_body(message, rendered)
        return message

    def verification_message(
        self, payload: VerificationEmailRequested, *, event_id: uuid.UUID
    ) -> EmailMessage:
        rendered = verification_email(payload)
        message = _new_message(
            email_from=self._email_from,
            to=payload.email,
            subject=rendered.subject,
            message_id=f"<verify-{event_id}@{self._message_id_domain}>",
        )
        _add_body(message, rendered)
        return message

    def password_reset_message(
        self, payload: PasswordResetRequested, *, event_id: uuid.UUID
    ) -> EmailMessage:
        rendered = password_reset_email(payload)
        message = _new_message(
            email_from=self._email_from,
            to=payload.email,
            subject=rendered.subject,
            message_id=f"<reset-{event_id}@{self._message_id_domain}>",
        )
        _add_body(message, rendered)
        return message

    async def prepare(self, content: AlertContent, deadline: float) -> SendOne:
        if self._pool is None:
            self._pool = _Connections(self._server, await self._ehlo_hostname())
        connections = self._pool
        template = self.alert_template(content)

        def outgoing(recipient: Recipient) -> EmailMessage | StampedEmail:
            if template is not None:
                parts = self.personal_parts(content, recipient, date=message_date())
                if parts is not None and template.accepts(parts):
                    return StampedEmail(
                        template, parts, lambda: self.alert_message(content, recipient)
                    )
            return self.alert_message(content, recipient)

        async def send_one(recipient: Recipient) -> SendResult:
            try:
                message = outgoing(recipient)
            except ValueError as error:
                return SendResult.rejected(f"cannot address this message: {error}")
            return await connections.send(
                message, sender=self.sender_address, recipient=recipient.address
            )

        return send_one

    async def send_email(self, message: EmailMessage, *, to: str) -> SendResult:
        """One message on its own connection (a transactional email such as a verification)."""
        connections = _Connections(self._server, await self._ehlo_hostname())
        try:
            async with self._slots:
                if self._rate_limit is not None:
                    await self._rate_limit.acquire()
                return await connections.send(message, sender=self.sender_address, recipient=to)
        finally:
            await connections.close()

    async def close(self) -> None:
        """QUIT the pool's idle connections (at shutdown)."""
        if self._pool is not None:
            await self._pool.close()

    async def _ehlo_hostname(self) -> str:
        # aiosmtplib would look the name up on every connect, in a thread; once is enough.
        if self._local_hostname is None:
            self._local_hostname = await asyncio.to_thread(socket.getfqdn)
        return self._local_hostname
