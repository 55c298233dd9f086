"""The Placement benchmark (``benchmarks/placement_cost.py``), by part.

``options`` (command line), ``mariadb`` (a private MariaDB server),
``worker`` (one backend's run, in its own process), ``timing``, ``cost``
(part 1: queries and levers), ``models`` and ``interleaved`` (part 1: the
provider models, each timed against the same hosts without it in every
round), ``balance`` (part 2), ``conflicts`` (part 3: claims against
load-trait writes), ``report`` (tables, ratios), ``main``.
"""
