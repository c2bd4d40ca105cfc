"""One typed settings object for the whole daemon.

Values come, in increasing precedence, from defaults, a TOML file (``--config``)
and environment variables named ``CALLCENTER_<SECTION>__<KEY>`` (for example
``CALLCENTER_AMI__HOST``) or ``CALLCENTER_<KEY>`` for top-level keys. A bad
value stops start-up with one line that names the key (:class:`ConfigError`).
"""

from __future__ import annotations

import tomllib
import zoneinfo
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

ENV_PREFIX = "CALLCENTER_"


class ConfigError(Exception):
    """A configuration problem, phrased as one line a human can act on."""


class Section(BaseModel):
    """A table of the TOML file; unknown keys are errors (typos must not pass silently)."""

    model_config = ConfigDict(extra="forbid")


class DatabaseSettings(Section):
    url: str = "sqlite+aiosqlite:///callcenter.db"
    echo: bool = False

    @field_validator("url")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value


class AmiSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=5038, ge=1, le=65535)
    username: str = "callcenter"
    secret: SecretStr = SecretStr("change-me")
    #: Longest pause between reconnect attempts. Short on purpose: Asterisk back after a
    #: restart must be reconnected within 2 s (tests/faults/test_ami_restart.py); an
    #: attempt is one TCP connect to a (usually local) port.
    reconnect_max_seconds: float = Field(default=1.0, gt=0)


class AgiSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=4573, ge=0, le=65535)
    route_deadline_seconds: float = Field(default=1.0, gt=0)


class AsteriskSettings(Section):
    """Where the Asterisk the daemon drives keeps its files (``callcenter asterisk …``)."""

    config_dir: Path = Path("/etc/asterisk")
    sounds_dir: Path = Path("/var/lib/asterisk/sounds")
    moh_dir: Path = Path("/var/lib/asterisk/moh/callcenter")
    sync_on_change: bool = False


class SoftphoneSettings(Section):
    """The browser softphone in the agent page (SIP over a secure websocket to Asterisk)."""

    #: Asterisk's SIP websocket as the browser reaches it; empty: ``/ws`` on the page's own
    #: origin (the reverse proxy in front of both, ``wss://`` under HTTPS).
    ws_url: str = ""
    #: The domain of the agents' SIP addresses; empty: the page's host name.
    sip_domain: str = ""
    #: JsSIP's browser bundle (``dist/jssip.min.js`` of the npm package); empty: the one
    #: ``scripts/_setup.sh`` installs under ``.npm/`` in the checkout.
    jssip_file: str = ""
    #: STUN servers the browser asks for its public address (``stun:host:3478``); empty:
    #: agents on the PBX's LAN or VPN only.
    stun_urls: list[str] = []
    #: TURN relays for agents behind NAT that blocks direct media (``turn:host:3478``,
    #: ``turns:host:5349?transport=tcp``). Each agent gets short-lived credentials made
    #: from ``turn_secret``, coturn's ``static-auth-secret`` (the "TURN REST API").
    turn_urls: list[str] = []
    turn_secret: SecretStr = SecretStr("")
    #: How long a TURN credential is valid: a shift, renewed when the page asks again.
    turn_ttl_seconds: int = Field(default=12 * 3600, ge=60, le=7 * 24 * 3600)

    @field_validator("stun_urls", "turn_urls")
    @classmethod
    def _ice_urls(cls, value: list[str], info: Any) -> list[str]:
        schemes = ("stun:", "stuns:") if info.field_name == "stun_urls" else ("turn:", "turns:")
        for url in value:
            if not url.startswith(schemes):
                raise ValueError(f"{url!r} does not start with {' or '.join(schemes)}")
        return value

    @model_validator(mode="after")
    def _turn_needs_secret(self) -> SoftphoneSettings:
        if self.turn_urls and not self.turn_secret.get_secret_value():
            raise ValueError(
                "turn_urls are set but turn_secret is empty (coturn's static-auth-secret)"
            )
        return self


class HttpSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    behind_https: bool = False
    max_upload_mb: float = Field(default=20.0, gt=0)
    #: The address people open the pages at, for links in emails and SMS (no trailing /).
    public_url: str = "http://127.0.0.1:8080"


class SmtpSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=25, ge=1, le=65535)
    username: str = ""
    password: SecretStr = SecretStr("")
    use_tls: bool = False
    start_tls: bool = False
    sender: str = "callcenter@localhost"


class SmsSettings(Section):
    gateway_url: str = ""
    api_key: SecretStr = SecretStr("")
    sender: str = ""


class PrintingSettings(Section):
    """Where departments' job sheets are printed (a department with the print channel)."""

    #: A command that takes the sheet's PDF on its standard input, e.g.
    #: ``["lp", "-d", "{department}"]`` (CUPS: one queue per department code).
    command: list[str] = []
    #: Else a folder a print station watches: ``<department>/job-<n>.pdf`` (and ``.html``).
    spool_dir: str = ""


class SpeechSettings(Section):
    """Offline transcription of recordings (``callcenter/transcripts``, ``callcenter/stt``)."""

    engine: Literal["vosk"] = "vosk"
    #: The model folder; empty turns transcription off (jobs wait in the queue).
    model_path: str = ""
    #: Worker processes; empty = CPU cores − 1 (at least 1), 0 = transcription off.
    workers: int | None = Field(default=None, ge=0, le=64)
    #: How much lower than the daemon the workers run (``nice`` increment).
    niceness: int = Field(default=10, ge=0, le=19)
    #: Compress the WAV to Opus (Ogg) once transcribed; playback then serves the Ogg file.
    compress: bool = True


class RetentionSettings(Section):
    """How long recordings and, separately, transcripts are kept (0 = forever)."""

    recordings_days: int = Field(default=0, ge=0)
    transcripts_days: int = Field(default=0, ge=0)


class Settings(BaseSettings):
    """Every setting the daemon reads. Sections mirror the TOML file's tables."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        case_sensitive=False,
    )

    timezone: str = "Asia/Ho_Chi_Minh"
    language: Literal["vi", "en"] = "vi"
    session_secret: SecretStr = SecretStr("")
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    recordings_dir: Path = Path("recordings")
    prompts_dir: Path = Path("prompts")
    attachments_dir: Path = Path("attachments")
    database: DatabaseSettings = DatabaseSettings()
    ami: AmiSettings = AmiSettings()
    agi: AgiSettings = AgiSettings()
    asterisk: AsteriskSettings = AsteriskSettings()
    softphone: SoftphoneSettings = SoftphoneSettings()
    http: HttpSettings = HttpSettings()
    smtp: SmtpSettings = SmtpSettings()
    sms: SmsSettings = SmsSettings()
    printing: PrintingSettings = PrintingSettings()
    speech: SpeechSettings = SpeechSettings()
    retention: RetentionSettings = RetentionSettings()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from None
        return value

    @field_validator("session_secret")
    @classmethod
    def _strong_secret(cls, value: SecretStr) -> SecretStr:
        if value.get_secret_value() and len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters (or empty to generate one)")
        return value

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment wins over the file, the file (passed as init kwargs) over defaults.
        return (env_settings, init_settings)


def _describe(error: Any) -> str:
    key = ".".join(str(part) for part in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown setting"
    env_name = ENV_PREFIX + "__".join(str(part) for part in error["loc"]).upper()
    return f"configuration error: {key} (env {env_name}): {message}"


def load_settings(path: str | Path | None = None, **overrides: Any) -> Settings:
    """Read the TOML file (if any) and the environment; raise ConfigError on a bad value."""
    data: dict[str, Any] = {}
    if path is not None:
        file_path = Path(path)
        try:
            data = tomllib.loads(file_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"configuration error: file {file_path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(
                f"configuration error: {file_path} is not valid TOML: {exc}"
            ) from None
    data.update(overrides)
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc.errors()[0])) from None


def masked(settings: Settings) -> dict[str, Any]:
    """The effective settings as plain data, with every secret replaced by stars."""

    def walk(value: Any) -> Any:
        if isinstance(value, SecretStr):
            return "********" if value.get_secret_value() else ""
        if isinstance(value, BaseModel):
            return {name: walk(getattr(value, name)) for name in type(value).model_fields}
        if isinstance(value, Path):
            return str(value)
        return value

    result: dict[str, Any] = walk(settings)
    # A database URL may carry a password: mask the part between ':' and '@'.
    url: str = result["database"]["url"]
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        if ":" in credentials:
            credentials = credentials.split(":", 1)[0] + ":********"
        result["database"]["url"] = f"{scheme}://{credentials}@{host}"
    return result
