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


def test_a_field_added_later_keys_a_run_only_away_from_its_default():
    """``RecorderConfig.mechanics`` came after runs were stored: at its default the hash is
    the one the config had without it (the canonical JSON of every other field)."""
    import hashlib
    import json

    from regimescope.regimes.mechanics_probe import MechanicsConfig
    from regimescope.regimes.sft import SFTConfig

    cfg = SFTConfig()
    without = to_dict(cfg)
    del without["recorder"]["mechanics"]
    canonical = json.dumps(without, sort_keys=True, separators=(",", ":"))
    assert config_hash(cfg) == hashlib.sha256(canonical.encode()).hexdigest()[:12]
    reading = override(cfg, **{"recorder.mechanics": MechanicsConfig(sharpness_every=5)})
    assert config_hash(reading) != config_hash(cfg)
    assert to_dict(cfg)["recorder"]["mechanics"]["sharpness_every"] == 0  # still written


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
