"""Fuzzing the config parser: YAML files (load_config) and ``--set`` strings (apply_override / build_config).

Every input either gives a Config that writes back to the same YAML, or raises a UserError — never
another exception (no traceback for a typo in a config).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vislab.config import PRESET_DIR, Config, apply_override, build_config, load_config, parse_value
from vislab.errors import ConfigError, UserError

FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

DEFAULT_YAML = Config().to_yaml()
FAST_YAML = (PRESET_DIR / "fast.yaml").read_text()
SMALL_YAML = """\
data: {name: digits, limit: 300, split: [200, 50, 50], normalize: zca}
model: &m {name: cnn, widths: [8, 16], fc: [32]}
optim: {name: sgd, lr: 1e-2, momentum: 0.9, betas: [0.9, 0.99]}
augment:
  crop: {p: 0.5, padding: 2}
  affine: {p: 0.3, translate: [0.1, 0.2]}
train: {epochs: 3, batch_size: 32, early_stop: 2, grad_clip: 1.0, device: cpu}
"""
BASES = [DEFAULT_YAML, FAST_YAML, SMALL_YAML]

# Every dotted key of the schema, for structured inputs that reach deep into validation.
SECTIONS = {
    name: list(field.annotation.model_fields)
    for name, field in Config.model_fields.items()
    if hasattr(field.annotation, "model_fields")
}
DOTTED = [f"{s}.{k}" for s, keys in SECTIONS.items() for k in keys]
DOTTED += [
    f"augment.{op}.{k}"
    for op in ("crop", "hflip", "rotation", "affine", "blur", "erasing")
    for k in ("p", "padding", "degrees", "scale", "ratio", "kernel_size")
]
DOTTED += ["model.name", "model.widths", "model.hidden", "model.dropout"]

YAML_CHARS = st.sampled_from(
    list(":-[]{},#&*!|>'\"%@`?\n\t .0123456789eE+_abcdxyz~")
    + [
        "!!int ",
        "!!binary ",
        "&a ",
        "*a",
        "2001-13-01",
        ".nan",
        ".inf",
        "null",
        "true",
        "0x1F",
        "1e400",
        "\\u00e9",
    ]
)


def _tmpdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="vislab-fuzz-config-"))


@pytest.fixture(scope="module")
def yaml_file():
    return _tmpdir() / "config.yaml"


def loads_or_user_error(make):
    """Run ``make()``: a UserError with a message is fine; a Config must round-trip through its YAML."""
    try:
        cfg = make()
    except UserError as e:
        assert str(e).strip()
        return None
    assert isinstance(cfg, Config)
    text = cfg.to_yaml()
    assert build_config(yaml.safe_load(text), source="round trip").to_yaml() == text
    return cfg


@st.composite
def mutated_text(draw, bases=BASES) -> str:
    """A valid config with a few edits: characters/YAML tokens inserted, replaced or deleted, lines moved."""
    text = draw(st.sampled_from(bases))
    for _ in range(draw(st.integers(1, 5))):
        op = draw(
            st.sampled_from(["insert", "replace", "delete", "dup_line", "swap_lines", "truncate"])
        )
        pos = draw(st.integers(0, len(text)))
        if op == "insert":
            text = (
                text[:pos]
                + draw(st.lists(YAML_CHARS, min_size=1, max_size=4).map("".join))
                + text[pos:]
            )
        elif op == "replace":
            text = text[:pos] + draw(YAML_CHARS) + text[pos + 1 :]
        elif op == "delete":
            text = text[:pos] + text[pos + draw(st.integers(1, 10)) :]
        elif op == "truncate":
            text = text[:pos]
        else:
            lines = text.splitlines(keepends=True)
            if len(lines) > 1:
                i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
                if op == "dup_line":
                    lines.insert(j, lines[i])
                else:
                    lines[i], lines[j] = lines[j], lines[i]
                text = "".join(lines)
    return text


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(
        ["digits", "mlp", "cnn", "sgd", "adam", "cosine", "cpu", "cuda", "zca", "auto"]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
keys = st.one_of(st.sampled_from(DOTTED), st.text(max_size=10), st.sampled_from(list(SECTIONS)))


@st.composite
def config_trees(draw) -> dict:
    """Nested dicts built from schema keys (mostly) and random keys, holding random YAML-able values."""
    tree: dict = {}
    for _ in range(draw(st.integers(0, 8))):
        key, value = draw(keys), draw(values)
        parts = [p for p in key.split(".") if p] or ["x"]
        node = tree
        for part in parts[:-1]:
            node = node.setdefault(part, {}) if isinstance(node.get(part, {}), dict) else node
        node[parts[-1]] = value
    return tree


# ------------------------------------------------------------------------------------ YAML files
@FUZZ
@given(data=st.binary(max_size=400))
def test_random_bytes_as_yaml_file(yaml_file, data):
    yaml_file.write_bytes(data)
    loads_or_user_error(lambda: load_config(yaml_file))


@FUZZ
@given(text=mutated_text())
def test_mutated_yaml_file(yaml_file, text):
    yaml_file.write_text(text, encoding="utf-8", errors="surrogatepass")
    loads_or_user_error(lambda: load_config(yaml_file))


@FUZZ
@given(tree=config_trees())
def test_structured_random_yaml_file(yaml_file, tree):
    try:
        text = yaml.safe_dump(tree, allow_unicode=True)
    except yaml.YAMLError:
        return
    yaml_file.write_text(text, encoding="utf-8", errors="surrogatepass")
    loads_or_user_error(lambda: load_config(yaml_file))
    loads_or_user_error(lambda: build_config(tree))


@pytest.mark.parametrize(
    "text",
    [
        "[" * 5000,
        "a: " + "{b: " * 3000,
        "model:\n  k: &a [*a]\n",  # deep / self-referencing
        "model:\n  a: &a [x, x, x, x, x, x, x, x, x, x]\n  b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        "  c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n  d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
        "  e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
        "  f: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n",  # alias bomb
        "train: {epochs: 2001-13-01}",
        "train: {epochs: !!int abc}",
        "optim: {lr: !!float x}",
        "model: {k: !!binary /w==}",
        "data: !!python/object/apply:os.system ['true']",
        "\x00",
        "\ufeff\ufeff",
        "- 1\n- 2",
        "just text",
        "42",
        "model: [cnn]",
        "model: null",
        "data: 5",
        "{1: 2}",
        "~: 1",
        "train: {~: 1}",
    ],
)
def test_known_nasty_yaml_files_give_config_errors(yaml_file, text):
    yaml_file.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_config(yaml_file)
    assert str(yaml_file) in str(e.value) or "config" in str(e.value).lower()


def test_unreadable_config_paths(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="cannot be read"):
        load_config(tmp_path)  # a folder
    (tmp_path / "latin1.yaml").write_bytes("data: {name: caf\xe9}".encode("latin-1"))
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(tmp_path / "latin1.yaml")


# --------------------------------------------------------------------------------- --set strings
set_values = st.one_of(
    st.text(max_size=20),
    st.lists(YAML_CHARS, max_size=6).map("".join),
    st.sampled_from(
        [
            "1",
            "0",
            "-1",
            "1e-3",
            "1e400",
            "nan",
            ".nan",
            "true",
            "null",
            "~",
            "[8, 16]",
            "[",
            "{a: 1}",
            "{",
            "2001-13-01",
            "2001-01-01",
            "!!int x",
            "!!binary /w==",
            "&a [*a]",
            "[[[[[[[[",
            "a=b",
            "=",
            "sgd",
            "cosine",
            "cuda",
            "'quoted",
            '"1"',
            "[1, [2, [3]]]",
        ]
    ),
)


@FUZZ
@given(s=st.text(max_size=40))
def test_random_set_strings(s):
    loads_or_user_error(lambda: build_config({}, [s]))


@FUZZ
@given(key=keys, value=set_values, sep=st.sampled_from(["=", "=", "= ", " =", "==", ":"]))
def test_structured_set_strings(key, value, sep):
    s = f"{key}{sep}{value}"
    loads_or_user_error(lambda: build_config({}, [s]))
    tree = {"model": {"name": "mlp"}, "train": {"epochs": 1}}
    try:
        apply_override(tree, s)  # on its own: changes the dict or says why not
    except ConfigError as e:
        assert str(e)


@FUZZ
@given(
    tree=config_trees(),
    sets=st.lists(st.builds(lambda k, v: f"{k}={v}", keys, set_values), max_size=4),
)
def test_tree_plus_overrides(tree, sets):
    loads_or_user_error(lambda: build_config(tree, sets))


@FUZZ
@given(text=st.text(max_size=30))
def test_parse_value_never_raises(text):
    # a value YAML cannot build ('2001-13-01', '!!int x', '[[[[...') stays the text
    parse_value(text)


@pytest.mark.parametrize(
    "assignment, fragment",
    [
        ("optim.lr", "not of the form key.sub=value"),
        ("=3", "empty part"),
        ("train..epochs=3", "empty part"),
        ("train.epochs.x=3", "train.epochs"),
        ("train.epochs=2001-13-01", "train.epochs"),
        ("model.k=&a [*a]", "recursive"),
        ("model.k=!!binary /w==", "cannot be written back"),
        ("traim.epochs=3", "Did you mean 'train'"),
    ],
)
def test_bad_set_strings_name_the_culprit(assignment, fragment):
    with pytest.raises(ConfigError, match=None) as e:
        build_config({}, [assignment])
    assert fragment in str(e.value)


def test_a_self_referencing_set_value_is_refused_before_it_is_walked():
    """`--set data=&0 [*0]` then `--set data.name=x` (found by the fuzz above): a ConfigError naming the
    --set, not a RecursionError from the message that describes the list."""
    with pytest.raises(ConfigError, match=r"--set data\): it nests deeper"):
        build_config({}, ["data=&0 [*0]", "data.name=x"])
