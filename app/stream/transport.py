"""Faust's aiokafka transport with a cheaper per-message fetch loop.

Faust delivers every fetched message through ``wait_first(callback(message),
suspend_flow.wait())``, which creates two tasks per message and dominated the cost of a
worker here. While flow is not suspended (no rebalance under way) nothing can interrupt
the delivery, so this consumer awaits the callback directly and keeps Faust's original
path for the moments when flow is suspended. Offsets, acks, gaps and commits are Faust's,
except that the commit offset is found over acked offsets without duplicates.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import TRANSPORTS
from faust.transport.drivers import aiokafka as faust_aiokafka

SCHEME = "abusekafka"


FETCH_MAX_WAIT_MS = 100  # Faust hard-codes 1500 ms: at low rates a finding waited for it


class ShortWaitConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """Faust's consumer thread with a short fetch long-poll, for sub-second latency."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read when the consumer starts
        return consumer


class FastDrainConsumer(faust_aiokafka.Consumer):
    """The aiokafka consumer with a direct delivery fast path."""

    def _new_offset(self, tp: Any) -> int | None:
        """Faust's next commit offset for ``tp``, over acked offsets without duplicates.

        Faust commits up to the end of the first run of consecutive acked offsets. An
        offset acked twice (a message delivered again around a seek, acked while a commit
        of it was in flight) split that run, and every such duplicate then cost a whole
        commit interval: the partition's commit crawled while processing went on, and
        after a restart the worker reprocessed everything since.
        """
        acked = self._acked[tp]
        if acked:
            unique = set(acked)
            if len(unique) != len(acked):
                acked[:] = sorted(unique)
        return cast("int | None", super()._new_offset(tp))

    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return ShortWaitConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover - runs in workers
        callback = self.callback
        getmany = self.getmany
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        set_flag, unset_flag = self.diag.set_flag, self.diag.unset_flag
        commit_every = self._commit_every
        acks_enabled_for = self.app.topics.acks_enabled_for
        suspended = self.suspend_flow.is_set
        flow_active = self.app.flow_control.is_active
        yield_every, since_yield = 100, 0
        sleep = asyncio.sleep
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                set_flag(CONSUMER_FETCHING)
                ait = cast(Any, getmany(timeout=1.0))
                await self.sleep(0)
                if self.should_stop:
                    continue
                async for tp, message in ait:
                    since_yield += 1
                    if since_yield > yield_every:
                        await sleep(0)
                        since_yield = 0
                    offset = message.offset
                    r_offset = get_read_offset(tp)
                    if r_offset is not None and offset < r_offset:
                        continue  # already delivered (Faust drops these too)
                    gap = offset - (r_offset or 0)
                    if gap > 1 and r_offset and acks_enabled_for(message.topic):
                        await self._add_gap(tp, r_offset + 1, offset)
                    if commit_every is not None and self._n_acked >= commit_every:
                        self._n_acked = 0
                        await self.commit()
                    if not suspended() and flow_active():
                        await callback(message)
                    else:
                        await self.wait_first(callback(message), self.suspend_flow.wait())
                    set_read_offset(tp, offset)
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


class Transport(faust_aiokafka.Transport):
    """aiokafka transport using :class:`FastDrainConsumer`."""

    Consumer = FastDrainConsumer


def register() -> str:
    """Make ``abusekafka://`` URLs use this transport; return the scheme."""
    TRANSPORTS.aliases.setdefault(SCHEME, f"{__name__}:Transport")
    return SCHEME
