"""Test infrastructure for the Slack app: a local Slack Web API stand-in and request builders.

Slack cannot be reached from here or from CI, so the app is tested by driving the real
``slack_sdk`` / ``slack_bolt`` over HTTP against :class:`tests.standins.slack.standin.SlackStandin`,
which enforces the platform limits of DESIGN.md section 4 the way Slack does.
"""
