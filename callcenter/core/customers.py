"""Customer rules as pure logic: VINs, plates, customer type and how records merge.

Imports, the edit form and the agent screen all change customers; they agree
because they share these rules. Merging never loses data: an incoming value
only replaces a different non-empty one (the old value goes to the audit
trail), phones, tags and vehicles are unions, and "do not call" is never cleared
by an import.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from callcenter.core.text import fold

VIN_LENGTH = 17
_VIN_ALLOWED = re.compile(r"^[A-HJ-NPR-Z0-9]{17}$")
_VIN_NOISE = re.compile(r"[\s\-.]")
_PLATE_NOISE = re.compile(r"[^0-9A-Z]")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

CUSTOMER_TYPES = ("individual", "fleet")
SOURCES = ("hotline", "import", "marketing", "dealer", "web")
FLEET_MIN_VEHICLES = 2
VIP_TAG = "VIP"


class RuleError(ValueError):
    """A value breaks a customer rule. ``message`` is an English message id with
    ``{placeholders}``; ``params`` fills them (the UI translates the message)."""

    def __init__(self, message: str, **params: str) -> None:
        self.message = message
        self.params = params
        super().__init__(message.format(**params))


def normalize_vin(raw: str) -> str:
    """Upper-case VIN without spaces/dashes; raise RuleError if it is not 17 valid characters.

    VINs never contain I, O or Q (they look like 1 and 0), so a VIN with them
    was mistyped; we refuse it rather than guess which character was meant.
    """
    vin = _VIN_NOISE.sub("", raw.strip().upper())
    if len(vin) != VIN_LENGTH:
        raise RuleError("a VIN has 17 characters, this one has {count}", count=str(len(vin)))
    if any(ch in "IOQ" for ch in vin):
        raise RuleError("a VIN never contains the letters I, O or Q: {vin}", vin=vin)
    if not _VIN_ALLOWED.match(vin):
        raise RuleError("a VIN has only letters and digits: {vin}", vin=vin)
    return vin


def plate_key(plate: str) -> str:
    """Search key of a licence plate: ``51C-123.45`` and ``51c 12345`` both → ``51C12345``."""
    return _PLATE_NOISE.sub("", plate.upper())


def normalize_email(raw: str) -> str:
    email = raw.strip()
    if email and not _EMAIL.match(email):
        raise RuleError("not an e-mail address: {email}", email=email)
    return email.lower()


def customer_type_for(vehicle_count: int, declared: str = "individual") -> str:
    """A customer who owns two or more vehicles is a fleet; otherwise what was declared."""
    if vehicle_count >= FLEET_MIN_VEHICLES:
        return "fleet"
    return declared if declared in CUSTOMER_TYPES else "individual"


def normalize_tags(tags: list[str]) -> list[str]:
    """Trimmed, de-duplicated tags in their first order; ``vip`` is spelled ``VIP``."""
    seen: dict[str, str] = {}
    for tag in tags:
        clean = " ".join(tag.split())
        if not clean:
            continue
        if clean.lower() == VIP_TAG.lower():
            clean = VIP_TAG
        seen.setdefault(clean.lower(), clean)
    return list(seen.values())


@dataclass
class VehicleData:
    vin: str
    model: str = ""
    plate: str = ""
    purchase_date: date | None = None
    warranty_end: date | None = None
    dealer: str = ""


@dataclass
class CustomerData:
    """A customer as plain data (phones in E.164, primary first)."""

    name: str = ""
    phones: list[str] = field(default_factory=list)
    email: str = ""
    birthday: date | None = None
    province: str = ""
    district: str = ""
    address: str = ""
    customer_type: str = "individual"
    tags: list[str] = field(default_factory=list)
    notes: str = ""
    source: str = "hotline"
    do_not_call: bool = False
    vehicles: list[VehicleData] = field(default_factory=list)


#: Plain fields an incoming value may fill or replace (never blank).
REPLACEABLE_FIELDS = ("name", "email", "birthday", "province", "district", "address")
VEHICLE_FIELDS = ("model", "plate", "purchase_date", "warranty_end", "dealer")

Changes = dict[str, list[Any]]


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _vehicle_dict(vehicle: VehicleData) -> dict[str, Any]:
    return {
        "vin": vehicle.vin,
        **{name: _jsonable(getattr(vehicle, name)) for name in VEHICLE_FIELDS},
    }


def merge(
    existing: CustomerData, incoming: CustomerData, *, replace_values: bool = True
) -> tuple[CustomerData, Changes]:
    """Merge ``incoming`` (an import row, a form) into ``existing``.

    Returns the merged record and the changes as ``{field: [old, new]}`` (JSON
    ready, for the audit trail). With ``replace_values=False`` incoming values
    only fill blanks: an import uses that for the second and later rows of the
    same customer in one file, so rows that disagree cannot flip a value back and
    forth on every import. Merging the same data twice gives no changes, which is
    what makes imports idempotent.
    """
    merged = replace(existing, phones=list(existing.phones), tags=list(existing.tags))
    changes: Changes = {}
    for name in REPLACEABLE_FIELDS:
        old, new = getattr(existing, name), getattr(incoming, name)
        if not replace_values and old not in (None, ""):
            continue
        if name == "name" and isinstance(old, str) and fold(old) == fold(new or ""):
            continue  # same name in other capitals or accents: keep the stored spelling
        if new not in (None, "") and new != old:
            setattr(merged, name, new)
            changes[name] = [_jsonable(old), _jsonable(new)]
    new_phones = [phone for phone in incoming.phones if phone not in existing.phones]
    if new_phones:
        merged.phones = [*existing.phones, *new_phones]
        changes["phones"] = [list(existing.phones), list(merged.phones)]
    tags = normalize_tags([*existing.tags, *incoming.tags])
    if tags != existing.tags:
        merged.tags = tags
        changes["tags"] = [list(existing.tags), tags]
    note = incoming.notes.strip()
    if note and note not in existing.notes:
        merged.notes = f"{existing.notes.rstrip()}\n{note}" if existing.notes.strip() else note
        changes["notes"] = [existing.notes, merged.notes]
    if incoming.do_not_call and not existing.do_not_call:
        merged.do_not_call = True
        changes["do_not_call"] = [False, True]
    merged.vehicles, vehicle_changes = _merge_vehicles(
        existing.vehicles, incoming.vehicles, replace_values
    )
    changes.update(vehicle_changes)
    declared = (
        incoming.customer_type if incoming.customer_type == "fleet" else existing.customer_type
    )
    merged.customer_type = customer_type_for(len(merged.vehicles), declared)
    if merged.customer_type != existing.customer_type:
        changes["customer_type"] = [existing.customer_type, merged.customer_type]
    return merged, changes


def _merge_vehicles(
    existing: list[VehicleData], incoming: list[VehicleData], replace_values: bool
) -> tuple[list[VehicleData], Changes]:
    by_vin = {vehicle.vin: replace(vehicle) for vehicle in existing}
    changes: Changes = {}
    for vehicle in incoming:
        current = by_vin.get(vehicle.vin)
        if current is None:
            by_vin[vehicle.vin] = replace(vehicle)
            changes[f"vehicle {vehicle.vin}"] = [None, _vehicle_dict(vehicle)]
            continue
        for name in VEHICLE_FIELDS:
            old, new = getattr(current, name), getattr(vehicle, name)
            if not replace_values and old not in (None, ""):
                continue
            if new not in (None, "") and new != old:
                setattr(current, name, new)
                changes[f"vehicle {vehicle.vin} {name}"] = [_jsonable(old), _jsonable(new)]
    return list(by_vin.values()), changes


def diff(old: CustomerData, new: CustomerData) -> Changes:
    """Every difference between two versions of a customer (the edit form replaces values)."""
    changes: Changes = {}
    for name in (*REPLACEABLE_FIELDS, "phones", "tags", "notes", "source", "do_not_call"):
        before, after = getattr(old, name), getattr(new, name)
        if before != after:
            changes[name] = [_jsonable(before), _jsonable(after)]
    old_vehicles = {vehicle.vin: vehicle for vehicle in old.vehicles}
    new_vehicles = {vehicle.vin: vehicle for vehicle in new.vehicles}
    for vin, vehicle in old_vehicles.items():
        if vin not in new_vehicles:
            changes[f"vehicle {vin}"] = [_vehicle_dict(vehicle), None]
    for vin, vehicle in new_vehicles.items():
        before_vehicle = old_vehicles.get(vin)
        if before_vehicle is None:
            changes[f"vehicle {vin}"] = [None, _vehicle_dict(vehicle)]
            continue
        for name in VEHICLE_FIELDS:
            before, after = getattr(before_vehicle, name), getattr(vehicle, name)
            if before != after:
                changes[f"vehicle {vin} {name}"] = [_jsonable(before), _jsonable(after)]
    new_type = customer_type_for(len(new.vehicles), new.customer_type)
    if new_type != old.customer_type:
        changes["customer_type"] = [old.customer_type, new_type]
    return changes


def new_customer(incoming: CustomerData) -> CustomerData:
    """A record created from ``incoming``: tags tidied, type derived from the vehicles."""
    created = replace(
        incoming,
        phones=list(dict.fromkeys(incoming.phones)),
        tags=normalize_tags(incoming.tags),
        vehicles=list({vehicle.vin: vehicle for vehicle in incoming.vehicles}.values()),
    )
    created.customer_type = customer_type_for(len(created.vehicles), incoming.customer_type)
    return created


def describe_changes(changes: Changes) -> list[str]:
    """One short line per change, for history lists."""
    return [f"{name}: {old!r} → {new!r}" for name, (old, new) in changes.items()]
