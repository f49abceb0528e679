"""Keep tasks' return values and arguments out of the log.

Celery logs each success at INFO as "Task name[id] succeeded in 0.01s: <return value>"
(celery.app.trace.LOG_SUCCESS), and passes the task's arguments along in the record's
`data` extra, which structured (JSON) handlers write out. Both can hold personal data,
and logs are kept longer and read more widely than the result store. Celery has no
setting for this, so this filter, on the celery.app.trace logger (LOGGING in
config/settings/base.py), removes them; the task's name, id and run time stay.
"""

import logging

from celery.app import trace

SUCCESS_WITHOUT_VALUE = "Task %(name)s[%(id)s] succeeded in %(runtime)ss"
HIDDEN = ("return_value", "args", "kwargs")


class HideTaskResults(logging.Filter):
    def filter(self, record):
        if isinstance(record.args, dict):
            context = {key: value for key, value in record.args.items() if key not in HIDDEN}
            if record.msg == trace.LOG_SUCCESS:
                record.msg = SUCCESS_WITHOUT_VALUE
            record.args = context
            if hasattr(record, "data"):
                record.data = context
        return True
