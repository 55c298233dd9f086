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

"""Placement quality on a simulated phone farm, against the optimum.

A stream of phone boots and deletes (three phone sizes) and background VMs
without GPUs runs through Nova's real filter and weigher handlers on Nova
host states, with Nova's own NUMA fit for every claim, three times: stock
Nova, the plugin with ``gpu_numa:affinity_policy=required`` and with
``preferred``. A MILP solved by HiGHS gives the most phones any placement
could hold. Run from the repository root::

    python benchmarks/fleet_quality.py [--hosts 16] [--tiny]

The code lives in ``benchmarks/fleet/``; the ratios come last.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

from benchmarks.fleet import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main.main())
