"""The Placement benchmark (``benchmarks/placement_cost.py``), by part.

``options`` (command line), ``mariadb`` (a private MariaDB server),
``worker`` (one backend's run, in its own process), ``timing``, ``cost``
(part 1: queries and levers), ``balance`` (part 2), ``conflicts`` (part 4:
claims against load-trait writes), ``report`` (tables, ratios), ``main``.
"""
