"""Model specs: shipped TOML files, overrides and their validation."""

import pytest

from bnsl_bayes.spec import builtin_specs, load_spec


def test_shipped_specs_load():
    assert {"bnsl-0", "bnsl-1", "bnsl-2"} <= set(builtin_specs())
    for n in (0, 1, 2):
        spec = load_spec(f"bnsl-{n}")
        assert spec.breaks == n and spec.likelihood == "normal"


def test_overrides_from_python_change_the_model_key():
    base = load_spec("bnsl-1")
    new = load_spec("bnsl-1", priors={"c0": {"dist": "Normal", "mu": 0.5, "sigma": 0.2}}, likelihood="student_t")
    assert new.priors["c0"]["mu"] == 0.5 and new.likelihood == "student_t"
    assert new.model_key() != base.model_key()
    # sampler settings do not change the compiled model
    assert load_spec("bnsl-1", sampler={"draws": 10}).model_key() == base.model_key()


def test_spec_from_toml_path(tmp_path):
    text = (load_spec.__globals__["resources"].files("bnsl_bayes.models") / "bnsl-1.toml").read_text()
    path = tmp_path / "mine.toml"
    path.write_text(text.replace('name = "bnsl-1"', 'name = "mine"'))
    assert load_spec(str(path)).name == "mine"


@pytest.mark.parametrize(
    "priors, match",
    [
        ({"c0": {"dist": "Cauchy", "alpha": 0, "beta": 1}}, "unknown dist 'Cauchy'"),
        ({"c0": {"dist": "Normal", "mu": 0}}, r"needs parameters \('mu', 'sigma'\)"),
        ({"c0": {"dist": "Normal", "mu": "zero", "sigma": 1}}, "must be a number"),
        ({"slope": {"dist": "Normal", "mu": 0, "sigma": 1}}, "unknown prior 'slope'"),
    ],
)
def test_bad_priors_named(priors, match):
    with pytest.raises(ValueError, match=match):
        load_spec("bnsl-1", priors=priors)


def test_bad_spec_file(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text("breaks = [")
    with pytest.raises(ValueError, match="not valid TOML"):
        load_spec(str(p))
    with pytest.raises(ValueError, match="not found"):
        load_spec(str(tmp_path / "missing.toml"))


def test_shipped_name_wins_over_a_folder_of_that_name(tmp_path, monkeypatch):
    """A store or output folder called "bnsl-1" in the working directory does not hide the spec."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bnsl-1").mkdir()
    assert load_spec("bnsl-1").breaks == 1
    with pytest.raises(ValueError, match="it is a directory"):
        load_spec("./bnsl-1")


def test_breaks_pick_or_check_the_spec():
    assert load_spec().name == "bnsl-1" and load_spec(breaks=2).name == "bnsl-2"
    assert load_spec("bnsl-2", breaks=2).breaks == 2
    with pytest.raises(ValueError, match="has 1 breaks but breaks=2"):
        load_spec("bnsl-1", breaks=2)
    with pytest.raises(ValueError, match="breaks must be an integer"):
        load_spec(breaks=1.5)
