"""Template filters for short, exact durations: "in 40 seconds", "3 hours 5 minutes ago".

Django's timesince/timeuntil round to whole minutes, and a schedule that runs every few
seconds would always read "0 minutes".
"""

from datetime import timedelta

from django import template

register = template.Library()

UNITS = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))


@register.filter
def until(moment, now):
    """How long from `now` until `moment`."""
    return humanize(moment - now)


@register.filter
def since(moment, now):
    """How long from `moment` until `now`."""
    return humanize(now - moment)


def humanize(delta: timedelta) -> str:
    """A duration in its largest unit and the next: "2 days 3 hours", "1 minute 5 seconds"."""
    seconds = max(int(delta.total_seconds()), 0)
    counts = []
    for name, size in UNITS:
        count, seconds = divmod(seconds, size)
        counts.append((count, name))
    largest = next((i for i, (count, _) in enumerate(counts) if count), len(counts) - 1)
    shown = [(count, name) for count, name in counts[largest : largest + 2] if count]
    words = " ".join(f"{count} {name}{'' if count == 1 else 's'}" for count, name in shown)
    return words or "less than a second"
