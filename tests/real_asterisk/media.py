"""Sounds for the private Asterisk: the project's prompts and hold music, the agents' speech.

Prompts and music come from the project's own provisioning
(``callcenter.provision.sounds``, what ``callcenter asterisk sounds`` runs), so the tier
hears exactly what a fresh installation would. Generated once per test run into a
cache folder and copied into each instance's sounds directory.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from callcenter import prompts_default
from callcenter.provision.sounds import provision_data_dir

AGENT_SPEECH = "Xin chào, em nghe."


def build_sounds(cache: Path) -> Path:
    """``cache/data``: an Asterisk data folder provisioned by the project's own
    ``callcenter.provision.sounds`` (every prompt, the core beep, the music class), plus
    ``sounds/tier/agent-speech`` for the simulated agents."""
    data = cache / "data"
    speech = data / "sounds" / "tier" / "agent-speech.wav"
    if not speech.exists():
        provision_data_dir(data)
        prompts_default.synthesize(AGENT_SPEECH, speech)
    return data


def install_media(cache: Path, data_dir: Path) -> None:
    """Copy the provisioned sounds and music into an instance's data folder (``astdatadir``)."""
    built = build_sounds(cache)
    for source in built.rglob("*"):
        if source.is_dir():
            continue
        target = data_dir / source.relative_to(built)
        if target.is_symlink():  # never write through a link into the installed Asterisk
            target.unlink()
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
