"""Files that run `egress refresh --apply` on a scheduler that already exists: cron, a systemd timer, a GitHub
Actions workflow or a Kubernetes CronJob.

Every value is validated before rendering and quoted for the language it lands in by an explicit template
filter: `bash` (POSIX shell words), `cron` (shell words with crontab's `%` escaped), `systemd` (unit-file
words: quotes, `%` specifiers and `$` expansion neutralised) and `yaml` (a double-quoted YAML scalar).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jinja2

from egress.errors import UsageError
from egress.render.header import Header
from egress.render.quoting import bash_quote
from egress.render.templates import environment

KINDS = ("cron", "systemd", "github-actions", "k8s-cronjob")
# Off the hour (schedulers are busiest on it); Tuesday leaves a day for Monday's weekly publication.
PRESETS = {"weekly": "23 5 * * 2", "daily": "23 5 * * *"}
DEFAULT_NAME = "egress-refresh"
K8S_CONFIG_DIR = "/etc/egress"
K8S_CONFIG_FILE = "egress.toml"
K8S_CACHE_DIR = "/var/cache/egress"
CLIENT_ID_PLACEHOLDER = "<client-id of the managed identity federated with this service account>"
RANDOMIZED_DELAY = "30m"
AZURE_LOGIN_ENVIRONMENTS = {
    "public": "AzureCloud",
    "usgov": "AzureUSGovernment",
    "china": "AzureChinaCloud",
    "germany": "AzureGermanCloud",
}

# --- cron expressions ---------------------------------------------------------------------------------------------

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_SYSTEMD_DAYS = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")
# (name, low, high, names) per field. Day of week is 0-6: GitHub and Kubernetes do not accept cron's 7.
_FIELDS: tuple[tuple[str, int, int, tuple[str, ...]], ...] = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 6, _DAYS),
)
_ITEM = re.compile(r"(?P<range>\*|[0-9a-z]+(?:-[0-9a-z]+)?)(?:/(?P<step>[0-9]+))?")


@dataclass(frozen=True, slots=True)
class CronSchedule:
    """A validated five-field cron expression (minute hour day-of-month month day-of-week)."""

    fields: tuple[str, str, str, str, str]

    @property
    def expression(self) -> str:
        return " ".join(self.fields)

    def values(self, index: int) -> list[int]:
        name, low, high, names = _FIELDS[index]
        return _expand(self.fields[index], name, low, high, names)


def _number(token: str, name: str, low: int, high: int, names: tuple[str, ...]) -> int:
    if token.isdigit():
        value = int(token)
    elif token in names:
        value = names.index(token) + (1 if names is _MONTHS else 0)
    else:
        raise UsageError(f"cron {name} {token!r} is not a number{' or a name' if names else ''}.")
    if not low <= value <= high:
        raise UsageError(f"cron {name} {value} is outside {low}-{high}.")
    return value


def _expand(text: str, name: str, low: int, high: int, names: tuple[str, ...]) -> list[int]:
    out: set[int] = set()
    for item in text.lower().split(","):
        match = _ITEM.fullmatch(item)
        if not match:
            raise UsageError(f"cron {name} {item!r} is not `*`, a value, a range a-b or a step */n.")
        part, step_text = match["range"], match["step"]
        step = int(step_text) if step_text else 1
        if step < 1:
            raise UsageError(f"cron {name} step must be at least 1, not {step}.")
        if part == "*":
            start, stop = low, high
        elif "-" in part:
            a, b = part.split("-", 1)
            start, stop = _number(a, name, low, high, names), _number(b, name, low, high, names)
            if start > stop:
                raise UsageError(f"cron {name} range {part} runs backwards.")
        else:
            if step_text:
                raise UsageError(
                    f"cron {name} {item!r}: a step needs `*` or a range before it (e.g. */{step})."
                )
            start = stop = _number(part, name, low, high, names)
        out.update(range(start, stop + 1, step))
    return sorted(out)


def parse_every(every: str) -> CronSchedule:
    """`weekly`, `daily` or a five-field cron expression, validated field by field."""
    text = PRESETS.get(every.strip().lower(), every.strip())
    if any(ch in text for ch in "\n\r\t\x00") or text.startswith("@"):
        raise UsageError(f"--every {every!r}: use weekly, daily or five cron fields like '23 5 * * 2'.")
    parts = text.split()
    if len(parts) != 5:
        raise UsageError(
            f"--every {every!r} has {len(parts)} fields; a cron expression has five "
            "(minute hour day-of-month month day-of-week), e.g. '23 5 * * 2'."
        )
    schedule = CronSchedule((parts[0], parts[1], parts[2], parts[3], parts[4]))
    for index in range(5):
        schedule.values(index)
    return schedule


def on_calendar(schedule: CronSchedule) -> str:
    """The systemd OnCalendar= form of a cron schedule (both are local time)."""
    dom_any, dow_any = schedule.fields[2].startswith("*"), schedule.fields[4].startswith("*")
    if not dom_any and not dow_any:
        # cron runs when EITHER matches; OnCalendar needs both: there is no faithful translation.
        raise UsageError(
            f"--every {schedule.expression!r} restricts both day of month and day of week, which cron ORs and "
            "systemd ANDs; for --kind systemd restrict only one of them."
        )

    def part(index: int, width: int) -> str:
        _, low, high, _ = _FIELDS[index]
        values = schedule.values(index)
        if values == list(range(low, high + 1)):
            return "*"
        return ",".join(f"{v:0{width}d}" for v in values)

    days = schedule.values(4)
    dow = "" if days == list(range(7)) else ",".join(_SYSTEMD_DAYS[d] for d in days) + " "
    return f"{dow}*-{part(3, 2)}-{part(2, 2)} {part(1, 2)}:{part(0, 2)}:00"


# --- quoting ------------------------------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]")


def no_control(value: str, what: str) -> str:
    if _CONTROL.search(value):
        raise UsageError(f"{what} {value!r} contains a control character (newline, tab, ...): remove it.")
    return value


_PLAIN = re.compile(r"[A-Za-z0-9_@+=:,./-]+")  # needs no quoting in sh or in a unit file


def shell_word(value: str) -> str:
    """A POSIX shell word: bare when it is plainly safe, else single-quoted."""
    no_control(value, "a value")
    return value if _PLAIN.fullmatch(value) else bash_quote(value)


def cron_quote(value: str) -> str:
    """A shell word for a crontab command: cron turns an unescaped `%` into a newline, so it is escaped."""
    return shell_word(value).replace("%", "\\%")


def systemd_quote(value: str) -> str:
    """One word of an ExecStart= line: double-quoted, C escapes for `\\` and `"`, `%%` and `$$` literal."""
    no_control(value, "a value")
    if _PLAIN.fullmatch(value):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")
    return f'"{escaped}"'


def systemd_value(value: str) -> str:
    """A unit-file setting's value: `%` specifiers neutralised, no line breaks."""
    return no_control(value, "a value").replace("%", "%%")


_YAML_SHORT = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _yaml_char(ch: str) -> str:
    code = ord(ch)
    if ch in ('"', "\\"):
        return "\\" + ch
    if ch in _YAML_SHORT:
        return _YAML_SHORT[ch]
    # YAML's printable set, minus the characters it reads as line breaks (NEL, LS, PS) and the BOM.
    printable = (
        0x20 <= code <= 0x7E or 0xA0 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or code >= 0x10000
    ) and code not in (0x2028, 0x2029, 0xFEFF)
    if printable:
        return ch
    return f"\\u{code:04X}" if code <= 0xFFFF else f"\\U{code:08X}"


def yaml_quote(value: object) -> str:
    """A double-quoted YAML scalar; everything that is not plainly printable is written as an escape."""
    text = str(value)
    if "${{" in text:
        # GitHub Actions evaluates `${{ ... }}` anywhere in a workflow, quoted or not.
        raise UsageError(f"value {text!r} contains `${{{{`, which GitHub Actions would evaluate: remove it.")
    return '"' + "".join(_yaml_char(ch) for ch in text) + '"'


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = environment().overlay()
    env.filters["cron"] = cron_quote
    env.filters["systemd"] = systemd_quote
    env.filters["systemd_value"] = systemd_value
    env.filters["yaml"] = yaml_quote
    return env


def _render(template: str, **context: Any) -> str:
    return _environment().get_template(template).render(**context)


# --- settings -----------------------------------------------------------------------------------------------------

_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,50}[a-z0-9])?")
_USER = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
_IMAGE = re.compile(
    r"[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?"
)
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise UsageError(
            f"--name {name!r}: use 1-52 lowercase letters, digits and `-` (it names a unit, job or workflow)."
        )
    return name


def check_image(image: str) -> str:
    if not _IMAGE.fullmatch(image):
        raise UsageError(f"--image {image!r} is not a container image reference like ghcr.io/org/egress:1.0.")
    return image


def check_client_id(client_id: str) -> str:
    if not _GUID.fullmatch(client_id):
        raise UsageError(f"--client-id {client_id!r} is not a GUID (the managed identity's client id).")
    return client_id.lower()


def check_user(user: str) -> str:
    if not _USER.fullmatch(user):
        raise UsageError(f"--user {user!r} is not a valid user name.")
    return user


def check_absolute(path: str, what: str) -> str:
    no_control(path, what)
    if not path.startswith("/"):
        raise UsageError(
            f"{what} {path!r} must be an absolute path (schedulers do not start in your folder)."
        )
    return path


def check_word(value: str, what: str) -> str:
    no_control(value, what)
    if not value.strip() or value != value.strip():
        raise UsageError(f"{what} {value!r} must be non-empty with no leading or trailing blanks.")
    return value


@dataclass(frozen=True, slots=True)
class ScheduleSettings:
    kind: str
    schedule: CronSchedule
    config: str  # the config's path as the scheduled command sees it
    config_name: str  # for descriptions (the file's name)
    config_text: str = ""  # the config itself (embedded in the Kubernetes ConfigMap)
    name: str = DEFAULT_NAME
    command: tuple[str, ...] = ("egress",)  # how to start egress (cron, systemd)
    auth: str = "default"
    log: str = ""  # cron: where output goes
    user: str | None = None  # systemd: run as this user
    image: str | None = None  # k8s
    client_id: str | None = None  # k8s workload identity
    install: str = "egress"  # github-actions: pip requirement
    cloud: str = "public"

    def refresh_args(self, config: str, output: str) -> list[str]:
        return ["refresh", "--config", config, "--apply", "--auth", self.auth, "--output", output]


def _cron_files(s: ScheduleSettings, header: Header) -> dict[str, str]:
    words = [*s.command, *s.refresh_args(s.config, "text")]
    text = _render(
        "schedule/crontab.j2",
        header=header.comment("#"),
        schedule=s.schedule.expression,
        words=words,
        log=s.log,
    )
    return {f"{s.name}.crontab": text}


def _systemd_files(s: ScheduleSettings, header: Header) -> dict[str, str]:
    words = [*s.command, *s.refresh_args(s.config, "text")]
    service = _render(
        "schedule/service.j2",
        header=header.comment("#"),
        words=words,
        user=s.user,
        config_name=s.config_name,
    )
    timer = _render(
        "schedule/timer.j2",
        header=header.comment("#"),
        on_calendar=on_calendar(s.schedule),
        cron=s.schedule.expression,
        name=s.name,
        delay=RANDOMIZED_DELAY,
    )
    return {f"{s.name}.service": service, f"{s.name}.timer": timer}


def _github_files(s: ScheduleSettings, header: Header) -> dict[str, str]:
    text = _render(
        "schedule/github-actions.yml.j2",
        header=header.comment("#"),
        name=s.name,
        cron=s.schedule.expression,
        config=s.config,
        auth=s.auth,
        install=s.install,
        environment=AZURE_LOGIN_ENVIRONMENTS.get(s.cloud, "AzureCloud"),
    )
    return {f"{s.name}.yml": text}


def _k8s_files(s: ScheduleSettings, header: Header) -> dict[str, str]:
    config_path = f"{K8S_CONFIG_DIR}/{K8S_CONFIG_FILE}"
    args = ["egress", *s.refresh_args(config_path, "json")]
    script = (
        " ".join(shell_word(a) for a in args)
        + '; rc=$?; if [ "$rc" -eq 3 ]; then exit 0; fi; exit "$rc"'  # 3 = changes applied: a success
    )
    text = _render(
        "schedule/k8s-cronjob.yaml.j2",
        header=header.comment("#"),
        name=s.name,
        cron=s.schedule.expression,
        image=s.image,
        client_id=s.client_id or CLIENT_ID_PLACEHOLDER,
        config_dir=K8S_CONFIG_DIR,
        config_file=K8S_CONFIG_FILE,
        config_text=s.config_text,
        cache_dir=K8S_CACHE_DIR,
        script=script,
    )
    return {f"{s.name}-cronjob.yaml": text}


def schedule_files(settings: ScheduleSettings, header: Header) -> dict[str, str]:
    """The files for `settings.kind`, by file name."""
    makers = {
        "cron": _cron_files,
        "systemd": _systemd_files,
        "github-actions": _github_files,
        "k8s-cronjob": _k8s_files,
    }
    if settings.kind not in makers:
        raise UsageError(f"unknown --kind {settings.kind!r}: use one of {', '.join(KINDS)}.")
    return makers[settings.kind](settings, header)
