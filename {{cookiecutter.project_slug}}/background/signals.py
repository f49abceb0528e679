"""Signals sent by the base task class, for code that reacts to task outcomes.

Failure notifications connect to `task_failed_for_good`; the task code itself never
needs to know who is told.
"""

from django.dispatch import Signal

# Sent once when a task has failed and will not be retried again.
# Arguments: task, task_id, args, kwargs, exc, einfo.
task_failed_for_good = Signal()

# Sent when a task has succeeded (for metrics or follow-up work).
# Arguments: task, task_id, args, kwargs, retval.
task_succeeded = Signal()
