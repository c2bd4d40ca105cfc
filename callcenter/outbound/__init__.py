"""Outbound work: lead lists, care campaigns, after-sale care schedules (issue 16)."""
