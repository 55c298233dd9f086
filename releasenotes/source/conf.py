# Sphinx configuration of the nova-gpu-numa-sched release notes (reno).

project = 'nova-gpu-numa-sched Release Notes'
copyright = '2026, the nova-gpu-numa-sched authors'
author = 'the nova-gpu-numa-sched authors'

extensions = [
    'reno.sphinxext',
]

templates_path = []
exclude_patterns = []
source_suffix = {'.rst': 'restructuredtext'}
master_doc = 'index'
pygments_style = 'sphinx'

html_theme = 'alabaster'
html_static_path = []
