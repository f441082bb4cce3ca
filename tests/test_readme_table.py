"The README's notebook table follows the notebooks: every numbered notebook is listed once, with the module it exports."
import json, re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _exports(nb: Path) -> str:
    cells = json.loads(nb.read_text())['cells']
    src = next(''.join(c['source']) for c in cells if ''.join(c['source']).startswith('#| default_exp'))
    return src.split()[-1]


def test_readme_lists_every_notebook_with_its_module():
    rows = re.findall(r'^\| (\d\d\w*) \| `([\w.]+)` \|', (ROOT/'README.md').read_text(), re.M)
    listed = dict(rows)
    assert len(listed) == len(rows), 'a notebook is listed twice'
    notebooks = {p.stem: _exports(p) for p in sorted((ROOT/'nbs').glob('[0-9]*.ipynb'))}
    assert listed == notebooks
