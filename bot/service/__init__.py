"""``preorder serve``'s running service: the HTTP server (Slack's requests, the order intake,
``/healthz``, ``/metrics``), the scheduler and its jobs, the metrics, the log format and the
service's own settings. The Slack app it serves is ``bot.app``; the order intake ``bot.intake``.
"""
