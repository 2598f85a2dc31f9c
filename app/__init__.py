"""abuse-detector: a streaming detector of LLM-API abuse and distillation campaigns."""

from __future__ import annotations

__version__ = "0.1.0"
PRODUCT_NAME = "abuse-detector"
