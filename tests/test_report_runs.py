"Long reports: --keep-going marks a failed section and runs the rest, --resume skips unchanged sections, files are written atomically."
import json, os, subprocess, sys
from pathlib import Path
import nbformat
import pytest
from fashion_research.core import atomic_write
from fashion_research.report import run_report, ReportError, write_report_html

ROOT = Path(__file__).resolve().parents[1]
CLI = [str(Path(sys.executable).parent/'fashion-research')]


def _section(title: str, fig: str, fail: str = '', param: str = 'width = 1') -> nbformat.NotebookNode:
    "A tiny section notebook: a parameters cell, then one figure saved into the report (or a planted failure)."
    params = nbformat.v4.new_code_cell(f"out_dir = None\ndata = None\n{param}"); params.metadata['tags'] = ['parameters']
    code = ("import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt\n"
            "from fashion_research.core import save_figure\n"
            f"fig, ax = plt.subplots(figsize=(2, 2)); ax.plot([0, 1]); save_figure(fig, '{fig}', out_dir, caption='{title}')\n"
            + (f"raise RuntimeError('{fail}')" if fail else ''))
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f'# {title}\n> a test section'), params,
                                           nbformat.v4.new_code_cell(code)],
                                    metadata={'kernelspec': {'name': 'python3', 'display_name': 'python3', 'language': 'python'}})


def test_keep_going_runs_the_rest_and_marks_the_failure(sample_data, tmp_path):
    nbs, out = tmp_path/'nbs', tmp_path/'rep'; nbs.mkdir()
    nbformat.write(_section('broken', '02_broken', fail='planted failure'), nbs/'02_broken.ipynb')
    nbformat.write(_section('fine', '03_fine'), nbs/'03_fine.ipynb')
    env = {**os.environ, 'PYTHONPATH': str(ROOT), 'OMP_NUM_THREADS': '1'}
    r = subprocess.run(CLI + ['report', '--data', str(sample_data), '--out', str(out), '--notebooks', str(nbs), '--keep-going'],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 3, r.stdout + r.stderr                     # done in part
    assert 'Traceback' not in r.stderr and '1 failed (02_broken.ipynb)' in r.stdout
    run = json.loads((out/'run.json').read_text())
    assert run['failed'] == ['02_broken.ipynb']
    assert (out/'figures'/'03_fine.png').exists()                     # the section after the failure still ran
    html = (out/'index.html').read_text()
    assert 'This section failed' in html and 'planted failure' in html and '03_fine.png' in html
    assert not (out/'notebooks'/'02_broken.section.json').exists()   # a failed section is never resumed


def test_resume_continues_an_interrupted_run_and_reruns_changed_sections(sample_data, tmp_path, capsys):
    nbs, out = tmp_path/'nbs', tmp_path/'rep'; nbs.mkdir()
    nbformat.write(_section('first', '02_first', param='width = 1'), nbs/'02_first.ipynb')
    nbformat.write(_section('second', '03_second', fail='stopped here', param='height = 1'), nbs/'03_second.ipynb')
    with pytest.raises(ReportError, match='stopped here'):            # the run stops at 03, as an interrupted run would
        run_report('sample', data=sample_data, out=out, nbs_dir=nbs, progress=False)
    first_copy = out/'notebooks'/'02_first.ipynb'; stamp = first_copy.stat().st_mtime_ns
    nbformat.write(_section('second', '03_second', param='height = 1'), nbs/'03_second.ipynb')   # fixed
    run = run_report('sample', data=sample_data, out=out, nbs_dir=nbs, progress=False, resume=True)
    assert run['resumed'] == ['02_first.ipynb'] and run['failed'] == []
    assert first_copy.stat().st_mtime_ns == stamp                     # 02 was not executed again
    assert [f['file'] for s in run['sections'] for f in s['figures']] == ['figures/02_first.png', 'figures/03_second.png']
    assert 'unchanged since' in capsys.readouterr().out
    run = run_report('sample', data=sample_data, out=out, nbs_dir=nbs, progress=False, resume=True, params={'width': 2})
    assert run['resumed'] == ['03_second.ipynb']                      # 02's parameter changed: it re-ran; 03 did not
    assert first_copy.stat().st_mtime_ns != stamp
    assert run['sections'][0]['parameters']['width'] == 2
    assert 'unchanged since its run' in (out/'index.html').read_text()


def test_report_files_are_replaced_whole(tmp_path):
    out = tmp_path/'rep'; (out/'tables').mkdir(parents=True)
    (out/'index.html').write_text('the previous report')
    run = {'profile': 'sample', 'data': {'root': '/d', 'rows_read': 1, 'rows_with_image': 1, 'rows_repaired': 0, 'missing_images': 0,
                                        'unreadable_images': {}}, 'finished': 'now', 'total_s': 1.0,
           'sections': [{'notebook': '02_x.ipynb', 'title': 'x', 'summary': '', 'seconds': 1.0, 'figures': [],
                         'tables': [{'file': 'tables/02_gone.csv', 'name': '02_gone', 'caption': '', 'provenance': {}}]}]}
    with pytest.raises(FileNotFoundError):                            # fails while the page is being built
        write_report_html(out, run)
    assert (out/'index.html').read_text() == 'the previous report'
    with pytest.raises(KeyboardInterrupt):                            # killed half-way through the write itself
        with atomic_write(out/'run.json') as f: f.write('{"half": '); raise KeyboardInterrupt
    assert not (out/'run.json').exists() and sorted(p.name for p in out.iterdir()) == ['index.html', 'tables']
    run['sections'][0]['tables'] = []
    write_report_html(out, run)
    assert 'fashion-research report' in (out/'index.html').read_text()
