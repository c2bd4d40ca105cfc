"""The PBX simulator: plays Asterisk for the demo, the tests and the benchmarks.

It serves AMI (server side) and opens FastAGI sessions to the daemon exactly as
Asterisk 22 does, and it runs the production dialplan (``asterisk/extensions.conf``)
step by step from its own channel model. Nothing here reads a recorded trace.
"""

from callcenter.sim.pbx import Pbx, PbxConfig
from callcenter.sim.phones import PhoneBehaviour

__all__ = ["Pbx", "PbxConfig", "PhoneBehaviour"]
