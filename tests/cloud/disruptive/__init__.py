"""Cloud tests that kill, restart or force down services.

``tools/run-tests.sh`` runs them after every other cloud test, on a cloud
it brought up itself: they leave every service running again, but a
failure may leave one down.
"""
