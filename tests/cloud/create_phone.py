"""One client process that creates one phone on a signal.

``python -m tests.cloud.create_phone NAME FLAVOR IMAGE`` authenticates with
the admin credentials of ``.cloud/admin-openrc``, prints ``ready``, waits
for a line on stdin, sends one create request and prints the server's id
(or the error). The racing test starts several of them, so that the
requests come from separate processes with their own Keystone sessions and
reach the API at the same moment.
"""

import sys

from tests.cloud import cloud as cloud_client


def main(argv):
    name, flavor, image = argv
    cloud = cloud_client.Cloud()
    cloud.session.get_token()
    print('ready', flush=True)
    sys.stdin.readline()
    try:
        cloud.create_servers(name, flavor, image)
    except cloud_client.CloudError as e:
        print('error %s' % e, flush=True)
        return 1
    print('created', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
