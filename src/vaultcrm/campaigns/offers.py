"""What a campaign offers, read from the words the studio typed: a discount applied to the fee, or a gift.

`8折` / `9.5折` take that many tenths of the fee; `减50` / `立减¥30` take an amount off; `满300减50`
takes 50 off a fee of 300 or more. Anything else (`赠送精油一份`) is a gift: recorded with the visit,
the fee unchanged. Pure: text in, an Offer out; a fee in, the fee to charge out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

_NUMBER = r"(\d+(?:\.\d+)?)"
_RATE = re.compile(_NUMBER + r"\s*折")
_THRESHOLD = re.compile(r"满\s*[¥￥]?\s*" + _NUMBER + r"\s*元?\s*减\s*[¥￥]?\s*" + _NUMBER)
_AMOUNT = re.compile(r"(?:立减|减|优惠|抵扣?)\s*[¥￥]?\s*" + _NUMBER)
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Offer:
    text: str
    rate: Decimal | None = None  # 0.8 for 8折
    amount: Decimal | None = None  # yuan off
    threshold: Decimal | None = None  # 满 threshold for `amount`

    @property
    def is_discount(self) -> bool:
        return self.rate is not None or self.amount is not None

    @property
    def kind(self) -> str:
        if self.rate is not None:
            return "折扣"
        return "立减" if self.amount is not None else "赠品"

    def apply(self, fee: Decimal | None) -> Decimal | None:
        """The fee to charge; unchanged for a gift, an unknown fee, or a 满减 the fee does not reach."""
        if fee is None or not self.is_discount:
            return fee
        if self.rate is not None:
            return _plain((fee * self.rate).quantize(CENT, rounding=ROUND_HALF_UP))
        if self.threshold is not None and fee < self.threshold:
            return fee
        return _plain(max(fee - self.amount, Decimal(0)))


def parse_offer(text: str) -> Offer:
    """The offer in `text`; ValueError (in Chinese) for a discount that cannot be (`0折`, `12折`)."""
    text = " ".join(str(text or "").split())
    if not text:
        raise ValueError("优惠内容不能为空，例如 8折、减50、立减¥30 或 赠送精油一份")
    m = _RATE.search(text)
    if m:
        tenths = Decimal(m[1])
        if not Decimal(0) < tenths < Decimal(10):
            raise ValueError(f"折扣「{m[0]}」应在 0–10 折之间（不含），例如 8折 或 9.5折")
        return Offer(text, rate=tenths / 10)
    m = _THRESHOLD.search(text)
    if m:
        return Offer(text, amount=_positive(m[2], m[0]), threshold=Decimal(m[1]))
    m = _AMOUNT.search(text)
    if m:
        return Offer(text, amount=_positive(m[1], m[0]))
    return Offer(text)


def _plain(amount: Decimal) -> Decimal:
    """¥160 rather than ¥160.00, ¥158.4 rather than ¥158.40 (as the notes write money)."""
    return amount.quantize(Decimal(1)) if amount == amount.to_integral() else amount.normalize()


def _positive(number: str, shown: str) -> Decimal:
    value = Decimal(number)
    if value <= 0:
        raise ValueError(f"「{shown}」的减免金额应大于 0")
    return value


__all__ = ["Offer", "parse_offer"]
