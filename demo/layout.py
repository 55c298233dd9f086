"""The demo's hosts and phone flavor (no Nova import: argparse uses it)."""

#: (hostname, cells with a GPU); every host has CELLS NUMA cells.
HOSTS = (('host1', (1, 3)), ('host2', (0,)), ('host3', (0, 1, 2, 3)))
CELLS = 4
CORES_PER_CELL = 2
MEM_PER_CELL_MB = 4096
PHONE_VCPUS = 2
PHONE_MEMORY_MB = 1024
#: Nova's default initial_cpu_allocation_ratio.
CPU_ALLOCATION_RATIO = 4.0
#: Phones that fit on the cells that have a GPU.
PHONES_PER_CELL = min(
    int(CORES_PER_CELL * CPU_ALLOCATION_RATIO) // PHONE_VCPUS,
    MEM_PER_CELL_MB // PHONE_MEMORY_MB)
MAX_PHONES = PHONES_PER_CELL * sum(len(cells) for _, cells in HOSTS)
