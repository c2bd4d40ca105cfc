"""Prometheus metrics, one registry per application instance (no module globals)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class Metrics:
    """Every metric the daemon exports. Adapters receive this object and update it."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.http_requests = Counter(
            "callcenter_http_requests_total",
            "HTTP requests served",
            ["status"],
            registry=self.registry,
        )
        self.ami_connected = Gauge(
            "callcenter_ami_connected", "1 while the AMI link is logged in", registry=self.registry
        )
        self.ami_events = Counter(
            "callcenter_ami_events_total", "AMI events received", registry=self.registry
        )
        self.cdr_mismatches = Counter(
            "callcenter_cdr_mismatches_total",
            "Calls whose Asterisk CDR disagrees with the tracker's record",
            ["field"],
            registry=self.registry,
        )
        self.calls_active = Gauge(
            "callcenter_calls_active", "Calls in progress", registry=self.registry
        )
        self.calls_ended = Counter(
            "callcenter_calls_ended_total",
            "Calls ended, by disposition",
            ["disposition"],
            registry=self.registry,
        )
        self.agi_sessions = Counter(
            "callcenter_agi_sessions_total",
            "FastAGI sessions handled",
            ["script", "result"],
            registry=self.registry,
        )
        self.websockets = Gauge(
            "callcenter_websockets", "Open agent/supervisor websockets", registry=self.registry
        )
        self.write_behind_depth = Gauge(
            "callcenter_write_behind_depth",
            "Rows produced and not yet stored, per write-behind queue",
            ["queue"],
            registry=self.registry,
        )
        self.write_behind_overflow = Counter(
            "callcenter_write_behind_overflow_total",
            "Rows queued while a write-behind queue was over its limit (held, not dropped)",
            ["queue"],
            registry=self.registry,
        )
        self.write_behind_written = Counter(
            "callcenter_write_behind_written_total",
            "Rows a write-behind queue handed to the database",
            ["queue"],
            registry=self.registry,
        )
