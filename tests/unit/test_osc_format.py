"""How the ``openstack gpu`` commands turn Placement and Nova data to rows,
and how the published render nodes are read."""

import io
import json

from cliff.formatters import json_format
from cliff.formatters import table
import testtools

from nova_gpu_numa_sched import fleet_view
from nova_gpu_numa_sched import names
from nova_gpu_numa_sched.osc import columns
from nova_gpu_numa_sched.osc import render
from nova_gpu_numa_sched.osc import server


def _slots(**kwargs):
    values = dict(uuid='u-1', host='c1', capacity=8, used=2,
                  traits=['CUSTOM_GPU_PRODUCT_73BF', 'CUSTOM_GPU_VENDOR_1002'])
    values.update(kwargs)
    return fleet_view.HostSlots(**values)


class ColumnsTest(testtools.TestCase):

    def test_load(self):
        self.assertEqual(('30%', 30), (
            columns.LoadColumn(30).human_readable(),
            columns.LoadColumn(30).machine_readable()))
        self.assertEqual(('', None), (
            columns.LoadColumn(None).human_readable(),
            columns.LoadColumn(None).machine_readable()))

    def test_instances(self):
        holders = [{'uuid': 'a', 'name': 'phone-1', 'slots': 1},
                   {'uuid': 'b', 'name': None, 'slots': 2}]
        column = columns.InstancesColumn(holders)
        self.assertEqual('phone-1 (a)\n- (b) x2', column.human_readable())
        self.assertEqual(holders, column.machine_readable())

    def test_cells(self):
        self.assertEqual(('0, 2', [0, 2]), (
            columns.CellsColumn([0, 2]).human_readable(),
            columns.CellsColumn([0, 2]).machine_readable()))
        self.assertEqual(('', []), (
            columns.CellsColumn(None).human_readable(),
            columns.CellsColumn(None).machine_readable()))


class RenderRowsTest(testtools.TestCase):

    def test_list_row(self):
        row = render.list_row(_slots())
        self.assertEqual(('c1', 2, 8), row)

    def test_long_row(self):
        row = dict(zip(render.list_columns(True),
                       render.list_row(_slots(), long=True)))
        self.assertEqual(('u-1', ['1002'], ['73BF']),
                         (row['UUID'],
                          row['GPU Vendors'].machine_readable(),
                          row['GPU Products'].machine_readable()))

    def test_show_row(self):
        holders = [{'uuid': 'a', 'name': 'phone-1', 'slots': 1}]
        row = dict(zip(render.SHOW_COLUMNS, render.show_row(
            _slots(reserved=1), holders)))
        self.assertEqual((1, holders), (row['Slots Reserved'],
                                        row['Instances'].machine_readable()))

    def test_holders_sorted_by_name_unknown_last(self):
        self.assertEqual(
            [{'uuid': 'b', 'name': 'a-phone', 'slots': 1},
             {'uuid': 'c', 'name': 'b-phone', 'slots': 1},
             {'uuid': 'a', 'name': None, 'slots': 1}],
            render.holders({'a': 1, 'b': 1, 'c': 1},
                           {'a': None, 'b': 'a-phone', 'c': 'b-phone'}))

    def test_table_and_json_of_one_row(self):
        # What cliff's own formatters make of a row, as openstack prints it.
        out = io.StringIO()
        parsed = type('Args', (), {'max_width': 0, 'fit_width': False,
                                   'print_empty': False, 'noindent': False,
                                   'formatter': 'table'})()
        table.TableFormatter().emit_list(
            render.LIST_COLUMNS, [render.list_row(_slots())], out, parsed)
        self.assertIn('| c1   |          2 |           8 |', out.getvalue())
        out = io.StringIO()
        json_format.JSONFormatter().emit_list(
            render.LIST_COLUMNS, [render.list_row(_slots())], out, parsed)
        self.assertIn('"Slots Total": 8', out.getvalue())


class RenderNodesTest(testtools.TestCase):
    """The render nodes nova-compute publishes in its stats."""

    def test_parse_sorted_by_cell(self):
        value = json.dumps({
            '0000:04:00.0': {'cell': 3, 'slots': 4, 'used': 1, 'load': 40,
                             'devnode': '/dev/dri/renderD129'},
            'drm_renderD130': {'cell': 1, 'slots': 4, 'used': 0,
                               'load': None,
                               'devnode': '/dev/dri/renderD130'},
            '0000:05:00.0': {'cell': None, 'slots': 0, 'used': 2,
                             'load': None, 'devnode': None}})
        nodes = fleet_view.render_nodes('c1', value)
        self.assertEqual(
            [(1, None, '/dev/dri/renderD130', 0, 4, None),
             (3, '0000:04:00.0', '0000:04:00.0', 1, 4, 40),
             (None, '0000:05:00.0', '0000:05:00.0', 2, 0, None)],
            [(n.cell, n.pci_address, n.label, n.used, n.slots,
              n.load_percent) for n in nodes])

    def test_none_and_unreadable(self):
        self.assertIsNone(fleet_view.render_nodes('c1', None))
        self.assertRaises(ValueError, fleet_view.render_nodes, 'c1', '{x')
        self.assertRaises(ValueError, fleet_view.render_nodes, 'c1', '[1]')


class ServerRowTest(testtools.TestCase):

    SERVER = {'id': 's-1', 'name': 'phone-1',
              'OS-EXT-SRV-ATTR:host': 'c1',
              'flavor': {'extra_specs': {
                  'resources:%s' % names.RESOURCE_CLASS: '1'}}}

    def _row(self, server_dict, topology, allocation):
        return dict(zip(server.COLUMNS,
                        server.show_row(server_dict, topology, allocation)))

    def test_render_guest(self):
        row = self._row(self.SERVER, {'nodes': [{'host_node': 1}]},
                        {'u-1': 1})
        self.assertEqual(
            ('c1', 1, [1], 'required'),
            (row['Host'], row['Render Slots'],
             row['Host Cells'].machine_readable(), row['Affinity Policy']))

    def test_preferred_policy(self):
        preferred = dict(self.SERVER, flavor={'extra_specs': {
            names.AFFINITY_POLICY_KEY: names.POLICY_PREFERRED}})
        row = self._row(preferred, {'nodes': [{'host_node': 0}]},
                        {'u-1': 1})
        self.assertEqual('preferred', row['Affinity Policy'])

    def test_multi_cell_guest(self):
        topology = {'nodes': [{'host_node': 0}, {'host_node': 1}]}
        row = self._row(self.SERVER, topology, {'u-1': 1})
        self.assertEqual('0, 1', row['Host Cells'].human_readable())

    def test_unknown_when_not_shown(self):
        # host_node is for admins only.
        row = self._row(self.SERVER, {'nodes': [{'vcpu_set': [0]}]},
                        {'u-1': 1})
        self.assertEqual([], row['Host Cells'].machine_readable())

    def test_stock_guest(self):
        row = self._row({'id': 's-2', 'flavor': {}}, {'nodes': []}, {})
        self.assertEqual((None, None), (row['Render Slots'],
                                        row['Affinity Policy']))
