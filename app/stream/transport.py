"""Faust's aiokafka transport with a batch lane for the worker's own topics.

Faust hands every fetched record to the app one at a time: a message object, the
conductor's per-partition callback (under a lock), an event object, a queue put, the
stream's get and an ack per record. For the two topics the worker consumes in bulk
(``api-events`` and the re-keyed signal topic) that machinery cost several times the
detection itself. This consumer gives each fetch's records of those topics to the
topic's batch handler (``StreamApp.batch_handlers``) in one call, in offset order per
partition, and acks their offsets in bulk once the handler has returned, that is once
its output is on the broker: a crash before that delivers the records again (at least
once). Records of any other topic (changelogs during table recovery) take Faust's own
path, without its two tasks per message while flow is not suspended.

Offsets, gaps and commits are Faust's, except that the commit offset is found over acked
offsets without duplicates, with a shortcut for the usual case of one run of offsets.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from time import monotonic
from typing import Any, cast

from aiokafka.errors import IllegalStateError
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import TRANSPORTS
from faust.transport.drivers import aiokafka as faust_aiokafka

SCHEME = "abusekafka"

FETCH_MAX_WAIT_MS = 100  # Faust hard-codes 1500 ms: at low rates a finding waited for it

# A batch handler takes the records (aiokafka ``ConsumerRecord``s: key, value, topic,
# partition, offset, ...) of one fetch for one topic and returns once their output is
# published; it raises only on a failure that must stop the worker.
BatchHandler = Callable[[list[Any]], Awaitable[None]]


class ShortWaitConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """Faust's consumer thread with a short fetch long-poll, for sub-second latency."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read when the consumer starts
        return consumer


class FastDrainConsumer(faust_aiokafka.Consumer):
    """The aiokafka consumer with a batch lane and a direct per-message path."""

    _revocations = 0  # rebalances begun: a batch read across one is not acked

    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return ShortWaitConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def on_partitions_revoked(self, revoked: Any) -> None:
        self._revocations += 1
        await super().on_partitions_revoked(revoked)

    def _new_offset(self, tp: Any) -> int | None:
        """Faust's next commit offset for ``tp``, over acked offsets without duplicates.

        Faust commits up to the end of the first run of consecutive acked offsets. An
        offset acked twice (a message delivered again around a seek, acked while a commit
        of it was in flight) split that run, and every such duplicate then cost a whole
        commit interval: the partition's commit crawled while processing went on, and
        after a restart the worker reprocessed everything since. The batch lane acks tens
        of thousands of offsets between commits, nearly always one run: that case is
        found without Faust's walk over every offset.
        """
        acked = self._acked[tp]
        if not acked:
            return None
        unique = set(acked)
        if len(unique) != len(acked):
            acked[:] = sorted(unique)
        low, high = min(unique), max(unique)
        if high - low + 1 == len(unique) and not self._gap[tp]:
            committed = self._committed_offset[tp]
            if committed and low - committed > 1:
                return None  # a gap before the run: wait for it, as Faust does
            acked.clear()
            self._acked_index[tp].difference_update(unique)
            return high + 1
        return cast("int | None", super()._new_offset(tp))

    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover - runs in workers
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        set_flag, unset_flag = self.diag.set_flag, self.diag.unset_flag
        handlers: Mapping[str, BatchHandler] = getattr(self.app, "batch_handlers", None) or {}
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                set_flag(CONSUMER_FETCHING)
                revocations = self._revocations
                records, active = await self._wait_next_records(1.0)
                await self.sleep(0)
                if records and not self.should_stop:
                    await self._deliver(records, active, handlers, revocations)
                unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            unset_flag(CONSUMER_FETCHING)

    async def _deliver(
        self,
        records: Mapping[Any, list[Any]],
        active: Any,
        handlers: Mapping[str, BatchHandler],
        revocations: int,
    ) -> None:
        """Deliver one fetch: batch topics in one call per topic, the rest per message."""
        if not self.flow_active:
            # A rebalance stopped the flow during the fetch: Faust's own fetch drops the
            # records and seeks back to the committed offsets; so does this one.
            await self._seek_back()
            return
        generation = self.app.consumer_generation_id
        monitor = self.app.monitor
        batches: dict[str, list[Any]] = {}
        runs: list[tuple[Any, int, int]] = []  # (tp, first offset to ack, last offset)
        for tp, recs in records.items():
            if active is not None and tp not in active and tp not in self._buffered_partitions:
                continue
            monitor.track_tp_end_offset(tp, self.highwater(tp))
            if tp.topic not in handlers:
                await self._deliver_each(tp, recs)  # changelogs: table recovery reads them
                continue
            r_offset = self._read_offset[tp]
            if r_offset is not None and recs[0].offset < r_offset:
                recs = [r for r in recs if r.offset >= r_offset]  # already delivered
                if not recs:
                    continue
            first = recs[0].offset
            if r_offset and first - r_offset > 1:
                first = r_offset + 1  # offsets missing before it (compaction, markers)
            batches.setdefault(tp.topic, []).extend(recs)
            runs.append((tp, first, recs[-1].offset))
        if not runs:
            return
        if self._revocations != revocations:
            # A rebalance began while these were fetched: they may predate its seek.
            await self._rewind(runs, "fetched before it")
            return
        for topic, batch in batches.items():
            await handlers[topic](batch)
        if self._revocations != revocations or self.app.consumer_generation_id != generation:
            # Partitions moved while the batch ran: its offsets are not acked here.
            await self._rewind(runs, "handled while it ran")
            return
        now = monotonic()
        for tp, first, last in runs:
            committed = self._committed_offset[tp]
            offsets = range(max(first, committed or 0), last + 1)
            self._acked[tp].extend(offsets)  # the whole run: ids missing in it are gaps
            self._acked_index[tp].update(offsets)
            self._n_acked += len(offsets)
            self._read_offset[tp] = last
            monitor.stream_inbound_time[tp] = now  # Faust's check for a stalled stream
            monitor.tp_read_offsets[tp] = last
        if self._commit_every is not None and self._n_acked >= self._commit_every:
            self._n_acked = 0
            await self.commit()

    async def _seek_back(self) -> None:
        try:
            await self.perform_seek()
        except Exception as exc:  # the assignment that follows seeks again
            self.log.warning("could not seek back to the committed offsets: %r", exc)

    async def _rewind(self, runs: list[tuple[Any, int, int]], what: str) -> None:
        """Read the batch's partitions again from their committed offsets.

        Only those partitions: a seek of every partition would also move the changelog
        partitions that table recovery is reading. (Faust seeks every stream partition
        to its committed offset when recovery after a rebalance ends; this covers a batch
        that ends after that seek.) A partition no longer assigned is left
        to its new owner; one with nothing committed yet goes back to its beginning (the
        group's ``earliest`` reset policy).
        """
        count = sum(last - first + 1 for _, first, last in runs)
        self.log.info(
            "a rebalance overtook a batch of about %d records %s; not acked, read again "
            "from the committed offsets",
            count, what,
        )  # fmt: skip
        try:
            assigned = self.assignment()
            tps = sorted({tp for tp, _, _ in runs if tp in assigned})
            if not tps:
                return
            thread = cast(Any, self._thread)
            client = thread._ensure_consumer()
            offsets = await thread.call_thread(client.seek_to_committed, *tps)
            fresh = [tp for tp in tps if not offsets.get(tp)]
            if fresh:
                await thread.call_thread(client.seek_to_beginning, *fresh)
            for tp in tps:
                offset = offsets.get(tp)
                self._read_offset[tp] = offset if offset else None
        except IllegalStateError:
            # Assigned no more: the rebalance under way ends, after table recovery, with a
            # seek of every assigned partition to its committed offset.
            self.log.info("partitions of that batch are being reassigned; their owner rewinds")
        except Exception as exc:  # the next assignment's seek covers it too
            self.log.warning("could not rewind the batch's partitions: %r", exc)

    async def _deliver_each(self, tp: Any, records: list[Any]) -> None:
        """Faust's path, one message at a time through the conductor's callback."""
        callback = self.callback
        acks_enabled_for = self.app.topics.acks_enabled_for
        suspended = self.suspend_flow.is_set
        flow_active = self.app.flow_control.is_active
        to_message = self._to_message
        generation = self.app.consumer_generation_id
        for n, record in enumerate(records):
            if n % 100 == 99:
                await asyncio.sleep(0)
            if not self.flow_active or self.app.consumer_generation_id != generation:
                break  # a rebalance began: its assignment seeks to the committed offsets
            offset = record.offset
            r_offset = self._read_offset[tp]
            if r_offset is not None and offset < r_offset:
                continue  # already delivered (Faust drops these too)
            if offset - (r_offset or 0) > 1 and r_offset and acks_enabled_for(tp.topic):
                await self._add_gap(tp, r_offset + 1, offset)
            if self._commit_every is not None and self._n_acked >= self._commit_every:
                self._n_acked = 0
                await self.commit()
            message = to_message(tp, record)
            if not suspended() and flow_active():
                await callback(message)
            else:
                await self.wait_first(callback(message), self.suspend_flow.wait())
            self._read_offset[tp] = offset


class Transport(faust_aiokafka.Transport):
    """aiokafka transport using :class:`FastDrainConsumer`."""

    Consumer = FastDrainConsumer


def register() -> str:
    """Make ``abusekafka://`` URLs use this transport; return the scheme."""
    TRANSPORTS.aliases.setdefault(SCHEME, f"{__name__}:Transport")
    return SCHEME
