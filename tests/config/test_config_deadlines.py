"""The digest ladder and deadline settings, as loaded from YAML into the typed model."""

from __future__ import annotations

from pathlib import Path

from certops.config import load_config
from certops.config.model import DEFAULT_LADDER, Every, Rung

CONFIG = """\
version: 1
products:
  - id: sprocket
    name: Sprocket
    group: {name: "Certified: Sprocket"}
    initial_paths:
      - {name: basics, all_of: [SP-101]}
    certified_course: {code: CERT-SP, name: "Certified: Sprocket"}
    maintenance:
      periods:
        - id: "2026"
          course: {code: MOC-SP-2026, name: "Sprocket MoC 2026"}
          opens: 2026-01-01
          due: 2026-12-31
    notifications:
      digest:
        name: "Sprocket maintenance not yet completed"
        ladder:
          - {from_days: 14, every: weekly}
          - {from_days: 0, every: daily}
  - id: gadget
    name: Gadget
    group: {name: "Certified: Gadget"}
    initial_paths:
      - {name: basics, all_of: [G-101]}
    certified_course: {code: CERT-G, name: "Certified: Gadget"}
    maintenance:
      periods:
        - id: "2026"
          course: {code: MOC-G-2026, name: "Gadget MoC 2026"}
          opens: 2026-01-01
          due: 2026-12-31
    notifications:
      digest: {name: "Gadget maintenance not yet completed"}
settings:
  digest_ladder: [{from_days: 60, every: monthly}, {from_days: 10, every: daily}]
  deadline_warning_days: [45, 14, 1]
  min_period_days: 90
"""


def test_ladders_and_deadline_settings_load(tmp_path: Path) -> None:
    file = tmp_path / "certops.yaml"
    file.write_text(CONFIG, encoding="utf-8")
    config = load_config([str(file)])
    sprocket, gadget = config.products
    assert sprocket.notifications.digest is not None and gadget.notifications.digest is not None
    own = (Rung(14, Every.WEEKLY), Rung(0, Every.DAILY))
    default = (Rung(60, Every.MONTHLY), Rung(10, Every.DAILY))
    assert sprocket.notifications.digest.ladder == own
    assert config.settings.ladder_of(sprocket.notifications.digest) == own
    assert gadget.notifications.digest.ladder is None
    assert config.settings.ladder_of(gadget.notifications.digest) == default
    assert config.settings.deadline_warning_days == (45, 14, 1)
    assert config.settings.min_period_days == 90
    # Without settings, the built-in ladder.
    file.write_text(CONFIG.split("settings:")[0], encoding="utf-8")
    assert load_config([str(file)]).settings.digest_ladder == DEFAULT_LADDER
