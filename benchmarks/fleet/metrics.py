"""Placement-quality numbers of one snapshot of the fleet."""

import dataclasses
import statistics


@dataclasses.dataclass
class Spread:
    #: Largest (max - min) of used slots among the GPUs of one host.
    worst: int
    mean: float
    #: Hosts whose GPUs differ by more than one slot.
    hosts_over_one: int
    #: Hosts with two GPUs or more.
    hosts: int
    #: Coefficient of variation of slot usage (fraction used) over every
    #: GPU of the fleet.
    cv: float


def spread(snapshot, capacities):
    """Spread of slot usage of a snapshot.

    :param capacities: [(slots of each GPU)] per host, as in the snapshot
    """
    per_host = [max(used) - min(used)
                for _, used in snapshot.gpu_used if len(used) > 1]
    fractions = [u / float(c)
                 for (_, used), caps in zip(snapshot.gpu_used, capacities)
                 for u, c in zip(used, caps)]
    mean = statistics.fmean(fractions) if fractions else 0.0
    cv = statistics.pstdev(fractions) / mean if mean else 0.0
    return Spread(
        worst=max(per_host) if per_host else 0,
        mean=statistics.fmean(per_host) if per_host else 0.0,
        hosts_over_one=sum(1 for s in per_host if s > 1),
        hosts=len(per_host), cv=cv)


def percent(part, whole):
    return 100.0 * part / whole if whole else 0.0


def median_ms(seconds):
    return 1000.0 * statistics.median(seconds) if seconds else 0.0
