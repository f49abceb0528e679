"""Bad template options stop generation with a message saying what to type instead,
and leave nothing on disk."""

import importlib.util
import json
import re
import subprocess
import sys
from importlib.metadata import packages_distributions

import pytest

from tests.conftest import TEMPLATE_DIR


def load_hook(name):
    spec = importlib.util.spec_from_file_location(name, TEMPLATE_DIR / "hooks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pre_gen = load_hook("pre_gen_project")
post_gen = load_hook("post_gen_project")


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("project_slug", "my-site", "try project_slug='my_site'"),
        ("project_slug", "My_Site", "try project_slug='my_site'"),
        ("project_slug", "2fast", "try project_slug='site_2fast'"),
        ("project_slug", "class", "clashes with a Python keyword"),
        ("project_slug", "celery", "clashes"),
        ("project_slug", "django", "clashes"),
        ("project_slug", "test", "clashes"),
        ("project_slug", "json", "clashes"),
        ("project_slug", "examples", "clashes"),
        ("project_name", "  ", "project_name is empty"),
        ("email", "not-an-address", "try email='you@example.com'"),
        ("domain_name", "http://example.com", "try domain_name='example.com'"),
        ("domain_name", "example.com/shop", "try domain_name='example.com'"),
        ("timezone", "Mars/Olympus_Mons", "not a known IANA time zone"),
        ("timezone", "../etc/passwd", "not a known IANA time zone"),
        ("broker", "sqs", "try broker='rabbitmq'"),
        ("include_examples", "maybe", "try include_examples='y'"),
    ],
)
def test_each_bad_option_is_named_with_a_fix(option, value, expected):
    options = {
        "project_name": "My Site",
        "project_slug": "my_site",
        "email": "you@example.com",
        "domain_name": "example.com",
        "timezone": "UTC",
        "broker": "rabbitmq",
        "result_backend": "django-db",
        "use_sentry": "n",
    }
    options[option] = value

    messages = pre_gen.problems(options)

    assert len(messages) == 1
    assert expected in messages[0]


def test_a_domain_in_capitals_is_accepted():
    """Domain names are case-insensitive; the generated files get it lower-cased."""
    options = {
        "project_name": "My Site",
        "project_slug": "my_site",
        "email": "you@example.com",
        "domain_name": "Shop.Example.COM",
        "timezone": "UTC",
        "broker": "rabbitmq",
        "result_backend": "django-db",
        "use_sentry": "n",
    }

    assert pre_gen.problems(options) == []


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("project_slug", "my-site", "try project_slug='my_site'"),
        ("project_slug", "class", "clashes with a Python keyword"),
        ("email", "nobody", "try email='you@example.com'"),
        ("timezone", "Nowhere/Special", "not a known IANA time zone"),
        ("domain_name", "not a domain", "try domain_name='example.com'"),
        # The slug is made from the name: an empty name must still reach the hook.
        ("project_name", "", "project_name is empty"),
        ("project_name", "   ", "project_name is empty"),
    ],
)
def test_generation_stops_with_the_message_and_leaves_nothing(tmp_path, option, value, expected):
    result = subprocess.run(
        [sys.executable, "-m", "cookiecutter", "--no-input", "--output-dir", str(tmp_path)]
        + [str(TEMPLATE_DIR), f"{option}={value}"],
        capture_output=True,
        text=True,
    )

    assert result.returncode != 0
    assert "ERROR: " in result.stderr
    assert expected in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_choice_is_refused_by_cookiecutter_and_leaves_nothing(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "cookiecutter", "--no-input", "--output-dir", str(tmp_path)]
        + [str(TEMPLATE_DIR), "broker=sqs"],
        capture_output=True,
        text=True,
    )

    assert result.returncode != 0
    assert "sqs" in result.stderr + result.stdout
    assert list(tmp_path.iterdir()) == []


def test_placeholders_get_distinct_secrets_shared_by_every_use():
    text = "A=change-me-one\nB=change-me-two\nURL=x://u:change-me-one@h\n"

    filled = post_gen.fill_placeholders(text)

    lines = dict(line.split("=", 1) for line in filled.splitlines())
    assert "change-me" not in filled
    assert lines["A"] != lines["B"]
    assert lines["URL"] == f"x://u:{lines['A']}@h"
    assert len(lines["A"]) >= 40


def test_each_generation_writes_new_secrets(bake):
    first = (bake(project_slug="first") / ".env").read_text()
    second = (bake(project_slug="second") / ".env").read_text()

    def secret(text):
        return next(line for line in text.splitlines() if line.startswith("DJANGO_SECRET_KEY="))

    assert "=change-me" not in first
    assert secret(first) != secret(second)


def test_the_closing_message_gives_the_project_by_its_absolute_path(tmp_path):
    """The README generates into `..`: a relative `cd my_site` would be wrong there."""
    result = subprocess.run(
        [sys.executable, "-m", "cookiecutter", "--no-input", "--output-dir", "out"]
        + [str(TEMPLATE_DIR), "project_name=Shop"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )

    assert result.returncode == 0, result.stderr
    assert f"    cd {tmp_path / 'out' / 'shop'}\n" in result.stdout


PIN = re.compile(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==")


def canonical(distribution):
    return re.sub(r"[-_.]+", "-", distribution).lower()


def test_every_package_the_project_imports_is_a_reserved_slug():
    """RESERVED_SLUGS holds the project's own top-level packages and modules, and the
    import names of every distribution its requirements pin (as installed here, where
    the tests run with exactly those pins)."""
    project = TEMPLATE_DIR / "{{cookiecutter.project_slug}}"
    own = {path.stem for path in project.glob("*.py")}
    own |= {path.parent.name for path in project.glob("*/__init__.py")}
    pinned = {
        canonical(match[1])
        for requirements in (project / "requirements").glob("*.txt")
        for line in requirements.read_text().splitlines()
        if (match := PIN.match(line))
    }
    imported = {
        name
        for name, distributions in packages_distributions().items()
        if name.isidentifier()
        and not name.startswith("_")
        and pinned & {canonical(distribution) for distribution in distributions}
    }
    assert {"config", "manage"} <= own
    assert {"django", "environ", "sentry_sdk", "pytest"} <= imported

    assert sorted((own | imported) - pre_gen.RESERVED_SLUGS) == []


def options_table():
    """docs/options.md's table: option -> (default, meaning) as written there."""
    text = (TEMPLATE_DIR / "docs" / "options.md").read_text()
    rows = re.findall(r"^\| `(\w+)` \|(.*?)\|(.*?)\|.*\|$", text, re.M)
    return {option: (default.strip(), meaning.strip()) for option, default, meaning in rows}


def test_each_option_has_a_prompt_and_a_documented_default():
    context = json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text())
    prompts = context.pop("__prompts__")
    options = {key: value for key, value in context.items() if not key.startswith("_")}
    table = options_table()

    assert sorted(options) == sorted(prompts)
    assert sorted(set(options) - set(table)) == []
    for option, value in options.items():
        default, meaning = table[option]
        assert meaning, option
        if isinstance(value, list):
            assert default == f"`{value[0]}`", option
        elif "{{" in value:
            assert default.startswith("from "), option
        else:
            assert default == f"`{value}`", option
