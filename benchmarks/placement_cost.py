"""What Placement itself costs for phones and plain guests, and its levers.

Runs the real Placement (``openstack-placement``, in process) on SQLite
and on a MariaDB server the script starts itself, and sends it the
``GET /allocation_candidates`` Nova's scheduler builds for a phone (2 vCPU,
2 GiB, 8 GB disk, ``resources:CUSTOM_GPU_RENDER_SLOT=1``,
``hw:numa_nodes=1``) and for a plain 2-vCPU guest.

Part 1 (cost and levers): fleets of ``--hosts`` compute nodes with
``--gpus`` render providers each, the same hosts without render providers,
and one provider per NUMA cell; minimum and median CPU time per query over
``--repeat`` rounds, under Placement's defaults and each lever
(``max_allocation_candidates`` with both generation strategies,
``randomize_allocation_candidates``, the request's shape). Then, on one
fleet per ``--hosts`` without render providers, each provider model
("host slots", "per render node", "per cell") put in and taken out again
in every round, so that the plain guest on the bare hosts and both
guests with the model are timed seconds apart.
Part 2 (balance): a stream of phone boots under each combination of
Placement's options. Part 3 (conflicts): claims racing load-trait writes,
with and without the hysteresis of ``[gpu_numa]
load_bucket_hysteresis_percent``.

Usage (from the repository root)::

    PYTHONPATH=. python benchmarks/placement_cost.py [--tiny]

The code is in ``benchmarks/candidates/``; the ratios come last, the
issue's two (phone / plain guest without render providers, plain guest
with / without) of every provider model, backend, fleet size and GPU
count, from the interleaved rounds, at the very end. See
``benchmarks/README.rst`` and ``doc/source/benchmarks.rst``.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

from benchmarks.candidates import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main.main(sys.argv[1:]))
