"""Settings that decide where a credential is sent: what they may hold and where they may come
from. Used by the Slack and Google Sheets settings (and free of both): the URL check as a field
validator, the ``.env`` refusal through ``ENVIRONMENT_ONLY`` of ``engine.settings.Settings``.

A base URL that receives a token (Slack's bot token, Google's OAuth access token) decides who
gets the token. So it must be ``https://``, or ``http://`` to a loopback host only (where the
tests' stand-ins listen: nothing leaves the machine). And it comes from the process environment,
never from a ``.env``: that file is read from whatever directory the command runs in (a checked
out repository, a shared folder), and one that redirected the API would hand the real token,
set in the environment, to whoever wrote it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection
from typing import Any
from urllib.parse import urlsplit

from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError, ValidationError
from pydantic_settings import PydanticBaseSettingsSource

LOOPBACK_NAMES = frozenset({"localhost"})


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an IP literal, as ``urlsplit`` gives it) is this machine."""
    host = host.lower().rstrip(".")
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def credential_url(value: str, what: str = "the token is") -> str:
    """``value`` stripped, when a token (or ``what`` else) may be sent to it; else ValueError
    saying what it must be (for a settings validator, which names the variable)."""
    url = value.strip()
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 (a port that is not a number raises here)
    except ValueError:
        raise ValueError(f"{url!r} is not a URL") from None
    if parts.scheme == "https" and host:
        return url
    if parts.scheme == "http" and host and is_loopback(host):
        return url
    if parts.scheme == "http" and host:
        raise ValueError(
            f"must be an https:// URL, so that {what} never sent in clear text "
            "(http:// only to this machine: 127.0.0.1, ::1 or localhost)"
        )
    raise ValueError("must be an https:// URL")


class DotenvWithout(PydanticBaseSettingsSource):
    """A ``.env`` source that refuses to supply ``refused`` fields: a ``.env`` that sets one is
    a ``ValidationError`` naming it (even when the environment sets it too, so that the file
    is corrected rather than trusted by accident)."""

    def __init__(self, dotenv: PydanticBaseSettingsSource, refused: Collection[str]) -> None:
        super().__init__(dotenv.settings_cls)
        self.dotenv = dotenv
        self.refused = tuple(refused)

    def _set_current_state(self, state: dict[str, Any]) -> None:
        super()._set_current_state(state)
        self.dotenv._set_current_state(state)

    def _set_settings_sources_data(self, states: dict[str, dict[str, Any]]) -> None:
        super()._set_settings_sources_data(states)
        self.dotenv._set_settings_sources_data(states)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self.dotenv.get_field_value(field, field_name)

    def __call__(self) -> dict[str, Any]:
        values = self.dotenv()
        found = [name for name in self.refused if name in values]
        if found:
            raise ValidationError.from_exception_data(
                self.settings_cls.__name__,
                [
                    {
                        "type": PydanticCustomError(
                            "dotenv_refused",
                            "may not come from a .env file, since it decides where credentials "
                            "or customers' data are sent; set it in the environment instead",
                        ),
                        "loc": (name,),
                        "input": values[name],
                    }
                    for name in found
                ],
            )
        return values


def sources_without(
    refused: Collection[str],
    init_settings: PydanticBaseSettingsSource,
    env_settings: PydanticBaseSettingsSource,
    dotenv_settings: PydanticBaseSettingsSource,
    file_secret_settings: PydanticBaseSettingsSource,
) -> tuple[PydanticBaseSettingsSource, ...]:
    """pydantic-settings' own sources, in its order, with a ``.env`` that may not set
    ``refused``: what ``settings_customise_sources`` returns."""
    return (
        init_settings,
        env_settings,
        DotenvWithout(dotenv_settings, refused),
        file_secret_settings,
    )
