"""The fleet placement-quality benchmark (``benchmarks/fleet_quality.py``).

One module per job: ``topology`` describes the hosts of a phone farm and
builds Nova's records for them, ``workload`` the stream of boots and
deletes, ``specs`` the flavors and RequestSpecs, ``simulate`` drives Nova's
filter and weigher handlers and applies each claim as nova-compute does,
``optimum`` solves the placement exactly (MILP) or bounds it (LP),
``metrics`` and ``report`` measure and print, ``chart`` draws the PNG,
``main`` ties them together.
"""
