"""Mission configuration: a complete mission loads; each kind of mistake fails at load,
naming the file, the field and what is wrong."""

import copy
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from socstack._exceptions import ConfigError, FileNameError
from socstack.mission import Version, load_mission, load_missions
from tests.conftest import DEMO_MISSION

L0 = "{mission}_{instrument}_{level}_{descriptor}_{date:%Y%m%d}_v{version}.pkts"
CDF = "{mission}_{instrument}_{level}_{descriptor}_{date:%Y%m%d}_v{version}.cdf"
TIME = {"coarse": "SHCOARSE", "fine": "SHFINE", "epoch": "2010-01-01T00:00:00Z"}


def full_mission() -> dict[str, Any]:
    """A mission with every section: products, datasets, rules, release."""
    return {
        "name": "test",
        "title": "A complete test mission",
        "instruments": {"mag": {"title": "Magnetometer"}},
        "products": {
            "mag_l0": {
                "instrument": "mag",
                "level": "l0",
                "descriptor": "raw",
                "pattern": L0,
                "format": "ccsds",
                "options": {"xtce": "packets/mag.xml", "apids": [1040], "time": TIME},
            },
            "mag_cal": {
                "instrument": "mag",
                "level": "anc",
                "descriptor": "cal",
                "pattern": "{mission}_{instrument}_{level}_{descriptor}_{date:%Y%m%d}_v{version}.csv",
                "format": "csv",
                "partition": "valid_from",
                "options": {
                    "columns": ["channel", "offset", "gain"],
                    "numeric": ["offset", "gain"],
                },
            },
            "mag_l1a": {
                "instrument": "mag",
                "level": "l1a",
                "descriptor": "raw",
                "pattern": CDF,
                "format": "cdf",
            },
            "mag_l2": {
                "instrument": "mag",
                "level": "l2",
                "descriptor": "1s",
                "pattern": CDF,
                "format": "cdf",
                "options": {"variables": {"b_gse": [3], "spectrum": [4]}},
            },
        },
        "datasets": {
            "test_mag_l2": {
                "product": "mag_l2",
                "title": "Field at 1 s",
                "cadence": "PT1S",
                "max_request_duration": "P366D",
                "parameters": [
                    {
                        "name": "B_GSE",
                        "variable": "b_gse",
                        "units": "nT",
                        "fill": -1.0e31,
                        "size": [3],
                        "label": ["Bx", "By", "Bz"],
                    },
                    {
                        "name": "spectrum",
                        "units": "counts",
                        "size": [4],
                        "bins": [{"name": "energy", "units": "eV", "centers": [1, 2, 3, 4]}],
                    },
                ],
            }
        },
        "rules": {
            "mag_l1a": {
                "inputs": [{"product": "mag_l0"}],
                "outputs": [{"product": "mag_l1a", "interface": 1}],
                "function": "test_code.l1a:process",
                "code_version": "1.0.0",
            },
            "mag_l2": {
                "inputs": [
                    {"product": "mag_l1a", "window": "surrounding_days", "required": True},
                    {"product": "mag_cal", "window": "latest_valid"},
                ],
                "outputs": [{"product": "mag_l2", "interface": 2}],
                "function": "test_code.l2:process",
                "code_version": "1.2.0",
                "timeout": 60,
            },
        },
        "release": {"public_levels": ["l2"], "embargo_days": 30},
    }


def write(folder: Path, config: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "packets").exists():
        shutil.copytree(DEMO_MISSION / "packets", folder / "packets")
    (folder / "mission.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return folder


def test_a_complete_mission_loads(tmp_path: Path) -> None:
    mission = load_mission(write(tmp_path / "test", full_mission()))
    assert set(mission.products) == {"mag_l0", "mag_cal", "mag_l1a", "mag_l2"}
    assert mission.datasets["test_mag_l2"].parameters[0].fill == "-1e+31"
    assert mission.rules["mag_l2"].inputs[0].window.start == -1
    assert mission.rules["mag_l2"].inputs[1].window.kind == "latest_valid"
    assert [r.id for r in mission.rules_triggered_by("mag_cal")] == ["mag_l2"]
    name = mission.products["mag_l2"].file_name(
        __import__("datetime").date(2025, 1, 2), Version(2, 0, 1)
    )
    assert name.name == "test_mag_l2_1s_20250102_v2.0.1.cdf"


def test_the_demo_mission_loads_and_parses_names() -> None:
    registry = load_missions([DEMO_MISSION])
    product, name = registry.parse_name("demo_pls_l0_raw_20250107_v1.0.0.pkts")
    assert (product.id, name.partition, str(name.version)) == ("pls_l0", "2025-01-07", "1.0.0")
    with pytest.raises(FileNameError, match="matches no product"):
        registry.parse_name("demo_pls_l9_raw_20250107_v1.0.0.pkts")


Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    def mutate(config: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = config
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        if value is _DELETE:
            del node[int(last) if last.isdigit() else last]
        else:
            node[int(last) if last.isdigit() else last] = value

    return mutate


_DELETE = object()


def _summary_without_extremes(config: dict[str, Any]) -> None:
    datasets = config["datasets"]
    datasets["test_mag_l2_1m"] = {**datasets["test_mag_l2"], "cadence": "PT1M"}
    datasets["test_mag_l2"]["summary"] = "test_mag_l2_1m"


BAD_CONFIGS = [
    ("missing mission name", _set("name", _DELETE), "name", "Field required"),
    ("bad mission name", _set("name", "Test Mission"), "name", "should match pattern"),
    (
        "typo in a key",
        _set("products.mag_l0.formt", "ccsds"),
        "products.mag_l0.formt",
        "unknown key",
    ),
    (
        "unknown format",
        _set("products.mag_l0.format", "fits"),
        "products.mag_l0",
        "unknown format 'fits'",
    ),
    (
        "unknown pattern field",
        _set("products.mag_l1a.pattern", "{mission}_{orbit}_{date:%Y}_v{version}.cdf"),
        "products.mag_l1a",
        "unknown field {orbit}",
    ),
    (
        "pattern without date",
        _set("products.mag_l1a.pattern", "{mission}_v{version}.cdf"),
        "products.mag_l1a",
        "must contain {date}",
    ),
    (
        "end of validity on a daily product",
        _set("products.mag_l1a.pattern", "{mission}_{date:%Y%m%d}_{until:%Y%m%d}.cdf"),
        "products.mag_l1a",
        "{until} is for calibrations",
    ),
    (
        "validity in months",
        _set("products.mag_cal.validity", "P1M"),
        "products.mag_cal.validity",
        "whole days or weeks",
    ),
    (
        "unknown instrument",
        _set("products.mag_l1a.instrument", "pls"),
        None,
        "products.mag_l1a.instrument: unknown instrument 'pls'",
    ),
    (
        "bad partition",
        _set("products.mag_l1a.partition", "hourly"),
        "products.mag_l1a.partition",
        "'daily' or 'valid_from'",
    ),
    (
        "missing xtce file",
        _set("products.mag_l0.options.xtce", "packets/nope.xml"),
        "products.mag_l0",
        "no such file",
    ),
    (
        "apid out of range",
        _set("products.mag_l0.options.apids", [4096]),
        "products.mag_l0",
        "11-bit",
    ),
    (
        "time field not in xtce",
        _set("products.mag_l0.options.time.coarse", "CLOCK"),
        "products.mag_l0",
        "no parameter 'CLOCK'",
    ),
    (
        "csv options typo",
        _set("products.mag_cal.options.colums", ["a"]),
        "products.mag_cal",
        "options.colums",
    ),
    (
        "dataset of unknown product",
        _set("datasets.test_mag_l2.product", "mag_l3"),
        None,
        "datasets.test_mag_l2.product: unknown product 'mag_l3'",
    ),
    (
        "bad cadence",
        _set("datasets.test_mag_l2.cadence", "1 second"),
        "datasets.test_mag_l2.cadence",
        "ISO 8601 duration",
    ),
    (
        "empty duration",
        _set("datasets.test_mag_l2.cadence", "P"),
        "datasets.test_mag_l2.cadence",
        "ISO 8601 duration",
    ),
    (
        "duration with an empty time part",
        _set("datasets.test_mag_l2.max_request_duration", "P1DT"),
        "datasets.test_mag_l2.max_request_duration",
        "ISO 8601 duration",
    ),
    (
        "bins do not match size",
        _set("datasets.test_mag_l2.parameters.1.size", [5]),
        "datasets.test_mag_l2.parameters[1]",
        "size[0] is 5",
    ),
    (
        "string without length",
        _set("datasets.test_mag_l2.parameters.0.type", "string"),
        "datasets.test_mag_l2.parameters[0]",
        "needs a length",
    ),
    (
        "bad parameter type",
        _set("datasets.test_mag_l2.parameters.0.type", "float"),
        "datasets.test_mag_l2.parameters[0].type",
        "'double'",
    ),
    (
        "declared Time",
        _set("datasets.test_mag_l2.parameters.0.name", "Time"),
        "datasets.test_mag_l2",
        "do not declare it",
    ),
    (
        "rule input of unknown product",
        _set("rules.mag_l1a.inputs.0.product", "mag_l9"),
        None,
        "rules.mag_l1a.inputs[0].product: unknown product",
    ),
    (
        "rule window on a calibration",
        _set("rules.mag_l2.inputs.1.window", "same_day"),
        None,
        "a day window needs a daily product",
    ),
    (
        "latest_valid on daily input",
        _set("rules.mag_l2.inputs.0.window", "latest_valid"),
        None,
        "latest_valid needs a valid_from product",
    ),
    (
        "unknown window",
        _set("rules.mag_l2.inputs.0.window", "last_week"),
        "rules.mag_l2.inputs[0].window",
        "unknown window 'last_week'",
    ),
    (
        "reversed window",
        _set("rules.mag_l2.inputs.0.window", {"days": [1, -1]}),
        "rules.mag_l2.inputs[0].window",
        "starts (1) after it stops (-1)",
    ),
    (
        "bad entry point",
        _set("rules.mag_l1a.function", "test_code.l1a.process"),
        "rules.mag_l1a.function",
        "should match pattern",
    ),
    (
        "bad code version",
        _set("rules.mag_l1a.code_version", "one"),
        "rules.mag_l1a.code_version",
        "X.Y.Z",
    ),
    (
        "output is an input",
        _set("rules.mag_l1a.outputs.0.product", "mag_l0"),
        None,
        "is also an input",
    ),
    (
        "output made twice",
        _set("rules.mag_l1a.outputs.0.product", "mag_l2"),
        None,
        "is made by rule 'mag_l1a' too",
    ),
    (
        "nothing triggers",
        _set("rules.mag_l1a.inputs.0.triggers", False),
        "rules.mag_l1a",
        "at least one input must trigger",
    ),
    (
        "unknown summary",
        _set("datasets.test_mag_l2.summary", "nope"),
        None,
        "datasets.test_mag_l2.summary: unknown dataset 'nope'",
    ),
    (
        "summary of itself",
        _set("datasets.test_mag_l2.summary", "test_mag_l2"),
        None,
        "datasets.test_mag_l2.summary: a dataset cannot summarize itself",
    ),
    (
        "summary without extremes",
        _summary_without_extremes,
        None,
        "test_mag_l2_1m has no <name>_min and <name>_max for any parameter of test_mag_l2",
    ),
    ("zero timeout", _set("rules.mag_l2.timeout", 0), "rules.mag_l2.timeout", "greater than 0"),
    (
        "two inputs with one name",
        _set("rules.mag_l2.inputs.1", {"product": "mag_l1a"}),
        "rules.mag_l2",
        "inputs[1] and inputs[0] are both named 'mag_l1a'",
    ),
    (
        "required all on a calibration",
        _set("rules.mag_l2.inputs.1.required", "all"),
        "rules.mag_l2.inputs[1]",
        "is for day windows",
    ),
    (
        "same_day outside the window",
        _set(
            "rules.mag_l2.inputs.0",
            {"product": "mag_l1a", "window": "previous_day", "required": "same_day"},
        ),
        "rules.mag_l2.inputs[0]",
        "does not hold the partition's own day",
    ),
    (
        "required neither a flag nor a rule",
        _set("rules.mag_l2.inputs.0.required", "sometimes"),
        "rules.mag_l2.inputs[0].required",
        "'all', 'any' or 'same_day'",
    ),
    (
        "a parameter's variable the product does not hold",
        _set("datasets.test_mag_l2.parameters.0.variable", "b_gsm"),
        "datasets.test_mag_l2.parameters[0].variable",
        "product mag_l2's files hold no variable 'b_gsm'",
    ),
    (
        "a parameter's size is not its variable's",
        _set("products.mag_l2.options.variables.spectrum", [5]),
        "datasets.test_mag_l2.parameters[1].size",
        "size [4] but mag_l2's variable spectrum holds [5] per record",
    ),
    (
        "bins from a variable the product does not hold",
        _set(
            "datasets.test_mag_l2.parameters.1.bins.0",
            {"name": "energy", "units": "eV", "centers_variable": "energy_table"},
        ),
        "datasets.test_mag_l2.parameters[1].bins[0]",
        "hold no variable 'energy_table'",
    ),
    (
        "time-varying bins naming no parameter",
        _set("datasets.test_mag_l2.parameters.1.bins.0.centers", "energies"),
        "datasets.test_mag_l2",
        "names 'energies', which is not a parameter of the dataset",
    ),
    (
        "an instrument ending before it starts",
        _set("instruments.mag", {"start": "2025-02-01", "end": "2025-01-01"}),
        "instruments.mag",
        "end 2025-01-01 is before start 2025-02-01",
    ),
    (
        "a mission format that does not import",
        _set("formats", {"spc": "nowhere_at_all.formats:Reader"}),
        "formats.spc",
        "cannot import 'nowhere_at_all.formats:Reader'",
    ),
    (
        "a mission format named as a core one",
        _set("formats", {"csv": "test_code.formats:Reader"}),
        "formats.csv",
        "'csv' is a core format",
    ),
    (
        "negative embargo",
        _set("release.embargo_days", -1),
        "release.embargo_days",
        "greater than or equal to 0",
    ),
]


@pytest.mark.parametrize(
    ("case", "mutate", "field", "message"), BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS]
)
def test_bad_configs_fail_at_load(
    tmp_path: Path, case: str, mutate: Mutation, field: str | None, message: str
) -> None:
    config = copy.deepcopy(full_mission())
    mutate(config)
    folder = write(tmp_path / "test", config)
    with pytest.raises(ConfigError) as caught:
        load_mission(folder)
    text = str(caught.value)
    assert text.startswith(str(folder / "mission.yaml")), text
    if field is not None:
        assert caught.value.field == field, text
    assert message in text, text


def test_rule_cycles_are_refused(tmp_path: Path) -> None:
    config = full_mission()
    for n in (1, 2, 3):
        config["products"][f"p{n}"] = {
            "instrument": "mag",
            "level": "l3",
            "descriptor": f"p{n}",
            "pattern": CDF,
            "format": "cdf",
        }
    for n, (source, target) in enumerate([("p1", "p2"), ("p2", "p3"), ("p3", "p1")]):
        config["rules"][f"r{n}"] = {
            "inputs": [{"product": source}],
            "outputs": [{"product": target}],
            "function": "test_code.cycle:process",
            "code_version": "1.0.0",
        }
    folder = write(tmp_path / "test", config)
    with pytest.raises(ConfigError, match=r"rules: the rules form a cycle: (p\d -> ){3}p\d"):
        load_mission(folder)


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "mission.yaml").write_text("name: x\nproducts:\n  - [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"mission.yaml: line \d+, column \d+: invalid YAML"):
        load_mission(folder)


def test_overlapping_patterns_are_refused(tmp_path: Path) -> None:
    config = full_mission()
    config["products"]["mag_l1a_copy"] = dict(config["products"]["mag_l1a"])
    with pytest.raises(ConfigError, match="also matches product"):
        load_missions([write(tmp_path / "test", config)])


def test_two_missions_with_one_name_are_refused(tmp_path: Path) -> None:
    write(tmp_path / "all" / "one", full_mission())
    write(tmp_path / "all" / "two", full_mission())
    with pytest.raises(ConfigError, match="also defined in"):
        load_missions([tmp_path / "all"])


def test_a_missing_mission_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_missions([tmp_path / "nowhere"])


def test_a_typo_is_named_as_one_with_its_line(tmp_path: Path) -> None:
    config = full_mission()
    rule = config["rules"]["mag_l1a"]
    rule["fucntion"] = rule.pop("function")
    folder = write(tmp_path / "test", config)
    with pytest.raises(ConfigError) as caught:
        load_mission(folder)
    text = str(caught.value)
    assert "rules.mag_l1a.fucntion: unknown key (did you mean 'function'?)" in text, text
    assert "Field required" not in text, "the typo explains the missing key"
    lines = (folder / "mission.yaml").read_text().splitlines()
    assert "fucntion" in lines[caught.value.line - 1], (caught.value.line, text)


def test_every_mistake_is_reported_at_once_with_its_line(tmp_path: Path) -> None:
    config = full_mission()
    config["products"]["mag_l1a"]["level"] = "Level 1A"
    config["datasets"]["test_mag_l2"]["cadence"] = "1 second"
    config["rules"]["mag_l2"]["timeout"] = -5
    folder = write(tmp_path / "test", config)
    with pytest.raises(ConfigError) as caught:
        load_mission(folder)
    problems = {p.field: p for p in caught.value.problems}
    assert set(problems) == {
        "products.mag_l1a.level",
        "datasets.test_mag_l2.cadence",
        "rules.mag_l2.timeout",
    }, str(caught.value)
    lines = (folder / "mission.yaml").read_text().splitlines()
    for field, needle in [
        ("products.mag_l1a.level", "Level 1A"),
        ("datasets.test_mag_l2.cadence", "1 second"),
        ("rules.mag_l2.timeout", "-5"),
    ]:
        line = problems[field].line
        assert line is not None and needle in lines[line - 1], (field, line)
    text = str(caught.value)
    assert text.startswith(f"{folder / 'mission.yaml'}: 3 problems"), text
    assert f"{folder / 'mission.yaml'}:{problems['rules.mag_l2.timeout'].line}: " in text


def test_cross_reference_mistakes_are_reported_together(tmp_path: Path) -> None:
    config = full_mission()
    config["products"]["mag_l1a"]["instrument"] = "pls"
    config["rules"]["mag_l1a"]["inputs"][0]["product"] = "mag_l9"
    folder = write(tmp_path / "test", config)
    with pytest.raises(ConfigError) as caught:
        load_mission(folder)
    assert [p.field for p in caught.value.problems] == [
        "products.mag_l1a.instrument",
        "rules.mag_l1a.inputs[0].product",
    ]
    assert all(p.line for p in caught.value.problems)


def test_a_rule_queue_no_worker_takes_is_refused(tmp_path: Path) -> None:
    config = full_mission()
    config["rules"]["mag_l2"]["queue"] = "procesing"
    folder = write(tmp_path / "test", config)
    load_missions([folder])  # without the deployment's queues there is nothing to check
    with pytest.raises(ConfigError) as caught:
        load_missions([folder], queues=["processing", "quicklook"])
    assert caught.value.field == "rules.mag_l2.queue"
    assert "no worker takes queue 'procesing'" in str(caught.value)
    assert "SOC_QUEUES" in str(caught.value)
    lines = (folder / "mission.yaml").read_text().splitlines()
    assert "procesing" in lines[caught.value.line - 1]


def test_the_demo_rules_are_all_on_queues_a_default_worker_takes() -> None:
    from socstack.config import DEFAULT_QUEUES

    load_missions([DEMO_MISSION], queues=DEFAULT_QUEUES)


def test_inputs_are_named_by_their_product_unless_named() -> None:
    registry = load_missions([DEMO_MISSION])
    rule = registry.mission("demo").rules["mag_l1b"]
    assert [i.name for i in rule.inputs] == ["mag_l1a", "mag_cal"]
    assert [i.requirement for i in rule.inputs] == ["all", "all"]


def test_schema_and_cross_reference_mistakes_come_out_together(tmp_path: Path) -> None:
    config = full_mission()
    config["products"]["mag_l1a"]["formt"] = "cdf"  # a schema mistake in one product
    config["datasets"]["test_mag_l2"]["parameters"][0]["variable"] = "b_gsm"  # and elsewhere
    folder = write(tmp_path / "test", config)
    with pytest.raises(ConfigError) as caught:
        load_mission(folder)
    assert [p.field for p in caught.value.problems] == [
        "products.mag_l1a.formt",
        "datasets.test_mag_l2.parameters[0].variable",
    ], str(caught.value)
    # The rule reading mag_l1a is not said to name an unknown product: the product's own
    # mistake is the one to fix.
    assert "unknown product" not in str(caught.value)


def test_spase_quantities_are_spase_terms() -> None:
    from socstack.mission.spase import parse_spase_quantity

    assert parse_spase_quantity("Particle:Proton:NumberDensity").element == "ParticleQuantity"
    assert parse_spase_quantity("Field:Magnetic").particle_type is None
    for bad, says in [
        ("Field:Magnetc", "a Field quantity is one of"),
        ("Particle:NumberDensity", "Particle:Type:Quantity"),
        ("Particle:Quark:NumberDensity", "the particle type is one of"),
        ("Plasma:Density", "the kind is one of"),
        ("Support:Other:Extra", "write Support:Quantity"),
    ]:
        with pytest.raises(ValueError, match=says):
            parse_spase_quantity(bad)


def test_a_parameter_with_a_wrong_spase_term_is_refused_at_load(tmp_path: Path) -> None:
    config = full_mission()
    config["datasets"]["test_mag_l2"]["parameters"][0]["spase"] = "Field:Magnetism"
    with pytest.raises(ConfigError, match="a Field quantity is one of") as caught:
        load_mission(write(tmp_path / "test", config))
    assert caught.value.problems[0].field.startswith("datasets.test_mag_l2.parameters")
