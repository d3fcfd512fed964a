"""Huey finds tasks in each app's ``tasks`` module: the oversight tasks are defined beside the use
cases they run and imported here."""

# Security monitoring: the detection rules every 5 minutes.
from tongban.oversight.services.alerts import detect_alerts_task  # noqa: F401

# Department assessment: the current month every night (and the month just ended on the 1st).
from tongban.oversight.services.assessment import oversight_assessment  # noqa: F401

# Data quality: the daily recomputation and the managers' recompute job.
from tongban.oversight.services.quality import quality_daily, quality_task  # noqa: F401
