"""Token-size distributions fitted to public production traces.

Each table holds quantiles of ``log(1 + tokens)`` at :data:`PROBS`; sampling interpolates the
inverse CDF, so the marginal distribution follows the trace while each account scales it
by its own factor. Produced by ``tools/fit_traces.py`` from ../shared/data/traces.
"""

from __future__ import annotations

import numpy as np

PROBS = np.array([0.0, 0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0])

# Azure LLM inference trace 2023, AzureLLMInferenceTrace_conv.csv (19,366 requests, 1 hour).
AZURE_CONV_PROMPT = (
    1.099,
    3.401,
    5.204,
    5.338,
    5.961,
    6.001,
    6.557,
    6.929,
    6.977,
    7.031,
    7.182,
    7.914,
    8.315,
    8.329,
    9.55,
)
AZURE_CONV_COMPLETION = (
    2.079,
    2.833,
    3.738,
    4.007,
    4.357,
    4.522,
    4.644,
    4.868,
    5.182,
    5.953,
    5.994,
    6.052,
    6.114,
    6.4,
    6.909,
)
# Azure LLM inference trace 2023, AzureLLMInferenceTrace_code.csv (8,819 requests, 1 hour).
AZURE_CODE_PROMPT = (
    1.386,
    2.89,
    4.331,
    4.997,
    5.957,
    6.648,
    6.981,
    7.293,
    7.555,
    7.797,
    8.069,
    8.554,
    8.896,
    8.914,
    8.914,
)
AZURE_CODE_COMPLETION = (
    1.946,
    1.946,
    1.946,
    2.079,
    2.197,
    2.303,
    2.485,
    2.639,
    2.833,
    3.045,
    3.401,
    4.025,
    4.511,
    5.531,
    7.55,
)
# Mooncake FAST'25 conversation_trace.jsonl (12,031 requests, 1 hour): long agent contexts.
MOONCAKE_PROMPT = (
    6.793,
    6.797,
    6.805,
    6.872,
    7.416,
    8.091,
    8.516,
    8.841,
    9.166,
    9.488,
    9.791,
    10.217,
    10.585,
    11.355,
    11.746,
)
MOONCAKE_COMPLETION = (
    0.693,
    1.386,
    2.398,
    3.219,
    4.615,
    5.366,
    5.677,
    5.861,
    5.991,
    6.105,
    6.225,
    6.394,
    6.55,
    7.021,
    7.601,
)

# Aggregate arrival shape of the same traces (tools/fit_traces.py, "arrivals"): inter-arrival
# coefficient of variation and Fano factor of per-second counts. Conversation traffic is
# close to Poisson (CV 1.09, Fano 1.39); code and agent traffic are bursty (CV 13.2 / 3.0,
# Fano 13.2 / 7.9). Measured on the standard suite, one busy hour: simulated chat traffic
# aggregates to CV 1.0 and Fano 1.0; coding agents, with parallel fan-out, to CV 1.2-1.6 and
# Fano 3-4, burstier than chat but below the Azure code trace (batched code completions).
AZURE_CONV_GAP_CV, AZURE_CONV_FANO = 1.094, 1.386
AZURE_CODE_GAP_CV, AZURE_CODE_FANO = 13.151, 13.182
MOONCAKE_GAP_CV, MOONCAKE_FANO = 3.034, 7.894
# Mooncake prefix-block reuse: 74% of conversations are single-turn, 1.5 turns on average;
# the casual archetype's turns_mean range (1.3 to 4) spans 77% to 25% single-turn.
MOONCAKE_SINGLE_TURN_SHARE = 0.743

TABLES = {
    "conv": (AZURE_CONV_PROMPT, AZURE_CONV_COMPLETION),
    "code": (AZURE_CODE_PROMPT, AZURE_CODE_COMPLETION),
    "agent": (MOONCAKE_PROMPT, MOONCAKE_COMPLETION),
}


def sample_tokens(
    rng: np.random.Generator,
    table: tuple[float, ...],
    n: int,
    scale: float = 1.0,
    lo: int = 1,
    hi: int = 200_000,
) -> np.ndarray:
    """Draw ``n`` token counts from a fitted log-quantile table, scaled per account."""
    logs = np.interp(rng.random(n), PROBS, np.asarray(table))
    tokens = np.expm1(logs) * scale
    return np.clip(np.rint(tokens), lo, hi).astype(np.int64)
