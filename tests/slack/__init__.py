"""Tests of the Slack app (``bot``, its handlers and views), and ``harness``, which runs the
real app behind the real server for them.

Slack cannot be reached from here or from CI, so the app is tested by driving the real
``slack_sdk`` / ``slack_bolt`` over HTTP against the stand-ins of ``tests.standins.slack``,
which enforce the platform limits of DESIGN.md section 4 the way Slack does.
"""
