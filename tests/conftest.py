"""Let pytest run the tests that stestr runs, with the same results.

CI runs stestr; pytest is for developers who run it out of habit. pytest
imports this module as ``tests.conftest``, so ``tests/__init__.py`` has
already picked Nova's concurrency mode (eventlet, or native threads with
``OS_NOVA_DISABLE_EVENTLET_PATCHING=1``) before any test module, or this
one, imports eventlet.
"""

import pytest


@pytest.fixture(autouse=True)
def _keep_test_method_for_pytest(request):
    """Keep pytest's test method through Nova's ``_clear_attrs`` cleanup.

    pytest's unittest plugin runs a TestCase by setting the test method as
    an attribute of the instance and deleting it once the case has run.
    ``nova.test.TestCase`` registers ``_clear_attrs`` as a cleanup, which
    deletes every public instance attribute in between, so pytest's
    ``delattr`` raised ``AttributeError: '<Class>' object has no attribute
    'test_...'`` for every test on Nova's test base, whatever the test did.
    Nova's cleanup still frees everything else.
    """
    testcase = request.instance
    clear_attrs = getattr(testcase, '_clear_attrs', None)
    if clear_attrs is None:
        yield
        return
    name = request.node.name

    def clear_attrs_but_test_method():
        # Set by pytest after this fixture, so looked up only now.
        method = testcase.__dict__.get(name)
        clear_attrs()
        if method is not None:
            testcase.__dict__[name] = method

    # A private name: _clear_attrs itself leaves such names alone.
    testcase._clear_attrs = clear_attrs_but_test_method
    yield
