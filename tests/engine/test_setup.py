"""Desired setup and its diff against the live LMS."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from certops.config.model import (
    Catalog as CatalogSpec,
)
from certops.config.model import (
    CertifiedCourse,
    Config,
    CourseSpec,
    InitialPath,
    Maintenance,
    NamedRef,
    Period,
    Product,
    Settings,
)
from certops.engine.checks import setup_checks
from certops.engine.compare import (
    LiveSetup,
    comparable_fields,
    course_differences,
    diff_setup,
    group_differences,
    setup_warnings,
)
from certops.engine.desired import DesiredSetup, desired_setup, periods_desired
from certops.engine.manual import NoAcks
from certops.lms.records import Catalog, Course, CourseSettings, EnrollmentPolicy, Group, GroupRule
from certops.plan.jsonio import display
from certops.plan.model import Action, ChangeType, GroupWrite

T_2026 = datetime(2026, 6, 1, tzinfo=UTC)
T_2027 = datetime(2027, 1, 2, tzinfo=UTC)


def period(year: int, description: str = "") -> Period:
    return Period(
        id=str(year),
        course=CourseSpec(
            f"MOC-WP-{year}", f"Widget Pro: Maintenance of Certification {year}", description
        ),
        opens=date(year, 1, 1),
        due=date(year, 12, 31),
    )


def widget_pro(**changes: object) -> Product:
    product = Product(
        id="widget-pro",
        name="Widget Pro",
        group=NamedRef("Certified: Widget Pro"),
        initial_paths=(
            InitialPath("classic", ("WP-101", "WP-102")),
            InitialPath("exam", ("WP-EXAM",)),
        ),
        certified_course=CertifiedCourse(
            "CERT-WP", "Certified: Widget Pro", "Your Widget Pro certification status.", True
        ),
        maintenance=Maintenance(periods=(period(2026), period(2027), period(2028))),
    )
    return dataclasses.replace(product, **changes)


def config(*products: Product, catalog: bool = True) -> Config:
    return Config(
        products=products or (widget_pro(),),
        settings=Settings(
            salesforce_catalog=CatalogSpec("SF-SYNC", "Salesforce Sync") if catalog else None
        ),
    )


def live_from(desired: DesiredSetup, **overrides: object) -> LiveSetup:
    """A live LMS that already matches ``desired`` exactly (as a reader would return it)."""
    courses = {
        code: Course(id=i, code=code, settings=c.settings)
        for i, (code, c) in enumerate(sorted(desired.courses.items()), start=1)
    }
    for i, code in enumerate(sorted(desired.initial_courses), start=100):
        courses[code] = Course(id=i, code=code, settings=CourseSettings(name=code))
    live = LiveSetup(
        courses=courses,
        catalogs={"SF-SYNC": Catalog(3, "SF-SYNC", "Salesforce Sync")},
        catalog_items=frozenset((i.catalog_code, i.course_code) for i in desired.catalog_items),
        groups={
            name: Group(
                "5f0c9a2e-1111-4c1e-9d1a-0000000000a7",
                name,
                g.description,
                g.automatic,
                g.operator,
                g.rules,
                g.exclude_deactivated,
            )
            for name, g in desired.groups.items()
        },
    )
    return dataclasses.replace(live, **overrides)


def test_desired_setup_for_a_product() -> None:
    desired = desired_setup(config(), T_2026)

    # 2026 has opened; 2027 is next and created ahead; 2028 is not yet.
    assert sorted(desired.courses) == ["CERT-WP", "MOC-WP-2026", "MOC-WP-2027"]
    cert = desired.courses["CERT-WP"].settings
    assert cert.published and cert.enrollment_policy is EnrollmentPolicy.ADMIN_ONLY
    assert cert.description == "Your Widget Pro certification status."
    moc = desired.courses["MOC-WP-2026"]
    assert moc.product == "widget-pro" and moc.period == "2026"
    assert moc.settings.date_begin == datetime(2026, 1, 1, tzinfo=UTC)
    assert moc.settings.date_end == datetime(2027, 1, 1, tzinfo=UTC)  # exclusive end of due
    assert not moc.settings.self_unenrollment
    assert not moc.settings.soft_deadline
    assert moc.settings.visible_only_to_enrolled
    assert moc.settings.enrollment_policy is EnrollmentPolicy.ADMIN_ONLY
    assert desired.catalog == CatalogSpec("SF-SYNC", "Salesforce Sync")
    assert [(i.catalog_code, i.course_code) for i in desired.catalog_items] == [
        ("SF-SYNC", "CERT-WP")
    ]
    # Maintenance courses are in no catalog.
    assert all(i.course_code == "CERT-WP" for i in desired.catalog_items)
    group = desired.groups["Certified: Widget Pro"]
    assert group.operator == "ANY" and group.automatic
    assert group.rules == (GroupRule(("WP-101", "WP-102")), GroupRule(("WP-EXAM",)))
    assert desired.codes_to_read() == (
        "CERT-WP",
        "MOC-WP-2026",
        "MOC-WP-2027",
        "WP-101",
        "WP-102",
        "WP-EXAM",
    )


def test_rollover_preview_creates_the_next_course() -> None:
    before = desired_setup(config(), T_2026)
    after = desired_setup(config(), T_2027)
    live = live_from(before)

    changes = diff_setup(after, live)

    assert [(c.address, c.action) for c in changes] == [("course.MOC-WP-2028", Action.CREATE)]
    shown = display(changes[0].after)
    assert shown["date_begin"] == "2028-01-01T00:00:00Z"
    assert shown["date_end"] == "2029-01-01T00:00:00Z"


def test_periods_desired_before_any_period_opens() -> None:
    periods = widget_pro().maintenance.periods
    early = datetime(2025, 3, 1, tzinfo=UTC)
    assert [p.id for p in periods_desired(periods, early)] == ["2026"]
    late = datetime(2031, 1, 1, tzinfo=UTC)
    assert [p.id for p in periods_desired(periods, late)] == ["2026", "2027", "2028"]


def test_empty_lms_creates_everything_in_dependency_groups() -> None:
    desired = desired_setup(config(), T_2026)
    live = LiveSetup(courses={}, catalogs={}, catalog_items=frozenset(), groups={})

    changes = diff_setup(desired, live)

    assert [(c.address, c.type, c.action) for c in changes] == [
        ("course.CERT-WP", ChangeType.COURSE, Action.CREATE),
        ("course.MOC-WP-2026", ChangeType.COURSE, Action.CREATE),
        ("course.MOC-WP-2027", ChangeType.COURSE, Action.CREATE),
        ("catalog.SF-SYNC", ChangeType.CATALOG, Action.CREATE),
        ("catalog_item.SF-SYNC.CERT-WP", ChangeType.CATALOG_ITEM, Action.CREATE),
        ("group.Certified: Widget Pro", ChangeType.GROUP, Action.CREATE),
    ]
    catalog = changes[3]
    assert catalog.product is None and catalog.after == {
        "code": "SF-SYNC",
        "name": "Salesforce Sync",
    }
    group = display(changes[-1].after)
    assert group["rules"] == [["WP-101", "WP-102"], ["WP-EXAM"]]
    assert group["rules_operator"] == "ANY" and group["automatic"] is True
    assert all(c.before == {} for c in changes)


def test_no_diff_when_live_differs_only_in_form() -> None:
    desired = desired_setup(config(), T_2026)
    live = live_from(desired)
    cert = live.courses["CERT-WP"]
    moc = live.courses["MOC-WP-2026"]
    noisy = dict(live.courses)
    # HTML and whitespace in the description, Docebo's 23:59:59 end, naive and offset times.
    noisy["CERT-WP"] = dataclasses.replace(
        cert,
        settings=dataclasses.replace(
            cert.settings,
            description="<p>Your  Widget&nbsp;Pro\n certification <b>status</b>.</p>",
            name="  Certified:   Widget Pro ",
            # Not managed on the certified course: server defaults must not show.
            visible_only_to_enrolled=False,
            course_type="classroom",
        ),
    )
    noisy["MOC-WP-2026"] = dataclasses.replace(
        moc,
        settings=dataclasses.replace(
            moc.settings,
            date_begin=datetime(2026, 1, 1),  # naive: UTC
            date_end=datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC),
        ),
    )
    group = live.groups["Certified: Widget Pro"]
    groups = {
        group.name: dataclasses.replace(
            group,
            rules_operator="any",
            rules=(GroupRule(("WP-EXAM",)), GroupRule(("WP-102", "WP-101"))),
            description="Reworded by an admin",
        )
    }
    live = dataclasses.replace(live, courses=noisy, groups=groups)

    assert diff_setup(desired, live) == []


def test_number_and_string_forms_compare_equal() -> None:
    # A sloppy YAML load may leave a numeric course name or code as a number.
    numeric = period(2026)
    numeric = dataclasses.replace(numeric, course=CourseSpec(2026, 2026))  # type: ignore[arg-type]
    product = widget_pro(maintenance=Maintenance(periods=(numeric,)))
    desired = desired_setup(config(product), T_2026)
    assert "2026" in desired.courses
    live = live_from(desired)
    course = live.courses["2026"]
    courses = dict(live.courses)
    courses["2026"] = dataclasses.replace(
        course, settings=dataclasses.replace(course.settings, name="2026")
    )

    assert diff_setup(desired, dataclasses.replace(live, courses=courses)) == []


def test_numeric_course_codes_in_group_rules_compare_equal() -> None:
    product = widget_pro(initial_paths=(InitialPath("legacy", ("101", "102")),))
    desired = desired_setup(config(product), T_2026)
    live = live_from(desired)
    group = live.groups["Certified: Widget Pro"]
    groups = {group.name: dataclasses.replace(group, rules=(GroupRule((102, 101)),))}  # type: ignore[arg-type]

    assert diff_setup(desired, dataclasses.replace(live, groups=groups)) == []


def test_update_shows_only_changing_fields() -> None:
    desired = desired_setup(config(), T_2026)
    live = live_from(desired)
    moc = live.courses["MOC-WP-2026"]
    courses = dict(live.courses)
    courses["MOC-WP-2026"] = dataclasses.replace(
        moc,
        settings=dataclasses.replace(
            moc.settings,
            self_unenrollment=True,
            date_end=datetime(2026, 12, 1, tzinfo=UTC),
            enrollment_policy=EnrollmentPolicy.FREE,
        ),
    )
    group = live.groups["Certified: Widget Pro"]
    groups = {group.name: dataclasses.replace(group, rules=(GroupRule(("WP-101",)),))}

    changes = diff_setup(desired, dataclasses.replace(live, courses=courses, groups=groups))

    assert [c.address for c in changes] == ["course.MOC-WP-2026", "group.Certified: Widget Pro"]
    course, grp = changes
    assert course.action is Action.UPDATE
    assert display(course.before) == {
        "date_end": "2026-12-01T00:00:00Z",
        "enrollment_policy": "free",
        "self_unenrollment": True,
    }
    assert display(course.after) == {
        "date_end": "2027-01-01T00:00:00Z",
        "enrollment_policy": "admin_only",
        "self_unenrollment": False,
    }
    assert display(grp.before) == {"rules": [["WP-101"]]}
    assert display(grp.after) == {"rules": [["WP-101", "WP-102"], ["WP-EXAM"]]}
    # The reviewer is told which paths the rules gain and lose, not just that they differ.
    assert grp.reason.endswith(
        "rules differ (path added: WP-101 + WP-102; WP-EXAM, path removed: WP-101)"
    )
    # What the update sends is the whole group: the rules wanted, the live description.
    assert grp.write == GroupWrite(
        live.groups["Certified: Widget Pro"].description,
        desired.groups["Certified: Widget Pro"].rules,
        group_id=live.groups["Certified: Widget Pro"].id,
    )


def test_objects_not_named_never_appear() -> None:
    desired = desired_setup(config(), T_2026)
    live = live_from(desired)
    courses = dict(live.courses)
    courses["OTHER-1"] = Course(900, "OTHER-1", CourseSettings(name="Unrelated", published=False))
    courses["MOC-WP-2025"] = Course(901, "MOC-WP-2025", CourseSettings(name="Old, unconfigured"))
    groups = dict(live.groups)
    groups["Everyone"] = Group(8, "Everyone", automatic=False, rules_operator="ALL")
    live = dataclasses.replace(
        live,
        courses=courses,
        groups=groups,
        catalogs={**live.catalogs, "OTHER": Catalog(4, "OTHER", "Other")},
        catalog_items=live.catalog_items | {("OTHER", "OTHER-1"), ("SF-SYNC", "OTHER-1")},
    )

    assert diff_setup(desired, live) == []


def test_empty_config_description_is_not_managed() -> None:
    product = widget_pro(certified_course=CertifiedCourse("CERT-WP", "Certified: Widget Pro"))
    desired = desired_setup(config(product), T_2026)
    live = live_from(desired)
    cert = live.courses["CERT-WP"]
    courses = dict(live.courses)
    courses["CERT-WP"] = dataclasses.replace(
        cert, settings=dataclasses.replace(cert.settings, description="Written by an admin")
    )

    assert diff_setup(desired, dataclasses.replace(live, courses=courses)) == []


def test_product_filter_and_shared_catalog() -> None:
    gadget = widget_pro(
        id="gadget",
        name="Gadget",
        group=NamedRef("Certified: Gadget"),
        initial_paths=(InitialPath("only", ("G-101",)),),
        certified_course=CertifiedCourse("CERT-G", "Certified: Gadget", salesforce_sync=False),
        maintenance=Maintenance(periods=()),
    )
    desired = desired_setup(config(widget_pro(), gadget), T_2026)
    empty = LiveSetup(courses={}, catalogs={}, catalog_items=frozenset(), groups={})

    only_gadget = diff_setup(desired, empty, products={"gadget"})
    assert [c.address for c in only_gadget] == ["course.CERT-G", "group.Certified: Gadget"]
    only_wp = diff_setup(desired, empty, products={"widget-pro"})
    assert "catalog.SF-SYNC" in [c.address for c in only_wp]


def test_catalog_exists_but_item_missing() -> None:
    desired = desired_setup(config(), T_2026)
    live = dataclasses.replace(live_from(desired), catalog_items=frozenset())

    changes = diff_setup(desired, live)

    assert [c.address for c in changes] == ["catalog_item.SF-SYNC.CERT-WP"]
    assert changes[0].after == {"catalog": "SF-SYNC", "course": "CERT-WP", "item_type": "course"}


def test_warnings_for_missing_initial_courses_and_sync_without_catalog() -> None:
    desired = desired_setup(config(catalog=False), T_2026)
    assert desired.catalog is None and desired.catalog_items == ()
    live = live_from(desired)
    courses = {k: v for k, v in live.courses.items() if k != "WP-EXAM"}

    warnings = setup_warnings(desired, dataclasses.replace(live, courses=courses))

    messages = [(w.address, w.message) for w in warnings]
    assert any(a == "course.CERT-WP" and "salesforce_catalog" in m for a, m in messages)
    assert any(a == "course.WP-EXAM" and "does not exist" in m for a, m in messages)
    assert all(w.product == "widget-pro" for w in warnings)


def test_initial_courses_known_from_the_course_list_are_not_missing() -> None:
    desired = desired_setup(config(), T_2026)
    live = live_from(desired)
    managed_only = {k: v for k, v in live.courses.items() if k in desired.courses}
    live = dataclasses.replace(
        live, courses=managed_only, existing_codes=frozenset({"WP-101", "WP-102"})
    )

    warnings = setup_warnings(desired, live)

    assert [w.address for w in warnings] == ["course.WP-EXAM"]


def test_update_settings_keep_what_certops_does_not_manage() -> None:
    product = widget_pro(certified_course=CertifiedCourse("CERT-WP", "Certified: Widget Pro"))
    desired = desired_setup(config(product), T_2026).courses["CERT-WP"]
    live = CourseSettings(
        name="Old name",
        description="Written by an admin",
        course_type="classroom",
        published=False,
        visible_only_to_enrolled=True,
        date_begin=datetime(2020, 1, 1, tzinfo=UTC),
    )

    sent = desired.settings_for(live)

    assert sent.name == "Certified: Widget Pro" and sent.published
    assert sent.enrollment_policy is EnrollmentPolicy.ADMIN_ONLY
    assert not sent.self_unenrollment
    # Unmanaged: written back as they are.
    assert sent.description == "Written by an admin"
    assert sent.course_type == "classroom"
    assert sent.visible_only_to_enrolled
    assert sent.date_begin == datetime(2020, 1, 1, tzinfo=UTC)
    assert desired.settings_for(None) == desired.settings


instants = st.one_of(
    st.none(),
    st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
    ),
)
live_settings = st.builds(
    CourseSettings,
    name=st.text(max_size=30),
    description=st.text(max_size=30),
    course_type=st.sampled_from(["elearning", "classroom", "webinar"]),
    published=st.booleans(),
    self_unenrollment=st.booleans(),
    enrollment_policy=st.sampled_from(list(EnrollmentPolicy)),
    date_begin=instants,
    date_end=instants,
    soft_deadline=st.booleans(),
    visible_only_to_enrolled=st.booleans(),
)


@settings(max_examples=150, deadline=None)
@given(cert=live_settings, moc=live_settings, description=st.sampled_from(["", "About it."]))
def test_one_update_converges(cert: CourseSettings, moc: CourseSettings, description: str) -> None:
    """Any live course, updated with the settings the diff implies, diffs to nothing; and
    the diff names exactly the managed fields that were wrong."""
    product = widget_pro(
        certified_course=CertifiedCourse("CERT-WP", "Certified: Widget Pro", description, True)
    )
    desired = desired_setup(config(product), T_2026)
    live = live_from(desired)
    courses = dict(live.courses)
    courses["CERT-WP"] = Course(1, "CERT-WP", cert)
    courses["MOC-WP-2026"] = Course(2, "MOC-WP-2026", moc)
    live = dataclasses.replace(live, courses=courses)

    changes = {c.address: c for c in diff_setup(desired, live)}

    for code, before in (("CERT-WP", cert), ("MOC-WP-2026", moc)):
        want = desired.courses[code]
        change = changes.get(f"course.{code}")
        assert change is None or change.action is Action.UPDATE
        assert set(change.after if change else ()) <= want.managed
        updated = want.settings_for(before)
        courses[code] = Course(courses[code].id, code, updated)
    assert diff_setup(desired, dataclasses.replace(live, courses=courses)) == []


def test_end_instants_shown_by_docebo_at_the_last_second_are_the_deadline() -> None:
    desired = desired_setup(config(), T_2026)
    live = live_from(desired)
    moc = live.courses["MOC-WP-2026"]
    last_second = datetime(2027, 1, 1, tzinfo=UTC) - timedelta(seconds=1)
    courses = dict(live.courses)
    courses["MOC-WP-2026"] = dataclasses.replace(
        moc, settings=dataclasses.replace(moc.settings, date_end=last_second)
    )
    assert diff_setup(desired, dataclasses.replace(live, courses=courses)) == []


def test_a_warning_once_every_period_has_ended() -> None:
    one_year = widget_pro(maintenance=Maintenance(periods=(period(2026),)))
    assert (
        desired_setup(config(one_year), datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)).warnings
        == ()
    )
    ended = desired_setup(config(one_year), T_2027).warnings
    assert [(w.product, w.address, w.message) for w in ended] == [
        (
            "widget-pro",
            "course.MOC-WP-2026",
            "every maintenance period has ended (the last, 2026, was due 2026-12-31): nobody "
            "owes maintenance any more and the enrollment rule still points at MOC-WP-2026; "
            "add the next period",
        )
    ]


# --- only what can be read is diffed ---------------------------------------------


class _Acked:
    """An ack file holding exactly these (address, fingerprint) pairs."""

    def __init__(self, *pairs: tuple[str, str]) -> None:
        self.pairs = set(pairs)

    def acknowledged(self, address: str, fingerprint: str) -> bool:
        return (address, fingerprint) in self.pairs


def test_a_setting_the_lms_does_not_show_is_never_diffed():
    desired = desired_setup(config(), T_2026)
    live = live_from(desired)
    moc = live.courses["MOC-WP-2026"]
    # As a tenant reads it: visibility unknown (None), soft deadline not shown at all.
    unread = dataclasses.replace(
        moc,
        settings=dataclasses.replace(
            moc.settings, visible_only_to_enrolled=None, soft_deadline=True
        ),
        unread=frozenset({"visible_only_to_enrolled", "soft_deadline"}),
    )
    courses = {**live.courses, "MOC-WP-2026": unread}
    assert diff_setup(desired, dataclasses.replace(live, courses=courses)) == []
    want = desired.courses["MOC-WP-2026"]
    assert comparable_fields(want, unread) == want.managed - {
        "visible_only_to_enrolled",
        "soft_deadline",
    }
    # Once the tenant shows the setting, a wrong value is a change like any other.
    shown = dataclasses.replace(unread, unread=frozenset())
    assert set(course_differences(want, shown)) == {"visible_only_to_enrolled", "soft_deadline"}


def test_visibility_is_checked_once_by_a_person_for_each_maintenance_course():
    desired = desired_setup(config(), T_2026)
    checks = setup_checks(desired, NoAcks())
    assert [(c.address, c.action, c.type) for c in checks] == [
        ("course.MOC-WP-2026", Action.MANUAL, ChangeType.COURSE),
        ("course.MOC-WP-2027", Action.MANUAL, ChangeType.COURSE),
    ]
    assert all(c.fingerprint.startswith("sha256:") and c.steps for c in checks)
    assert "Only users enrolled in the course" in checks[0].steps[1]
    # Acknowledged: that check is gone, the other stays.
    acked = _Acked((checks[0].address, checks[0].fingerprint))
    assert [c.address for c in setup_checks(desired, acked)] == ["course.MOC-WP-2027"]


def test_the_group_excludes_deactivated_users():
    desired = desired_setup(config(), T_2026)
    live = live_from(desired)
    group = live.groups["Certified: Widget Pro"]
    want = desired.groups["Certified: Widget Pro"]
    assert want.exclude_deactivated and group_differences(want, group) == []
    including = dataclasses.replace(group, exclude_deactivated=False)
    assert group_differences(want, including) == ["exclude_deactivated"]
    (change,) = diff_setup(
        desired,
        dataclasses.replace(live, groups={"Certified: Widget Pro": including}),
    )
    assert change.address == "group.Certified: Widget Pro" and change.action is Action.UPDATE
    assert change.before == {"exclude_deactivated": False}
    assert change.after == {"exclude_deactivated": True}
