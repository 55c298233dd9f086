"""A PNG of per-GPU slot usage for each policy (matplotlib, Agg)."""

import matplotlib

matplotlib.use('Agg')

from matplotlib import pyplot  # noqa: E402

COLOURS = {'arm-4c4g': '#4c72b0', 'arm-4c2g': '#dd8452',
           'x86-2c8g': '#55a868'}


def _panel(axis, snapshot, capacities):
    position = 0
    seen = set()
    for (kind, used), caps in zip(snapshot.gpu_used, capacities):
        xs = list(range(position, position + len(used)))
        axis.bar(xs, used, width=0.85, color=COLOURS.get(kind, 'grey'),
                 label=kind if kind not in seen else None)
        axis.step([x - 0.5 for x in xs] + [xs[-1] + 0.5],
                  list(caps) + [caps[-1]], where='post', color='black',
                  linewidth=0.6)
        seen.add(kind)
        position += len(used) + 1


def draw(path, results, capacities, title):
    """Rows: policies; columns: the fleet half loaded, end of the stream.

    Each bar is one GPU's used slots, hosts side by side with a gap, bar
    colour the host's kind; the black line is the GPU's slots.
    """
    figure, axes = pyplot.subplots(
        len(results), 2, sharex=True, sharey=True,
        figsize=(14, 2.3 * len(results) + 1), squeeze=False)
    for row, result in enumerate(results):
        for column, (when, snapshot) in enumerate((
                ('half loaded', result.half),
                ('end of stream', result.final))):
            axis = axes[row, column]
            _panel(axis, snapshot, capacities)
            axis.set_title('%s, %s: %d phones, %d cross-NUMA' % (
                result.policy, when, snapshot.phones, snapshot.cross_numa),
                fontsize=9, loc='left')
        axes[row, 0].set_ylabel('slots used')
    axes[0, 1].legend(loc='upper right', fontsize=8, ncol=3)
    for column in range(2):
        axes[-1, column].set_xlabel(
            'GPUs, host by host (black line: slots of the GPU)')
    figure.suptitle(title, fontsize=11)
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    pyplot.close(figure)
