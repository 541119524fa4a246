"""``<data-dir>/demo-partners.json``: the demo partners' API keys, readable by the owner only.

A partner's API key is returned once (CreatePartner, RotatePartnerApiKey), so the demo
loader keeps it here and ``mes up`` prints it on every start.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from mes_stack.demo_data import PARTNERS

__all__ = ["PARTNERS_FILE", "read_partner_keys", "write_partner_keys"]

PARTNERS_FILE = "demo-partners.json"


def read_partner_keys(data_dir: Path) -> dict[str, str]:
    """partner id -> API key; empty when the file is missing or unreadable."""
    try:
        data = json.loads((data_dir / PARTNERS_FILE).read_text(encoding="utf-8"))
        return {str(p["partner_id"]): str(p["api_key"]) for p in data["partners"]}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def write_partner_keys(data_dir: Path, keys: Mapping[str, str]) -> Path:
    """Write the keys with mode 0600 (a 0600 temporary file renamed over the old one)."""
    names = {p.partner_id: p.display_name for p in PARTNERS}
    partners = [
        {"partner_id": pid, "display_name": names.get(pid, pid), "api_key": key} for pid, key in sorted(keys.items())
    ]
    body = {"partners": partners}
    path = data_dir / PARTNERS_FILE
    tmp = path.with_suffix(".tmp")
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(body, indent=2) + "\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path
