"""How the ``openstack gpu`` commands turn Placement and Nova data to rows."""

import io

from cliff.formatters import json_format
from cliff.formatters import table
import testtools

from nova_gpu_numa_sched import fleet_view
from nova_gpu_numa_sched import names
from nova_gpu_numa_sched.osc import columns
from nova_gpu_numa_sched.osc import render
from nova_gpu_numa_sched.osc import server


def _rp(**kwargs):
    values = dict(uuid='u-1', name='c1_render_0000:03:00.0', host='c1',
                  key='0000:03:00.0', cell=1, load_percent=30, capacity=8,
                  used=2, summarised=True)
    values.update(kwargs)
    return fleet_view.RenderProvider(**values)


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
        row = render.list_row(_rp())
        self.assertEqual(len(render.LIST_COLUMNS), len(row))
        self.assertEqual(('c1', 1, 'c1_render_0000:03:00.0', 2, 8),
                         row[:5])
        self.assertEqual('30%', row[5].human_readable())

    def test_long_row(self):
        rp = _rp(vendor_id='1002', product_id='73BF',
                 traits=['CUSTOM_GPU_VENDOR_1002', 'CUSTOM_NUMA_NODE_1'])
        row = dict(zip(render.list_columns(True),
                       render.list_row(rp, long=True)))
        self.assertEqual(('0000:03:00.0', '1002', '73BF'),
                         (row['PCI Address'], row['Vendor'],
                          row['Product']))
        self.assertEqual(['CUSTOM_GPU_VENDOR_1002', 'CUSTOM_NUMA_NODE_1'],
                         row['Traits'].machine_readable())

    def test_drm_keyed_render_node(self):
        rp = _rp(key='drm_renderD129', name='c1_render_drm_renderD129')
        row = dict(zip(render.SHOW_COLUMNS, render.show_row(rp, [])))
        self.assertEqual((None, '/dev/dri/renderD129'),
                         (row['PCI Address'], row['Devnode']))

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
            render.LIST_COLUMNS, [render.list_row(_rp())], out, parsed)
        self.assertIn('| c1   |    1 | c1_render_0000:03:00.0 |',
                      out.getvalue())
        self.assertIn('| 30%  |', out.getvalue())
        out = io.StringIO()
        json_format.JSONFormatter().emit_list(
            render.LIST_COLUMNS, [render.list_row(_rp())], out, parsed)
        self.assertIn('"Load": 30', out.getvalue())


class ServerRowTest(testtools.TestCase):

    SERVER = {'id': 's-1', 'name': 'phone-1',
              'OS-EXT-SRV-ATTR:host': 'c1',
              'flavor': {'extra_specs': {
                  'resources:%s' % names.RESOURCE_CLASS: '1'}}}

    def _row(self, server_dict, topology, renders):
        return dict(zip(server.COLUMNS,
                        server.show_row(server_dict, topology, renders)))

    def test_co_located(self):
        row = self._row(self.SERVER, {'nodes': [{'host_node': 1}]}, [_rp()])
        self.assertEqual(
            ('0000:03:00.0', 1, [1], 'required', True),
            (row['Render Node'], row['Render Node Cell'],
             row['Host Cells'].machine_readable(), row['Affinity Policy'],
             row['Co-located']))

    def test_split_with_preferred_policy(self):
        preferred = dict(self.SERVER, flavor={'extra_specs': {
            names.AFFINITY_POLICY_KEY: names.POLICY_PREFERRED}})
        row = self._row(preferred, {'nodes': [{'host_node': 0}]}, [_rp()])
        self.assertEqual(('preferred', False),
                         (row['Affinity Policy'], row['Co-located']))

    def test_multi_cell_guest(self):
        topology = {'nodes': [{'host_node': 0}, {'host_node': 1}]}
        row = self._row(self.SERVER, topology, [_rp()])
        self.assertEqual('0, 1', row['Host Cells'].human_readable())
        self.assertTrue(row['Co-located'])

    def test_unknown_when_not_shown(self):
        # host_node is for admins only.
        row = self._row(self.SERVER, {'nodes': [{'vcpu_set': [0]}]},
                        [_rp()])
        self.assertEqual(([], None), (row['Host Cells'].machine_readable(),
                                      row['Co-located']))
        row = self._row(self.SERVER, {'nodes': [{'host_node': 1}]},
                        [_rp(cell=None)])
        self.assertIsNone(row['Co-located'])

    def test_two_render_nodes(self):
        other = _rp(uuid='u-2', name='c1_render_0000:04:00.0',
                    key='0000:04:00.0', cell=3)
        row = self._row(self.SERVER, {'nodes': [{'host_node': 1}]},
                        [_rp(), other])
        self.assertEqual(('0000:03:00.0, 0000:04:00.0', '1, 3', False),
                         (row['Render Node'], row['Render Node Cell'],
                          row['Co-located']))

    def test_stock_guest(self):
        row = self._row({'id': 's-2', 'flavor': {}}, {'nodes': []}, [])
        self.assertEqual((None, None, None, None),
                         (row['Render Node'], row['Render Node Cell'],
                          row['Affinity Policy'], row['Co-located']))
