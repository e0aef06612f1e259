import pytest

from regimescope.config import config_hash, override, to_dict
from regimescope.errors import BadInput
from regimescope.organisms import PRESETS, OrganismConfig
from regimescope.regimes.pretrain import PretrainConfig


def test_hash_is_stable_and_sensitive():
    a = PretrainConfig()
    assert config_hash(a) == config_hash(PretrainConfig())
    assert config_hash(a) != config_hash(override(a, steps=a.steps + 1))
    assert config_hash(a) != config_hash(override(a, **{"organism.width": 32}))


def test_override_nested_and_unknown():
    cfg = override(PretrainConfig(), **{"organism.depth": 5, "lr": 1e-3})
    assert cfg.organism.depth == 5 and cfg.lr == 1e-3
    with pytest.raises(BadInput, match="unknown config field 'nope'"):
        override(cfg, nope=1)


def test_to_dict_round_trips_json_types():
    d = to_dict(PretrainConfig())
    assert d["organism"] == to_dict(OrganismConfig())
    assert d["betas"] == [0.9, 0.95]


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_builds(name):
    cfg = PRESETS[name]()
    assert cfg.width % 16 == 0 and cfg.depth > 0
