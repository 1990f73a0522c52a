"""Alerts: live events turned into messages (webhook, MQTT), spooled on disk and delivered
beside the video loop (`incidents` → `spool` → `receivers`)."""
