"""The best placement of a given demand, solved exactly with HiGHS.

The problem: place as many phones as possible of a demand (a count per
phone size) and every background VM of it (a count per VM size) on the
fleet, all at once, starting from empty hosts, with

* per host NUMA cell: the vCPUs of its guests at most its CPUs times the
  CPU allocation ratio, their RAM at most its RAM times the RAM ratio
  (Nova's fit of a one-cell guest with shared CPUs and no page size
  checks exactly these two sums);
* per GPU: at most its slots;
* co-located: each phone's vCPUs and RAM on the cell of its GPU.

Phones of one size are interchangeable and so are the GPUs of one cell
(any split of a cell's phones over its GPUs respects the slots when their
sum does), so an integer count per (size, cell) is an exact model:
a few variables per cell, small enough to solve to optimality for
thousands of hosts. Every VM must be placed and the phones
placed are maximised: the bound is "the most phones that fit
next to every VM of the demand" (solving fails, naming the option, when
the VMs alone do not fit). A policy that refused a VM may then hold more
phones than the bound: the report shows VMs placed next to phones.

``co_located=False`` drops the third rule (a phone's GPU anywhere on the
host of its vCPUs and RAM): what stock Nova may do.

``integral=False`` solves the LP relaxation, an upper bound of the
optimum, for fleets the MILP would take too long on.
"""

import dataclasses
import time

import highspy
import numpy as np

from benchmarks.fleet import topology
from benchmarks.fleet import workload


@dataclasses.dataclass
class Bound:
    phones: float
    vms: float
    #: 'optimal' (MILP solved), 'lp' (LP relaxation) or 'mip-bound' (MILP
    #: stopped at its time limit: the dual bound).
    kind: str
    seconds: float


class _Model:
    """A sparse maximisation model handed to HiGHS in one piece."""

    def __init__(self):
        self.cost, self.lower, self.upper = [], [], []
        self.rows = []

    def var(self, cost, upper):
        self.cost.append(float(cost))
        self.lower.append(0.0)
        self.upper.append(float(upper))
        return len(self.cost) - 1

    def row(self, terms, upper, lower=-highspy.kHighsInf):
        """lower <= sum(coef * var for var, coef in terms) <= upper."""
        if terms:
            self.rows.append((terms, float(lower), float(upper)))

    def solve(self, integral, time_limit):
        lp = highspy.HighsLp()
        lp.num_col_ = len(self.cost)
        lp.num_row_ = len(self.rows)
        lp.col_cost_ = np.array(self.cost)
        lp.col_lower_ = np.array(self.lower)
        lp.col_upper_ = np.array(self.upper)
        lp.row_lower_ = np.array([lower for _, lower, _ in self.rows])
        lp.row_upper_ = np.array([upper for _, _, upper in self.rows])
        starts, index, value = [0], [], []
        for terms, _, _ in self.rows:
            for var, coef in terms:
                index.append(var)
                value.append(float(coef))
            starts.append(len(index))
        lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
        lp.a_matrix_.start_ = np.array(starts, dtype=np.int32)
        lp.a_matrix_.index_ = np.array(index, dtype=np.int32)
        lp.a_matrix_.value_ = np.array(value)
        lp.sense_ = highspy.ObjSense.kMaximize
        if integral:
            lp.integrality_ = [highspy.HighsVarType.kInteger] * len(self.cost)
        solver = highspy.Highs()
        solver.setOptionValue('output_flag', False)
        solver.setOptionValue('threads', 1)
        solver.setOptionValue('time_limit', float(time_limit))
        solver.passModel(lp)
        solver.run()
        status = solver.getModelStatus()
        if status == highspy.HighsModelStatus.kOptimal:
            return list(solver.getSolution().col_value), 'optimal'
        if integral and status == highspy.HighsModelStatus.kTimeLimit:
            return solver.getInfo().mip_dual_bound, 'mip-bound'
        if status == highspy.HighsModelStatus.kInfeasible:
            raise Infeasible()
        raise RuntimeError('HiGHS ended with %s'
                           % solver.modelStatusToString(status))


class Infeasible(Exception):
    """The model has no solution."""


def _cells(hosts):
    """[(host index, cell, cpu limit, RAM limit, slots on the cell)]."""
    found = []
    for index, host in enumerate(hosts):
        kind = host.kind
        for cell in range(kind.cells):
            slots = sum(gpu.capacity for gpu in host.gpus if gpu.cell == cell)
            found.append((index, cell,
                          kind.cpus_per_cell * topology.CPU_RATIO,
                          kind.mb_per_cell * topology.RAM_RATIO, slots))
    return found


def solve(hosts, demand, co_located=True, integral=True, time_limit=60.0):
    """The most phones of ``demand`` that fit next to its VMs.

    :param demand: {Size: count}
    :returns: Bound
    """
    start = time.perf_counter()
    phones = [(s, n) for s, n in demand.items() if s.kind == workload.PHONE]
    vms = [(s, n) for s, n in demand.items() if s.kind == workload.VM]
    model = _Model()
    by_size = {s: [] for s, _ in phones + vms}
    host_slots = {}
    for host_index, cell, cpu_limit, ram_limit, slots in _cells(hosts):
        cpu_terms, ram_terms, slot_terms = [], [], []
        for size, count in phones:
            if co_located and not slots:
                continue
            var = model.var(1.0, min(count, slots) if co_located else count)
            by_size[size].append(var)
            cpu_terms.append((var, size.vcpus))
            ram_terms.append((var, size.memory_mb))
            slot_terms.append((var, 1))
        for size, count in vms:
            var = model.var(0.0, count)
            by_size[size].append(var)
            cpu_terms.append((var, size.vcpus))
            ram_terms.append((var, size.memory_mb))
        model.row(cpu_terms, cpu_limit)
        model.row(ram_terms, ram_limit)
        if co_located:
            model.row(slot_terms, slots)
        else:
            host_slots.setdefault(host_index, []).extend(slot_terms)
    for host_index, terms in host_slots.items():
        model.row(terms, sum(g.capacity for g in hosts[host_index].gpus))
    for size, count in phones:
        model.row([(var, 1) for var in by_size[size]], count)
    for size, count in vms:
        model.row([(var, 1) for var in by_size[size]], count, lower=count)
    try:
        values, kind = model.solve(integral, time_limit)
    except Infeasible:
        raise ValueError(
            'The background VMs of the demand (%d) do not all fit on the '
            'fleet; lower --vm-share.' % sum(n for _, n in vms))
    seconds = time.perf_counter() - start
    if kind == 'mip-bound':
        # Stopped at the time limit: the dual bound on phones.
        return Bound(phones=values, vms=sum(n for _, n in vms), kind=kind,
                     seconds=seconds)
    if not integral:
        kind = 'lp'
    placed = {size: sum(values[var] for var in by_size[size])
              for size in by_size}
    return Bound(
        phones=sum(placed[s] for s, _ in phones),
        vms=sum(placed[s] for s, _ in vms), kind=kind, seconds=seconds)


def demand_counts(sizes):
    """{Size: count} of an iterable of sizes."""
    counts = {}
    for size in sizes:
        counts[size] = counts.get(size, 0) + 1
    return counts


def fits_all(hosts, sizes, integral=True):
    """Whether one co-located placement holds every phone of ``sizes``."""
    demand = demand_counts(sizes)
    phones = sum(n for size, n in demand.items()
                 if size.kind == workload.PHONE)
    return solve(hosts, demand, integral=integral).phones >= phones - 1e-6
