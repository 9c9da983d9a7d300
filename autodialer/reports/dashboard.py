"""The campaign table: one row per campaign, the same in the Prefect UI and `autodialer status`.

campaign | kind | queue | list | successful x/y | done x/y | pending | dialing
"""

from __future__ import annotations

import re


def slug(text: str) -> str:
    """An artifact key: lowercase letters, digits and dashes only."""
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]+", "-", text.lower())).strip("-") or "campaign"


def campaign_table(store, campaign: str | None = None) -> list[dict]:
    rows = []
    settings_of = store.campaign_settings()
    for s in store.summary(campaign):
        settings = settings_of.get(s["campaign"], {})
        destination = settings.get("destination") or {}
        lists = settings.get("lists") or []
        contacts = int(s.get("contacts") or 0)
        rows.append(
            {
                "campaign": s["campaign"],
                "kind": s.get("kind") or settings.get("kind") or "",
                "queue": destination.get("queue") or "",
                "list": ", ".join(str(p).rsplit("/", 1)[-1] for p in lists),
                "successful": f"{int(s.get('successful') or 0)}/{contacts}",
                "done": f"{int(s.get('done') or 0)}/{contacts}",
                "pending": int(s.get("pending") or 0),
                "dialing": int(s.get("dialing") or 0),
            }
        )
    return rows


def format_table(rows: list[dict]) -> str:
    if not rows:
        return "no campaigns yet"
    headers = list(rows[0])
    widths = {h: max(len(h), *(len(str(r[h])) for r in rows)) for h in headers}
    line = "  ".join(h.ljust(widths[h]) for h in headers)
    out = [line, "  ".join("-" * widths[h] for h in headers)]
    out += ["  ".join(str(r[h]).ljust(widths[h]) for h in headers) for r in rows]
    return "\n".join(out)
