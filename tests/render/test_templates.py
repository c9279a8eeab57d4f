from __future__ import annotations

import jinja2
import pytest

from egress.render import templates


def test_templates_come_from_the_checkout() -> None:
    folder = templates.templates_dir()
    assert (folder / "proxy" / "squid.conf.j2").is_file()


def test_undefined_variables_are_errors() -> None:
    env = templates.environment()
    with pytest.raises(jinja2.UndefinedError):
        env.from_string("{{ missing }}").render()


def test_filters_and_bash_syntax_survive() -> None:
    env = templates.environment()
    text = env.from_string("n=${#a[@]}\nx={{ v | bash }}\ny={{ v | ps }}\n{## note ##}").render(v="it's")
    assert text == "n=${#a[@]}\nx='it'\\''s'\ny='it''s'\n"


def test_no_autoescape_and_trailing_newline_kept() -> None:
    assert templates.environment().from_string("<{{ v }}>\n").render(v="&") == "<&>\n"
