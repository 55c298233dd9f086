# Nova's services and test packages decide between eventlet and native
# threads in nova.monkey_patch.patch(), which must run before anything
# imports eventlet (futurist, oslo.service, most of nova): in threading
# mode (OS_NOVA_DISABLE_EVENTLET_PATCHING=1) it refuses to start once
# eventlet is loaded, and in eventlet mode a late patch misses modules that
# were already imported. Every test module is below this package, so this
# runs first, as nova/tests/functional/__init__.py does for nova's tests.

# autopep8: off
from nova import monkey_patch ; monkey_patch.patch()  # noqa
# autopep8: on
