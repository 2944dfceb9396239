"""Checking the configuration's references to users and courses against the LMS. Pure.

A username in an extension, reinstatement or revocation, or a course code in an initial
path, that the LMS does not have is a typo until proven otherwise, and a silent one: the
exception would simply never apply (the learner is suspended at the rollover anyway), and
a group rule naming a missing course can never match. So each one is an error, located
where it is written, with the nearest existing name as a suggestion; ``plan`` and
``apply`` refuse to go on, and nothing is written.

A deactivated user is a real user: naming one is fine. Only when the exception cannot
change anything (the user has no enrollment in any course of the product, and certops
never creates enrollments for deactivated users) does the plan warn.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from certops.config.problems import Problem, did_you_mean
from certops.config.refs import Reference
from certops.engine.logins import username_of
from certops.plan.model import PlanWarning


def check_references(
    refs: Iterable[Reference],
    users: Mapping[str, bool],
    course_codes: Collection[str],
    enrolled: Mapping[str, Collection[str]],
    emails: Mapping[str, str] | None = None,
) -> tuple[list[Problem], list[PlanWarning]]:
    """The problems and warnings of ``refs`` against the LMS.

    ``users`` maps every LMS username to whether the user is active; ``course_codes`` is
    every course code the LMS lists; ``enrolled`` maps a product id to the usernames with
    an enrollment in any course the product names; ``emails`` maps an e-mail address (lower
    case) to its user's username (``certops.engine.logins.email_index``), for exceptions
    that name their learner by e-mail. Returns ``(problems, warnings)``: one problem per
    name the LMS does not have, one warning per exception that names a deactivated user it
    cannot affect.
    """
    problems: list[Problem] = []
    warnings: list[PlanWarning] = []
    for ref in refs:
        if ref.is_user:
            username = username_of(ref.value, users, emails or {})
            active = users.get(username) if username is not None else None
            if active is None:
                problems.append(
                    Problem.at(
                        ref.location,
                        f"{ref.kind.value} names user '{ref.value}', who is not in the LMS"
                        + did_you_mean(ref.value, users),
                        ref.path,
                    )
                )
            elif not active and username not in enrolled.get(ref.product, ()):
                warnings.append(
                    PlanWarning(
                        ref.product,
                        f"{ref.location}: {ref.kind.value} names user '{ref.value}', who is "
                        "deactivated and has no enrollment in this product's courses, so it "
                        "changes nothing",
                    )
                )
        elif ref.value not in course_codes:
            problems.append(
                Problem.at(
                    ref.location,
                    f"initial path '{ref.detail}' names course '{ref.value}', which is not "
                    "in the LMS" + did_you_mean(ref.value, course_codes),
                    ref.path,
                )
            )
    return problems, warnings
