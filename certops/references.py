"""The reference check of ``plan``, ``apply`` and ``validate --lms``: the configuration's
usernames and initial course codes against a live snapshot, with no extra LMS read."""

from __future__ import annotations

from certops.config.model import Config
from certops.config.problems import sort_problems
from certops.config.refs import references
from certops.engine.references import check_references
from certops.errors import ConfigError
from certops.live import LiveSnapshot
from certops.plan.model import PlanWarning


def verify_references(config: Config, live: LiveSnapshot) -> list[PlanWarning]:
    """The warnings about ``config``'s references to the LMS in ``live``.

    Raises ``ConfigError`` with every located problem when a username or initial course
    code is not in the LMS (before anything is planned or written)."""
    users = {u.username: u.active for u in live.users_by_id.values()}
    codes = set(live.listed_codes) | set(live.course_ids)
    enrolled = {p.id: live.enrolled_usernames(p) for p in config.products}
    problems, warnings = check_references(references(config), users, codes, enrolled)
    if problems:
        raise ConfigError(sort_problems(problems))
    return warnings
