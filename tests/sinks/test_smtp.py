"""The SMTP sink: real SMTP in (aiosmtplib), real HTTP out, in-process and as a process."""

from __future__ import annotations

import asyncio
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import httpx
import pytest

from deploy.infra import free_port
from deploy.sinks.smtp import Fault, SmtpSink

REPO_ROOT = Path(__file__).resolve().parents[2]


def unique_address() -> str:
    return f"resident-{uuid.uuid4().hex[:10]}@example.org"


def message_to(address: str, *, subject: str = "Hello", html: str | None = None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Tawny alerts <alerts@tawny.london>"
    message["To"] = address
    message["Subject"] = subject
    message.set_content("Lock your shed.\nCall 101 if you saw anything.")
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


async def send(sink: SmtpSink, message: EmailMessage) -> None:
    await aiosmtplib.send(message, hostname="127.0.0.1", port=sink.smtp_port, start_tls=False)


@pytest.fixture
async def sink() -> AsyncIterator[SmtpSink]:
    async with SmtpSink(smtp_port=0, http_port=0) as sink:
        yield sink


@pytest.fixture
async def api(sink: SmtpSink) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{sink.http_port}") as client:
        yield client


class TestSmtpSink:
    async def test_lists_a_received_message_over_http(
        self, sink: SmtpSink, api: httpx.AsyncClient
    ) -> None:
        address = unique_address()
        subject = "Cambriolages à Hackney — soyez vigilants"
        await send(sink, message_to(address, subject=subject, html="<p>Lock your shed.</p>"))
        await send(sink, message_to(unique_address(), subject="Someone else's"))

        response = await api.get("/messages", params={"to": address.upper()})

        assert response.status_code == 200
        [received] = response.json()
        assert received["mail_from"] == "alerts@tawny.london"
        assert received["rcpt_tos"] == [address]
        assert received["subject"] == subject
        assert received["text"] == "Lock your shed.\nCall 101 if you saw anything.\n"
        assert received["html"] == "<p>Lock your shed.</p>\n"
        assert received["headers"]["Subject"] == subject
        assert received["headers"]["From"] == "Tawny alerts <alerts@tawny.london>"
        assert received["id"] and received["received_at"] and received["peer"]

    async def test_lists_newest_last_and_a_text_only_message_has_no_html(
        self, sink: SmtpSink, api: httpx.AsyncClient
    ) -> None:
        address = unique_address()
        await send(sink, message_to(address, subject="first"))
        await send(sink, message_to(address, subject="second"))

        received = (await api.get("/messages", params={"to": address})).json()

        assert [m["subject"] for m in received] == ["first", "second"]
        assert received[0]["html"] is None

    async def test_delete_clears_every_message(
        self, sink: SmtpSink, api: httpx.AsyncClient
    ) -> None:
        await send(sink, message_to(unique_address()))

        deleted = await api.delete("/messages")

        assert deleted.status_code == 204
        assert (await api.get("/messages")).json() == []
        assert sink.messages == []

    async def test_healthz(self, api: httpx.AsyncClient) -> None:
        response = await api.get("/healthz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}

    async def test_rejects_a_chosen_recipient_with_the_given_reply(self, sink: SmtpSink) -> None:
        refused, accepted = unique_address(), unique_address()
        sink.reject(refused, "550 5.1.1 No such mailbox")

        with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as raised:
            await send(sink, message_to(refused))
        await send(sink, message_to(accepted))

        assert raised.value.recipients[0].code == 550
        assert sink.messages_to(refused) == []
        assert len(sink.messages_to(accepted)) == 1

    def test_refuses_a_rejection_that_is_not_an_error_reply(self, sink: SmtpSink) -> None:
        with pytest.raises(ValueError, match="4xx or 5xx"):
            sink.reject(unique_address(), "250 OK")

    async def test_keeps_only_the_newest_messages(self) -> None:
        async with SmtpSink(smtp_port=0, max_messages=2) as sink:
            for subject in ("one", "two", "three"):
                await send(sink, message_to(unique_address(), subject=subject))

            assert [m.subject for m in sink.messages] == ["two", "three"]

    async def test_headers_only_keeps_the_header_lines_and_counts_every_message(self) -> None:
        address = unique_address()
        async with SmtpSink(smtp_port=0, max_messages=1, headers_only=True) as sink:
            await send(sink, message_to(unique_address(), subject="first"))
            await send(sink, message_to(address, subject="Vol à l'étalage", html="<p>x</p>"))

            [kept] = sink.messages
            assert sink.received == 2
            assert kept.rcpt_tos == [address]
            assert kept.headers["To"] == address
            assert kept.headers["Content-Type"].startswith("multipart/alternative;")
            # As written: an encoded subject stays encoded; the bodies are not read.
            assert "=?utf-8?" in kept.subject
            assert kept.text == "" and kept.html is None

    async def test_stops_while_a_client_holds_a_connection_open(self) -> None:
        sink = SmtpSink(smtp_port=0)
        await sink.start()
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=sink.smtp_port, start_tls=False)
        await client.connect()

        await asyncio.wait_for(sink.stop(), timeout=10)

        with pytest.raises(aiosmtplib.SMTPServerDisconnected):
            await client.noop()


async def wait_for_listener(port: int, process: asyncio.subprocess.Process) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while loop.time() < deadline:
        assert process.returncode is None, "the sink exited before listening"
        try:
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise AssertionError(f"nothing listening on port {port}")


class TestSinkProcess:
    async def test_runs_until_sigterm_and_exits_cleanly(self) -> None:
        smtp_port, http_port = free_port(), free_port()
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "deploy.sinks.smtp", "--host", "127.0.0.1",
            "--smtp-port", str(smtp_port), "--http-port", str(http_port),
            cwd=REPO_ROOT,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            await wait_for_listener(smtp_port, process)
            address = unique_address()
            await aiosmtplib.send(
                message_to(address), hostname="127.0.0.1", port=smtp_port, start_tls=False
            )
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}") as api:
                received = (await api.get("/messages", params={"to": address})).json()
            assert [m["rcpt_tos"] for m in received] == [[address]]

            process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(process.communicate(), timeout=15)
        finally:
            if process.returncode is None:
                process.kill()
                await process.communicate()
        assert process.returncode == 0, stderr.decode()
        assert b"smtp_sink.stopped" in stderr


class TestFaults:
    async def test_a_reply_for_the_next_n_messages_then_accepts(
        self, sink: SmtpSink, api: httpx.AsyncClient
    ) -> None:
        address = unique_address()
        response = await api.post(
            "/faults",
            json={"address": address.upper(), "reply": "451 4.7.1 Try again later", "times": 2},
        )
        assert response.status_code == 201

        for _ in range(2):
            with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
                await send(sink, message_to(address))
            assert refused.value.recipients[0].code == 451
        await send(sink, message_to(address))

        assert len(sink.messages_to(address)) == 1
        assert (await api.get("/faults")).json() == []

    async def test_a_fault_for_one_address_leaves_the_others_alone(self, sink: SmtpSink) -> None:
        gone, fine = unique_address(), unique_address()
        sink.reject(gone, "550 5.1.1 No such mailbox")

        with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
            await send(sink, message_to(gone))
        await send(sink, message_to(fine))

        assert refused.value.recipients[0].code == 550
        assert sink.messages_to(gone) == []
        assert len(sink.messages_to(fine)) == 1

    async def test_a_delay_for_everyone_slows_each_message(
        self, sink: SmtpSink, api: httpx.AsyncClient
    ) -> None:
        await api.post("/faults", json={"delay_s": 0.3})
        loop = asyncio.get_running_loop()

        started = loop.time()
        await send(sink, message_to(unique_address()))

        assert loop.time() - started >= 0.3

    async def test_a_dropped_connection_sends_no_reply(self, sink: SmtpSink) -> None:
        address = unique_address()
        sink.add_fault(Fault(address=address, drop_connection=True, times=1))

        with pytest.raises(aiosmtplib.SMTPException):
            await send(sink, message_to(address))
        await send(sink, message_to(address))

        assert len(sink.messages_to(address)) == 1

    async def test_lists_and_clears_faults(self, sink: SmtpSink, api: httpx.AsyncClient) -> None:
        await api.post("/faults", json={"reply": "421 4.3.2 Shutting down"})

        listed = (await api.get("/faults")).json()
        cleared = await api.delete("/faults")
        await send(sink, message_to(unique_address()))

        assert [fault["reply"] for fault in listed] == ["421 4.3.2 Shutting down"]
        assert cleared.status_code == 204
        assert (await api.get("/faults")).json() == []

    async def test_refuses_a_reply_that_is_not_an_error(self, api: httpx.AsyncClient) -> None:
        response = await api.post("/faults", json={"reply": "250 OK"})

        assert response.status_code == 422
