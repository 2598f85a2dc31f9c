"""Turn planned event columns into event-v1 dicts, chunk by chunk, in event-time order."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from app.sim.generate import Simulation

CHUNK = 32_768
_COLS = (
    "acct",
    "model",
    "ptok",
    "ctok",
    "maxtok",
    "prompt",
    "system",
    "conv",
    "turn",
    "status",
    "key",
    "net",
    "client",
    "latency",
)


def iter_events(sim: Simulation, raw_text: bool = True) -> Iterator[dict[str, Any]]:
    """Yield every event of ``sim`` as a dict; raw text, or only its SimHash fingerprints."""
    w, cols, order, tag = sim.world, sim.cols, sim.order, sim.tag
    accts = [
        (a.account_id, a.org_id, a.payment_fp, round(a.created_ts, 3), a.endpoint)
        for a in w.accounts
    ]
    nets, clients, keys, models = w.nets.rows, w.clients.rows, w.keys, w.models
    texts, fingerprint = w.bank.texts, w.bank.fingerprint
    seq = 0
    for start in range(0, len(order), CHUNK):
        idx = order[start : start + CHUNK]
        ts_list = np.round(cols["ts"][idx], 3).tolist()
        chunk = [cols[name][idx].tolist() for name in _COLS]
        for (
            ts,
            acct,
            model,
            ptok,
            ctok,
            maxtok,
            prompt,
            system,
            conv,
            turn,
            status,
            key,
            net,
            client,
            lat,
        ) in zip(ts_list, *chunk, strict=True):
            account_id, org_id, payment_fp, created, endpoint = accts[acct]
            ip, asn, country = nets[net]
            ua, tls = clients[client]
            ev: dict[str, Any] = {
                "event_id": f"ev-{tag}-{seq:09d}",
                "ts": ts,
                "account_id": account_id,
                "model": models[model],
                "prompt_tokens": ptok,
                "completion_tokens": ctok,
                "org_id": org_id,
                "api_key_id": keys[key],
                "ip": ip,
                "asn": asn,
                "country": country,
                "user_agent": ua,
                "tls_fp": tls,
                "endpoint": endpoint,
                "max_tokens": maxtok,
                "status": status,
                "latency_ms": lat,
                "account_created_ts": created,
            }
            seq += 1
            if payment_fp is not None:
                ev["payment_fp"] = payment_fp
            if conv >= 0:
                ev["conversation_id"] = f"conv-{tag}-{conv:x}"
                ev["turn"] = turn
            if raw_text:
                ev["prompt"] = texts[prompt]
                if system >= 0:
                    ev["system_prompt"] = texts[system]
            else:
                ev["prompt_fp"] = fingerprint(prompt)
                if system >= 0:
                    ev["system_prompt_fp"] = fingerprint(system)
            yield ev
