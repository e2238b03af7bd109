"""Coupon codes: unguessable (drawn with `secrets`), easy to read aloud over the phone.

The alphabet leaves out 0/O and 1/I (and lower case), so a code read out or copied by hand cannot
be mistyped into another; eight characters in two groups (`K7MX-3QPD`) give 32⁸ ≈ 10¹² codes, so
guessing one that was handed out is hopeless. What a customer types is normalised (case, spaces,
dashes) before it is looked up.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Container

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
LENGTH = 8
CODE_PATTERN = re.compile(r"^[" + ALPHABET + r"]{4}-[" + ALPHABET + r"]{4}$")


def new_code(taken: Container[str]) -> str:
    """A fresh code not in `taken` (every code of every campaign)."""
    while True:
        raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
        code = f"{raw[:4]}-{raw[4:]}"
        if code not in taken:
            return code


def normalize_code(text: str) -> str:
    """`k7mx 3qpd`, `K7MX3QPD` → `K7MX-3QPD`; ValueError (in Chinese) when it cannot be a code."""
    raw = re.sub(r"[\s\-－—_]", "", str(text or "")).upper()
    if len(raw) != LENGTH or any(ch not in ALPHABET for ch in raw):
        raise ValueError(f"优惠券码「{text}」格式不对：应为 8 位字母数字（如 K7MX-3QPD，不含 0、O、1、I）")
    return f"{raw[:4]}-{raw[4:]}"


__all__ = ["ALPHABET", "CODE_PATTERN", "new_code", "normalize_code"]
