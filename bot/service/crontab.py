"""Crontab expressions read as cron reads them.

APScheduler 3.x numbers weekdays from Monday (0 = Monday), while crontab numbers them from
Sunday (0 or 7 = Sunday), so ``CronTrigger.from_crontab("0 9 * * 1-5")`` would fire Tuesday to
Saturday. Here the weekday field is turned into day names first, so ``1-5`` means Monday to
Friday, as anyone who writes crontabs expects.
"""

from __future__ import annotations

from datetime import tzinfo

from apscheduler.triggers.cron import CronTrigger

DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def cron_trigger(expr: str, zone: tzinfo | str) -> CronTrigger:
    """The trigger for a five-field crontab ``expr`` (minute hour day month weekday) in
    ``zone``; ValueError naming what is wrong."""
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"needs 5 fields (minute hour day month weekday), got {len(fields)}")
    minute, hour, day, month, weekday = fields
    return CronTrigger(
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=weekdays(weekday),
        timezone=zone,
    )


def weekdays(field: str) -> str:
    """A crontab weekday field (numbers 0-7, names, ranges, lists, steps) as a list of day
    names in APScheduler's terms; ``*`` stays ``*``."""
    if field == "*":
        return field
    days: set[int] = set()
    for part in field.split(","):
        span, slash, step_text = part.partition("/")
        step = _number(step_text, "step") if slash else 1
        if step < 1:
            raise ValueError(f"weekday step must be at least 1 in {part!r}")
        if span == "*":
            first, last = 0, 6
        elif "-" in span:
            start, _, end = span.partition("-")
            first, last = _day(start), _day(end)
            if first > last:
                raise ValueError(f"weekday range {span!r} runs backwards")
        else:
            first = _day(span)
            last = 6 if slash else first  # "1/2": from Monday, every other day
        days.update(d % 7 for d in range(first, last + 1, step))
    return ",".join(DAYS[d] for d in sorted(days))


def _day(text: str) -> int:
    name = text.strip().lower()
    if name in DAYS:
        return DAYS.index(name)
    number = _number(name, "weekday")
    if not 0 <= number <= 7:
        raise ValueError(f"weekday {text!r} is not 0-7 (0 and 7 are Sunday)")
    return number


def _number(text: str, what: str) -> int:
    if not text.isdigit():
        raise ValueError(f"bad {what} {text!r}")
    return int(text)
