"""Every module of Models/ and Utils/ imports on its own, without side effects, and no two import each other.

- each module is imported in a fresh interpreter (so it cannot lean on another module imported first), and none of
  the project's modules imported on the way may import `matplotlib.pyplot` or choose a matplotlib backend (library
  modules have no side effects on import; the scripts that write figures choose);
- the graph of imports between the project's modules has no cycle, counting the imports inside functions too (a lazy
  import that closes a circle is still a circle: the two modules cannot be understood or loaded one without the
  other).
"""
import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ('Models', 'Utils')


def module_names():
    names = []
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob('*.py')):
            parts = path.relative_to(REPO).with_suffix('').parts
            names.append('.'.join(parts[:-1] if parts[-1] == '__init__' else parts))
    return names


PROBE = '''
import builtins
import matplotlib
before = matplotlib.rcParams._get_backend_or_none()
real_import, culprits = builtins.__import__, []


def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
    importer = (globals or {{}}).get('__name__', '')
    pyplot = name == 'matplotlib.pyplot' or (name == 'matplotlib' and 'pyplot' in (fromlist or ()))
    if pyplot and importer.split('.')[0] in {packages!r}:
        culprits.append(importer)
    return real_import(name, globals, locals, fromlist, level)


builtins.__import__ = guarded_import
import {module}
builtins.__import__ = real_import
assert not culprits, f'{{culprits}} import matplotlib.pyplot'
after = matplotlib.rcParams._get_backend_or_none()
assert after == before, f'changes the matplotlib backend: {{before!r}} -> {{after!r}}'
'''
"""Run in a fresh interpreter: import one module, fail when a project module imports pyplot on the way (third-party
packages may: Keras 3 does when TensorFlow loads) or when the matplotlib backend changed."""


@pytest.mark.parametrize('module', module_names())
def test_module_imports_alone_without_side_effects(module):
    env = {k: v for k, v in os.environ.items() if k != 'MPLBACKEND'}
    env.update(PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL='3')
    out = subprocess.run([sys.executable, '-c', PROBE.format(module=module, packages=PACKAGES)], cwd=REPO, env=env,
                         capture_output=True, text=True)
    assert out.returncode == 0, f'{module}:\n{out.stderr[-3000:]}'


def _imports(path, module, known):
    """The project modules `module` imports, at module level or inside its functions."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == '__init__.py' else module.rpartition('.')[0]
    found = set()

    def visit(nodes):
        for node in nodes:
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names if alias.name in known)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ''
                if node.level:
                    base = '.'.join(package.split('.')[:len(package.split('.')) - node.level + 1] + [base]).strip('.')
                for alias in node.names:
                    target = f'{base}.{alias.name}'
                    found.add(target if target in known else base)
            else:
                visit(ast.iter_child_nodes(node))

    visit(tree.body)
    return {name for name in found if name in known and name != module}


def test_no_import_cycle():
    known = {name: REPO / Path(*name.split('.')).with_suffix('.py') for name in module_names()}
    for name in list(known):
        if not known[name].exists():
            known[name] = REPO / Path(*name.split('.')) / '__init__.py'
    graph = {name: _imports(path, name, known) for name, path in known.items()}
    state, stack = {}, []

    def walk(name):
        state[name] = 'open'
        stack.append(name)
        for target in sorted(graph[name]):
            if state.get(target) == 'open':
                cycle = stack[stack.index(target):] + [target]
                raise AssertionError(f'import cycle: {" -> ".join(cycle)}')
            if target not in state:
                walk(target)
        stack.pop()
        state[name] = 'done'

    for name in sorted(graph):
        if name not in state:
            walk(name)
