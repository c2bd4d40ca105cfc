"""The JSON shapes of the customer API: serialisers and the OpenAPI schemas that
describe them (``/api/customers…``, import progress).
"""

from __future__ import annotations

from typing import Any

from callcenter.db.models.customers import Customer, CustomerImport
from callcenter.db.repos import customers as repo


def customer_json(customer: Customer) -> dict[str, Any]:
    data = repo.to_data(customer)
    return {
        "id": customer.id,
        "name": data.name,
        "phones": data.phones,
        "email": data.email,
        "province": data.province,
        "district": data.district,
        "address": data.address,
        "customer_type": data.customer_type,
        "tags": data.tags,
        "do_not_call": data.do_not_call,
        "vehicles": [
            {
                "vin": vehicle.vin,
                "model": vehicle.model,
                "plate": vehicle.plate,
                "purchase_date": vehicle.purchase_date.isoformat()
                if vehicle.purchase_date
                else None,
                "warranty_end": vehicle.warranty_end.isoformat() if vehicle.warranty_end else None,
                "dealer": vehicle.dealer,
            }
            for vehicle in data.vehicles
        ],
    }


CUSTOMER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "phones": {
            "type": "array",
            "items": {"type": "string"},
            "description": "E.164, primary first",
        },
        "email": {"type": "string"},
        "province": {"type": "string"},
        "district": {"type": "string"},
        "address": {"type": "string"},
        "customer_type": {"enum": ["individual", "fleet"]},
        "tags": {"type": "array", "items": {"type": "string"}},
        "do_not_call": {"type": "boolean"},
        "vehicles": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "vin": {"type": "string"},
                    "model": {"type": "string"},
                    "plate": {"type": "string"},
                    "purchase_date": {"type": ["string", "null"], "format": "date"},
                    "warranty_end": {"type": ["string", "null"], "format": "date"},
                    "dealer": {"type": "string"},
                },
            },
        },
    },
}
IMPORT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "filename": {"type": "string"},
        "status": {"enum": ["uploaded", "previewing", "previewed", "importing", "done", "failed"]},
        "processed_rows": {"type": "integer"},
        "total_rows": {"type": "integer", "description": "estimate until the end"},
        "preview": {"type": "object", "description": "per-row counts of the preview"},
        "result": {"type": "object", "description": "per-row counts of the import"},
        "error": {"type": "string"},
    },
}


def import_json(batch: CustomerImport) -> dict[str, Any]:
    return {
        "id": batch.id,
        "filename": batch.filename,
        "status": batch.status,
        "processed_rows": batch.processed_rows,
        "total_rows": batch.total_rows,
        "preview": batch.preview_counts,
        "result": batch.result_counts,
        "error": batch.error,
    }
