"""The stream of boots and deletes every policy is fed, event for event.

A *fill* phase boots phones and background VMs (no GPU) in random order
until the phones asked for exceed the fleet's render slots by
``overbook`` and the VMs take ``vm_share`` of its RAM; a *churn* phase
then deletes a random live instance or boots a new one, half and half.
The stream is drawn once from the seed: every policy sees the same
requests in the same order. A delete names an earlier boot; under a policy
that could not place that boot, it is a no-op.
"""

import dataclasses

PHONE = 'phone'
VM = 'vm'


@dataclasses.dataclass(frozen=True)
class Size:
    name: str
    kind: str
    vcpus: int
    memory_mb: int
    disk_gb: int
    #: Share of its kind's boots.
    share: float


PHONE_SIZES = (
    Size('phone.2c2g', PHONE, 2, 2048, 8, 0.50),
    Size('phone.4c4g', PHONE, 4, 4096, 8, 0.35),
    Size('phone.8c6g', PHONE, 8, 6144, 8, 0.15),
)
VM_SIZES = (
    Size('vm.4c8g', VM, 4, 8192, 40, 0.6),
    Size('vm.8c16g', VM, 8, 16384, 40, 0.4),
)
SIZES = {size.name: size for size in PHONE_SIZES + VM_SIZES}


@dataclasses.dataclass(frozen=True)
class Event:
    #: 'boot' or 'delete'
    action: str
    #: The instance booted or deleted (its boot's index).
    instance: int
    size: Size


@dataclasses.dataclass
class Stream:
    events: list
    #: Index of the first churn event: the fill phase ends before it.
    fill_end: int
    #: Index of the event after which the fill phase has asked for phones
    #: for half of the fleet's render slots: the fleet half loaded.
    half: int

    def demand(self, upto):
        """Sizes of the instances booted and not deleted before ``upto``."""
        alive = {}
        for event in self.events[:upto]:
            if event.action == 'boot':
                alive[event.instance] = event.size
            else:
                alive.pop(event.instance, None)
        return alive


def _pick(rng, sizes):
    return rng.choices(sizes, weights=[s.share for s in sizes])[0]


def _mean(sizes, attr):
    return sum(getattr(s, attr) * s.share for s in sizes)


def generate(hosts, rng, overbook=1.05, vm_share=0.35, churn=0.5):
    """The stream for a fleet of ``hosts``."""
    slots = sum(gpu.capacity for host in hosts for gpu in host.gpus)
    memory = sum(host.memory_mb for host in hosts)
    phones = int(round(slots * overbook))
    vms = int(round(memory * vm_share / _mean(VM_SIZES, 'memory_mb')))
    kinds = [PHONE] * phones + [VM] * vms
    rng.shuffle(kinds)
    events, alive = [], []
    for kind in kinds:
        size = _pick(rng, PHONE_SIZES if kind == PHONE else VM_SIZES)
        events.append(Event('boot', len(events), size))
        alive.append(len(events) - 1)
    fill_end = len(events)
    half, asked = fill_end, 0
    for event in events:
        asked += event.size.kind == PHONE
        if asked >= slots / 2.0:
            half = event.instance + 1
            break
    phone_odds = phones / float(phones + vms) if phones + vms else 1.0
    for _ in range(int(round(churn * len(kinds)))):
        if alive and rng.random() < 0.5:
            victim = alive.pop(rng.randrange(len(alive)))
            events.append(Event('delete', victim, events[victim].size))
            continue
        sizes = PHONE_SIZES if rng.random() < phone_odds else VM_SIZES
        events.append(Event('boot', len(events), _pick(rng, sizes)))
        alive.append(len(events) - 1)
    return Stream(events=events, fill_end=fill_end, half=half)
