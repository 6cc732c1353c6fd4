"""Where the course keeps what it downloads or builds: one rule for every cache folder."""
from __future__ import annotations

import os
from pathlib import Path


def user_cache_dir(env_var: str, folder: str) -> Path:
    """``$env_var`` when it is set, else ``$XDG_CACHE_HOME/folder`` (``~/.cache/folder``).
    Not created here."""
    if os.environ.get(env_var):
        return Path(os.environ[env_var]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / folder
