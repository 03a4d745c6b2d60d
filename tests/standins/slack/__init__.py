"""Stand-ins for Slack's APIs, driving the real slack_sdk and slack_bolt in tests."""
