"""confbridge.conf profiles: which user profile makes a marked (moderator), muted or end_marked user.
ConfBridge(room,bridge,user) reads them, so who joins as moderator is what the file says."""

from __future__ import annotations

import configparser
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class UserProfile:
    name: str
    marked: bool = False
    admin: bool = False
    end_marked: bool = False
    wait_marked: bool = False
    startmuted: bool = False


def _yes(v: str | None) -> bool:
    return (v or "").strip().lower() in ("yes", "true", "1", "on", "y")


def load(path: str | Path | None) -> tuple[dict[str, UserProfile], set[str]]:
    """(user profiles, bridge profile names). The built-in default_user/default_bridge always exist."""
    users = {"default_user": UserProfile("default_user")}
    bridges = {"default_bridge"}
    if path is None or not Path(path).exists():
        return users, bridges
    cp = configparser.ConfigParser(strict=False, interpolation=None, inline_comment_prefixes=(";",),
                                   comment_prefixes=(";",))
    cp.read(path, encoding="utf-8")
    for name in cp.sections():
        sec = cp[name]
        kind = (sec.get("type") or "").strip()
        if kind == "bridge":
            bridges.add(name)
        elif kind == "user":
            users[name] = UserProfile(name, _yes(sec.get("marked")), _yes(sec.get("admin")), _yes(sec.get("end_marked")),
                                      _yes(sec.get("wait_marked")), _yes(sec.get("startmuted")))
    return users, bridges
