"""Who is the customer? Turning what the front desk types (an ID, a phone, a name) into a profile.

Names repeat in any studio (two 张三), so a name that fits several profiles is refused with the
candidates listed rather than guessed, and a phone given alongside narrows the choice. A name that
fits nobody means a new customer: `new_customer` builds the profile that `store.create_record`
turns into `客户/C-NNNN 姓名.md`. Pure functions over the index: no I/O.
"""

from __future__ import annotations

import re

from ..core.index import VaultIndex
from ..errors import NotFoundError, VaultCRMError
from ..models import Customer
from ..values import Channel

NEW_CUSTOMER_TIER = "普通"
_PHONE_LIKE = re.compile(r"^\+?[\d\s\-]{3,20}$")


class AmbiguousCustomerError(VaultCRMError):
    """A name (or a shared phone) that fits several profiles; `candidates` lists them."""

    def __init__(self, query: str, candidates: list[Customer]):
        super().__init__(f"「{query}」对应 {len(candidates)} 位客户，请改用客户编号，或加 --phone 区分：",
                         details=[describe(c) for c in candidates])
        self.query = query
        self.candidates = candidates


def mask_phone(phone: str | None) -> str:
    """138****8000: enough for staff to tell customers apart without showing the whole number."""
    if not phone:
        return ""
    if len(phone) < 7:
        return phone[:1] + "*" * (len(phone) - 1)
    return phone[:3] + "****" + phone[-4:]


def describe(customer: Customer) -> str:
    """One line per customer, as candidates are listed: `C-0001 张三 138****8000`."""
    return " ".join(part for part in (customer.id, customer.name or "", mask_phone(customer.phone)) if part)


def looks_like_id(query: str) -> bool:
    return bool(Customer.id_pattern.match(query.strip()))


def looks_like_phone(query: str) -> bool:
    return bool(_PHONE_LIKE.match(query.strip()))


def resolve_customer(index: VaultIndex, query: str, phone: str | None = None) -> Customer | None:
    """The profile meant by `query` (客户编号, phone or name), or None for a customer not yet known.

    With a phone, a name only matches profiles with that phone (or none recorded): another 张三 with
    another phone is another customer. Raises AmbiguousCustomerError when several profiles remain,
    NotFoundError for an unknown 客户编号 or phone (neither can name a new profile).
    """
    query = query.strip()
    if not query:
        raise VaultCRMError("客户不能为空：请给出客户姓名、客户编号或电话")
    matches = index.find_customers(query)
    if not matches:
        if looks_like_id(query):
            raise NotFoundError(f"没有客户编号为 {query} 的客户档案")
        if looks_like_phone(query):
            raise NotFoundError(f"没有电话为 {query} 的客户；新客户请用 --customer 姓名 --phone 电话")
        return None
    if phone and not looks_like_id(query) and not looks_like_phone(query):
        same_phone = [c for c in matches if c.phone == phone]
        matches = same_phone or [c for c in matches if not c.phone]
        if not matches:
            return None
    if len(matches) > 1:
        raise AmbiguousCustomerError(query, sorted(matches, key=lambda c: c.id))
    return matches[0]


def new_customer(name: str, phone: str | None = None, channel: Channel | None = None) -> Customer:
    """A profile for someone the vault does not know yet (its 客户编号 is given when it is created)."""
    name = name.strip()
    if not name or looks_like_id(name) or looks_like_phone(name):
        raise VaultCRMError(f"「{name}」不能作为新客户的姓名，请用 --customer 姓名 --phone 电话")
    return Customer.model_validate({
        "客户编号": "", "客户姓名": name, "联系方式": phone, "来源渠道": channel.value if channel else None,
        "会员等级": NEW_CUSTOMER_TIER,
    })


__all__ = ["AmbiguousCustomerError", "NEW_CUSTOMER_TIER", "describe", "looks_like_id", "looks_like_phone",
           "mask_phone", "new_customer", "resolve_customer"]
