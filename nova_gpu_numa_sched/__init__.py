"""Co-locate a guest's GPU render node, vCPUs and RAM on one NUMA cell."""
