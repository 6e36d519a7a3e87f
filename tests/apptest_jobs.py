"""AppTest and the app's background jobs (``ui.longjob``): run the script again until the jobs it started have ended.

In a browser the progress fragment reruns the page when a job ends; AppTest has no timer, so a test waits for the
job itself (its end event, not a clock) and then reruns the script once, which draws the result."""
from __future__ import annotations

from ui import longjob
from ui.tabs import risk, sensitivity

SLOTS = (risk.FRONTIER_JOB, risk.STRESS_JOB, sensitivity.SENS_JOB)
WAIT_S = 900  # a job that has not ended after this long is a hang: the test fails rather than waiting for ever


def job(at, slot: str) -> longjob.Job | None:
    key = longjob.PREFIX + slot
    return at.session_state[key] if key in at.session_state else None


def finish_jobs(at, slots=SLOTS):
    """Wait until every job in ``slots`` has ended, then run the script once more; returns ``at``."""
    for slot in slots:
        j = job(at, slot)
        if j is not None:
            assert j.wait(WAIT_S), f"the {j.what} job did not end"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at
