"""Batches (problems × team configurations run as one group with a shared budget and a summary report) and
cron schedules that start them, fired exactly once per slot by any number of scheduler instances.

``spec`` (the batch file), ``plan`` (from spec to campaigns), ``budget`` (the split), ``batches`` (rows, closing,
cancelling), ``report`` (summary and markdown), ``cron`` (croniter in time zones), ``store`` (schedule rows),
``firing`` (exactly-once firing), ``loop`` (the scheduler thread), ``local`` (running a batch in-process).
"""
