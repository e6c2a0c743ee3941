"""Property-based checks of config validation: in-range values load and round-trip; out-of-range values are named."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.core.config import ConfigError, ProjectConfig, config_from_dict, config_to_toml, field_bounds
from workbench.core.config.files import tomllib

NUMERIC = [
    (section, name, info)
    for section in ("data", "preprocessing", "training", "evaluation")
    for name, info in ProjectConfig.model_fields[section].annotation.model_fields.items()
    if info.annotation in (int, float)
]


@pytest.mark.parametrize(("section", "name", "info"), NUMERIC, ids=[f"{s}.{n}" for s, n, _ in NUMERIC])
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_numeric_fields(section: str, name: str, info, data: st.DataObject) -> None:
    low, high, low_open, high_open = field_bounds(info)
    assert low is not None and high is not None
    if info.annotation is int:
        inside = data.draw(st.integers(int(low) + low_open, int(high) - high_open))
        outside = data.draw(st.one_of(st.integers(max_value=int(low) - (not low_open)),
                                      st.integers(min_value=int(high) + (not high_open))))
    else:
        inside = data.draw(st.floats(low, high, exclude_min=low_open, exclude_max=high_open))
        outside = data.draw(st.one_of(st.floats(max_value=low, exclude_max=not low_open, allow_nan=False,
                                                allow_infinity=False),
                                      st.floats(min_value=high, exclude_min=not high_open, allow_nan=False,
                                                allow_infinity=False)))
    config = config_from_dict({section: {name: inside}})
    assert getattr(getattr(config, section), name) == inside
    again = config_from_dict(tomllib.loads(config_to_toml(config)))
    assert again == config
    with pytest.raises(ConfigError) as info_error:
        config_from_dict({section: {name: outside}})
    assert f"{section}.{name}" in str(info_error.value)


@settings(max_examples=40, deadline=None)
@given(key=st.text(st.characters(min_codepoint=97, max_codepoint=122), min_size=1, max_size=12))
def test_unknown_keys_are_always_named(key: str) -> None:
    if key in ProjectConfig.model_fields:
        return
    with pytest.raises(ConfigError, match=key):
        config_from_dict({key: 1})
