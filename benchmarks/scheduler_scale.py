#!/usr/bin/env python3
# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""What the plugin costs nova-scheduler per request, next to stock Nova.

Part 1 times, on the same synthetic fleet and host states, Nova's
NUMATopologyFilter alone and the plugin as the docs enable it
(GpuNumaTopologyFilter in its place, GpuLoadWeigher, the provider view
start), for a phone with a render slot and for a guest without one, on
host states that carry the render nodes nova-compute publishes in the
compute node stats, with Placement's host-level-slot answer (one
candidate per host). Part 2
counts the Placement calls of Nova's real select_destinations. The ratios
to stock come last. Run from the repository root::

    python benchmarks/scheduler_scale.py [--hosts 1000 5000] [--repeat 5]

The code lives in ``benchmarks/scale/``.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

from benchmarks.scale import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main.main())
