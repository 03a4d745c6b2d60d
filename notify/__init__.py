"""Notifications: the outbox's events delivered to webhooks and customers' email (DESIGN.md
section 5). Depends on ``engine`` only."""
