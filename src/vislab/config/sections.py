"""The base of every config section: shown as YAML in IPython, unknown keys refused; and ``given``: whether a
setting is away from its default."""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict


class ShownAsYaml(BaseModel):
    """A config or a section that IPython shows as its YAML (as config.yaml); its repr: pydantic's."""

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        dumped = yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)
        p.text(f"# vislab {type(self).__name__}\n{dumped.rstrip()}")


class Section(ShownAsYaml):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def given(section: BaseModel, key: str) -> bool:
    """Whether ``section.key`` is away from its default: a value the user chose. (A key set to its default
    value cannot be told from one left alone once a config is rebuilt from a whole dump — a run's
    config.yaml, a suite's run handed to its worker — so it never counts as given.)"""
    field = type(section).model_fields[key]
    return getattr(section, key) != field.get_default(call_default_factory=True)
