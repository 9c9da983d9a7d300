"""The lab PBX: an asyncio server that speaks the AMI as Asterisk 22 does for the lab dialplan
(`asterisk-lab/`), with realistic, scalable timings, a random mode, simulated queue agents, a
call-file spool and fault injection. Run it with `autodialer lab`.

    from autodialer.lab import LabPBX, LabOptions, running_lab
"""

from autodialer.lab.options import LabOptions
from autodialer.lab.server import LabPBX
from autodialer.lab.threaded import ThreadedLab, running_lab

__all__ = ["LabOptions", "LabPBX", "ThreadedLab", "running_lab"]
