# Sphinx configuration of the nova-gpu-numa-sched documentation.
#
# Plain Sphinx plus oslo.config's extension (oslo.config is a requirement
# of the plugin itself), so "tox -e docs" needs no theme package.

project = 'nova-gpu-numa-sched'
copyright = '2026, the nova-gpu-numa-sched authors'
author = 'the nova-gpu-numa-sched authors'

extensions = [
    # ".. show-options::" renders the options registered under the
    # oslo.config.opts entry point of the installed plugin.
    'oslo_config.sphinxext',
]

templates_path = []
exclude_patterns = []
source_suffix = {'.rst': 'restructuredtext'}
master_doc = 'index'
pygments_style = 'sphinx'

html_theme = 'alabaster'
html_static_path = []
