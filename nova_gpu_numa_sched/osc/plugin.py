"""OpenStackClient plugin: the ``gpu_numa`` client of ``openstack``.

The commands need no service of their own: they read Placement through
osc-placement's client (its microversion negotiation and error handling)
and Nova through the compute client of ``openstack``. The client made here
only bundles the two with the microversions the commands need.
"""

import logging

from osc_lib import utils

LOG = logging.getLogger(__name__)

API_NAME = 'gpu_numa'
API_VERSION_OPTION = 'os_gpu_numa_api_version'
DEFAULT_API_VERSION = '1'
API_VERSIONS = (DEFAULT_API_VERSION,)


def make_client(instance):
    """The commands' client, built on first use of ``client_manager``."""
    # Imported here: openstack imports every plugin to build its parser.
    from nova_gpu_numa_sched.osc import client
    LOG.debug('Instantiating the gpu_numa client')
    return client.GpuNumaClient(instance)


def build_option_parser(parser):
    parser.add_argument(
        '--os-gpu-numa-api-version',
        metavar='<gpu-numa-api-version>',
        default=utils.env('OS_GPU_NUMA_API_VERSION',
                          default=DEFAULT_API_VERSION),
        help='Version of the gpu_numa commands, default=%s (Env: '
             'OS_GPU_NUMA_API_VERSION). Placement microversion 1.31 and '
             'compute microversion 2.78 are requested per call.' %
             DEFAULT_API_VERSION)
    return parser
