"""A counting stand-in for the Placement HTTP API.

All of ``SchedulerReportClient``'s code runs; only the HTTP exchange of
its keystoneauth adapter is replaced, and every call is counted by method
and path template.
"""

import collections

from oslo_serialization import jsonutils

from nova_gpu_numa_sched import names


class FakeResponse:
    def __init__(self, status_code, body=None):
        self.status_code = status_code
        self.text = jsonutils.dumps(body) if body is not None else ''
        self.headers = {}

    def json(self):
        return jsonutils.loads(self.text)

    def __bool__(self):
        return self.status_code < 400


class CountingPlacement:
    """Stands in for the keystoneauth adapter of SchedulerReportClient.

    ``GET /allocation_candidates`` gets the fleet's answer for a phone when
    the query asks for a render slot, else its answer for a plain guest.
    """

    def __init__(self, fleet):
        self.fleet = fleet
        self.calls = collections.Counter()
        self.allocations = {}

    def _count(self, method, url):
        path = url.split('?', 1)[0]
        parts = path.strip('/').split('/')
        if len(parts) > 1:
            path = '/%s/{id}%s' % (
                parts[0], ''.join('/' + p for p in parts[2:]))
        self.calls['%s %s' % (method, path)] += 1
        return parts

    def get(self, url, microversion=None, global_request_id=None, **kwargs):
        parts = self._count('GET', url)
        if parts[0].startswith('allocation_candidates'):
            response = FakeResponse(200)
            if names.RESOURCE_CLASS in url:
                response.text = self.fleet.render.body
            else:
                response.text = self.fleet.plain.body
            return response
        if parts[0] == 'allocations' and len(parts) == 2:
            return FakeResponse(200, {
                'allocations': self.allocations.get(parts[1], {})})
        raise AssertionError('unexpected Placement call GET %s' % url)

    def put(self, url, json=None, microversion=None, global_request_id=None,
            **kwargs):
        parts = self._count('PUT', url)
        if parts[0] == 'allocations' and len(parts) == 2:
            self.allocations[parts[1]] = json['allocations']
            return FakeResponse(204)
        raise AssertionError('unexpected Placement call PUT %s' % url)

    def post(self, url, json=None, microversion=None, global_request_id=None,
             **kwargs):
        self._count('POST', url)
        raise AssertionError('unexpected Placement call POST %s' % url)

    def delete(self, url, microversion=None, global_request_id=None,
               **kwargs):
        parts = self._count('DELETE', url)
        if parts[0] == 'allocations' and len(parts) == 2:
            self.allocations.pop(parts[1], None)
            return FakeResponse(204)
        raise AssertionError('unexpected Placement call DELETE %s' % url)


class HttpGuard:
    """Counts (and refuses) any HTTP request that bypasses the stand-in."""

    def __init__(self):
        self.count = 0

    def request(self, *args, **kwargs):
        self.count += 1
        raise AssertionError('unexpected HTTP request %s' % (args,))
