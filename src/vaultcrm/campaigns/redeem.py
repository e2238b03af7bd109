"""Redeeming a coupon at the desk: is the code good for this customer on this day, and what is the fee.

A code is good once: the service record (SRV) that redeems it carries it (`服务信息.优惠券`, with
`活动` linking the campaign note), so "used" is read from the vault itself, under the booking lock
`log` holds, and a code can never be redeemed twice. A code is refused with its reason when no
campaign has it, when it was used, when the visit falls after its 有效期至, or when it belongs to
another customer. The discount applies to the fee; a gift leaves the fee as it is.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from ..core.config import Settings
from ..core.index import VaultIndex
from ..errors import ConflictError, NotFoundError
from .coupons import normalize_code
from .notes import find_code
from .offers import Offer


@dataclass(frozen=True)
class Coupon:
    code: str
    campaign_id: str
    campaign_link: str
    campaign_name: str
    offer: Offer
    customer_id: str
    customer: str
    issued: dt.date
    valid_until: dt.date | None


@dataclass(frozen=True)
class Redemption:
    coupon: Coupon
    list_price: Decimal | None  # the fee before the coupon
    fee: Decimal | None  # the fee to charge

    def fields(self) -> dict:
        """The SRV's 服务信息 keys this redemption fills."""
        return {"服务费用": self.fee, "原价": self.list_price, "优惠券": self.coupon.code,
                "活动": self.coupon.campaign_link}


def lookup(root: Path, settings: Settings, text: str) -> Coupon:
    """The coupon a code names; NotFoundError (exit 1) when it is malformed or no campaign has it."""
    try:
        code = normalize_code(text)
    except ValueError as exc:
        raise NotFoundError(str(exc)) from None
    found = find_code(root, settings, code)
    if found is None:
        raise NotFoundError(f"优惠券 {code} 不存在（没有活动发过这张券），未使用；请核对券码")
    note, entry = found
    c = note.campaign
    return Coupon(code, c.id, c.link, c.name, c.offer, entry.customer_id, entry.customer, entry.issued,
                  entry.valid_until)


def redeemed_by(index: VaultIndex, code: str, ignore: str | None = None) -> list[str]:
    """The SRV notes that already carry `code`."""
    return sorted(i for i in index.services.dates("service", "coupon").get(code, ()) if i != ignore)


def check(index: VaultIndex, coupon: Coupon, customer_key: str | None, day: dt.date) -> None:
    """ConflictError with the reason when the coupon cannot be used by this customer on `day`."""
    used = redeemed_by(index, coupon.code)
    if used:
        service = index.services[used[0]]
        when = f"{service.basics.date} " if service.basics.date else ""
        raise ConflictError(f"优惠券 {coupon.code} 已使用（{when}{used[0]}），每张券只能用一次")
    if coupon.valid_until is not None and day > coupon.valid_until:
        raise ConflictError(f"优惠券 {coupon.code} 已过期（有效期至 {coupon.valid_until}，服务日期 {day}）")
    if day < coupon.issued:
        raise ConflictError(f"优惠券 {coupon.code} 于 {coupon.issued} 发放，服务日期 {day} 在此之前，不能使用")
    if customer_key != coupon.customer_id:
        raise ConflictError(f"优惠券 {coupon.code} 是发给 {coupon.customer_id} 的（{coupon.campaign_id}），"
                            f"不能给{' ' + customer_key + ' ' if customer_key else '这位客户'}使用")


def redeem(root: Path, settings: Settings, index: VaultIndex, text: str, customer_key: str | None, day: dt.date,
           fee: Decimal | None) -> Redemption:
    """Check the code for this customer and day, and work out the fee; nothing is written here."""
    coupon = lookup(root, settings, text)
    check(index, coupon, customer_key, day)
    return Redemption(coupon, fee if coupon.offer.is_discount else None, coupon.offer.apply(fee))


def validate_for_booking(root: Path, settings: Settings, index: VaultIndex, text: str, customer_key: str | None,
                         day: dt.date) -> str:
    """`book --coupon`: the normalised code when it could be redeemed at that visit (VaultCRMError if not)."""
    coupon = lookup(root, settings, text)
    check(index, coupon, customer_key, day)
    return coupon.code


__all__ = ["Coupon", "Redemption", "check", "lookup", "redeem", "redeemed_by", "validate_for_booking"]
