"""Dead letters: list, inspect, replay after a fix, and purge them, per topic and consumer.

A consumer that can never handle a record (not an event envelope, or a handler that failed on
every attempt) puts it on the dead-letter topic with the consumer's name, where it came from
and why (``shared/consumer.py``). This command is how an operator deals with them:

    python -m deploy.deadletters [--namespace NS] list [--consumer NAME] [--topic TOPIC] [--all]
    python -m deploy.deadletters show PARTITION:OFFSET
    python -m deploy.deadletters replay (PARTITION:OFFSET ... | --consumer NAME | --topic TOPIC)
    python -m deploy.deadletters purge (PARTITION:OFFSET ... | --consumer NAME | --topic TOPIC)

Kafka cannot delete one record, so what was done with a letter is itself written to the
dead-letter topic as a resolution record (``{"resolves": "P:O", "action": ...}``): ``list``
shows only letters without one unless ``--all`` is given. Replaying puts the original record
back on its original topic with its original key; every consumer of that topic sees it again,
and those that handled it before skip it (their processed-events table holds its event id), so
a replay is idempotent: replaying a letter twice has the effect of replaying it once. A record
that is not an event envelope cannot be replayed, only purged. Purging marks letters handled;
the broker deletes them with the topic's retention (a week in k8s/).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pydantic import ValidationError

from shared.events import EventEnvelope, Topic
from shared.kafka import namespaced

RESOLUTION_KEY = b"tawny.dead-letter.resolution"


@dataclass
class DeadLetter:
    """One dead-lettered record, where it sits on the dead-letter topic, and its fate."""

    partition: int
    offset: int
    consumer: str
    topic: str
    source_partition: int
    source_offset: int
    reason: str
    value: str
    key: bytes | None
    resolutions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ref(self) -> str:
        return f"{self.partition}:{self.offset}"

    @property
    def resolved(self) -> bool:
        return bool(self.resolutions)

    def envelope(self) -> EventEnvelope | None:
        try:
            return EventEnvelope.model_validate_json(self.value)
        except ValidationError:
            return None

    def summary(self) -> dict[str, Any]:
        envelope = self.envelope()
        return {
            "ref": self.ref,
            "consumer": self.consumer,
            "topic": self.topic,
            "source": f"{self.source_partition}:{self.source_offset}",
            "event_type": envelope.type if envelope else None,
            "event_id": str(envelope.event_id) if envelope else None,
            "reason": self.reason,
            "resolved": [r["action"] for r in self.resolutions],
        }


async def read_dead_letters(bootstrap_servers: str, topic: str) -> list[DeadLetter]:
    """Every letter on the topic, each with the resolutions recorded for it (no group: reading
    commits nothing, so two operators may list at once)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, enable_auto_commit=False, client_id="tawny-deadletters"
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        if not partitions:
            await consumer.force_metadata_update()
            partitions = [
                TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []
            ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        letters: dict[str, DeadLetter] = {}
        resolutions: list[dict[str, Any]] = []
        remaining = {tp for tp in partitions if ends[tp] > 0}
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, records in batches.items():
                for record in records:
                    body = _json_or_none(record.value)
                    if body is None:
                        continue
                    if record.key == RESOLUTION_KEY and "resolves" in body:
                        resolutions.append(body)
                    elif "consumer" in body and "topic" in body:
                        letter = _letter(tp.partition, record.offset, record.key, body)
                        letters[letter.ref] = letter
                    if record.offset + 1 >= ends[tp]:
                        remaining.discard(tp)
        for resolution in resolutions:
            if resolution["resolves"] in letters:
                letters[resolution["resolves"]].resolutions.append(resolution)
        return sorted(letters.values(), key=lambda letter: (letter.partition, letter.offset))
    finally:
        await consumer.stop()


def _json_or_none(raw: bytes | None) -> dict[str, Any] | None:
    try:
        body = json.loads(raw or b"")
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _letter(partition: int, offset: int, key: bytes | None, body: dict[str, Any]) -> DeadLetter:
    return DeadLetter(
        partition=partition,
        offset=offset,
        consumer=str(body["consumer"]),
        topic=str(body["topic"]),
        source_partition=int(body.get("partition", -1)),
        source_offset=int(body.get("offset", -1)),
        reason=str(body.get("reason", "")),
        value=str(body.get("value", "")),
        key=key,
    )


def select_letters(
    letters: Iterable[DeadLetter],
    *,
    refs: Sequence[str] = (),
    consumer: str | None = None,
    topic: str | None = None,
    include_resolved: bool = False,
) -> list[DeadLetter]:
    wanted = set(refs)
    chosen = []
    for letter in letters:
        if wanted and letter.ref not in wanted:
            continue
        if consumer is not None and letter.consumer != consumer:
            continue
        if topic is not None and letter.topic != topic:
            continue
        if letter.resolved and not include_resolved and not wanted:
            continue
        chosen.append(letter)
    return chosen


@dataclass(frozen=True)
class Outcome:
    replayed: list[str]
    purged: list[str]
    refused: dict[str, str]
    skipped: list[str]


async def resolve(
    bootstrap_servers: str,
    dead_letter_topic: str,
    letters: Sequence[DeadLetter],
    *,
    action: str,
    force: bool = False,
) -> Outcome:
    """Replay or purge ``letters``; each gets a resolution record after its action succeeded."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers, acks="all", client_id="tawny-deadletters"
    )
    await producer.start()
    outcome = Outcome(replayed=[], purged=[], refused={}, skipped=[])
    try:
        for letter in letters:
            if letter.resolved and not force:
                outcome.skipped.append(letter.ref)
                continue
            if action == "replay":
                if letter.envelope() is None:
                    outcome.refused[letter.ref] = "not an event envelope: purge it instead"
                    continue
                await producer.send_and_wait(letter.topic, letter.value.encode(), key=letter.key)
                outcome.replayed.append(letter.ref)
            else:
                outcome.purged.append(letter.ref)
            resolution = {
                "resolves": letter.ref,
                "action": "replayed" if action == "replay" else "purged",
                "at": datetime.now(UTC).isoformat(),
            }
            await producer.send_and_wait(
                dead_letter_topic, json.dumps(resolution).encode(), key=RESOLUTION_KEY
            )
    finally:
        await producer.stop()
    return outcome


def _print_table(letters: Sequence[DeadLetter]) -> None:
    if not letters:
        print("no dead letters")
        return
    rows = [letter.summary() for letter in letters]
    columns = ["ref", "consumer", "topic", "event_type", "resolved", "reason"]
    widths = {c: max(len(c), *(len(_cell(row[c])) for row in rows)) for c in columns[:-1]}
    print("  ".join(c.ljust(widths.get(c, 0)) for c in columns))
    for row in rows:
        cells = [_cell(row[c]).ljust(widths[c]) for c in columns[:-1]]
        print("  ".join([*cells, _cell(row["reason"])[:120]]))
    print(f"{len(letters)} dead letter(s)")


def _cell(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(value) or "-"
    return "-" if value is None else str(value)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.deadletters", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--bootstrap-servers",
        default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
        help="Kafka bootstrap servers (default: $KAFKA_BOOTSTRAP_SERVERS)",
    )
    parser.add_argument(
        "--namespace",
        default=os.environ.get("KAFKA_NAMESPACE", ""),
        help="the environment's topic prefix (default: $KAFKA_NAMESPACE)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="letters not yet replayed or purged")
    show = commands.add_parser("show", help="one letter in full, with the original record")
    show.add_argument("ref", help="PARTITION:OFFSET on the dead-letter topic")
    for name, text in (("replay", "put letters back on their topic"), ("purge", "mark handled")):
        command = commands.add_parser(name, help=text)
        command.add_argument("refs", nargs="*", help="PARTITION:OFFSET of each letter")
        command.add_argument("--force", action="store_true", help="again, if already resolved")
    for command in (listing, commands.choices["replay"], commands.choices["purge"]):
        command.add_argument("--consumer", help="only letters of this consumer group")
        command.add_argument("--topic", help="only letters from this topic")
    listing.add_argument("--all", action="store_true", help="include replayed and purged ones")
    return parser


def wire_topic(topic: str | None, namespace: str) -> str | None:
    """``--topic`` as the operator names it (``tawny.alerts.lifecycle.v1``, as shared/events.py
    registers it) or as it is on the wire: letters record the wire name, namespace included."""
    if topic is None or not namespace or topic.startswith(f"{namespace}."):
        return topic
    return namespaced(topic, namespace)


async def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if hasattr(args, "topic"):  # `show` names one letter, no topic
        args.topic = wire_topic(args.topic, args.namespace)
    dead_letter_topic = namespaced(Topic.DEAD_LETTER.value, args.namespace)
    letters = await read_dead_letters(args.bootstrap_servers, dead_letter_topic)
    if args.command == "list":
        chosen = select_letters(
            letters, consumer=args.consumer, topic=args.topic, include_resolved=args.all
        )
        if args.json:
            print(json.dumps([letter.summary() for letter in chosen], indent=2))
        else:
            _print_table(chosen)
        return 0
    if args.command == "show":
        found = select_letters(letters, refs=[args.ref])
        if not found:
            print(f"no dead letter at {args.ref}", file=sys.stderr)
            return 1
        letter = found[0]
        envelope = letter.envelope()
        print(
            json.dumps(
                {
                    **letter.summary(),
                    "resolutions": letter.resolutions,
                    "record": envelope.model_dump(mode="json") if envelope else letter.value,
                },
                indent=2,
            )
        )
        return 0
    if not (args.refs or args.consumer or args.topic):
        print("name letters (PARTITION:OFFSET), --consumer or --topic", file=sys.stderr)
        return 2
    chosen = select_letters(
        letters, refs=args.refs, consumer=args.consumer, topic=args.topic, include_resolved=True
    )
    outcome = await resolve(
        args.bootstrap_servers,
        dead_letter_topic,
        chosen,
        action=args.command,
        force=args.force,
    )
    print(
        f"replayed {len(outcome.replayed)}, purged {len(outcome.purged)}, "
        f"already resolved {len(outcome.skipped)}, refused {len(outcome.refused)}"
    )
    for ref, why in outcome.refused.items():
        print(f"  {ref}: {why}")
    return 1 if outcome.refused else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
