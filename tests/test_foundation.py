"End-to-end checks of the foundation: report build, command line, and bad input (missing folder, bad images, bad rows)."
import json, shutil, subprocess, sys
from pathlib import Path
import nbformat
import pytest
from fashion_research.data import load_catalog, read_styles, DataNotFoundError, ensure_data
from fashion_research.report import run_report, ReportError, main

CLI = [str(Path(sys.executable).parent/'fashion-research')]


@pytest.fixture()
def dataset(sample_data, tmp_path) -> Path:
    "A private copy of the sample data that a test may damage."
    d = tmp_path/'data'
    shutil.copytree(sample_data, d, ignore=shutil.ignore_patterns('segmentation'))
    return d


def test_report_on_sample_data(sample_data, tmp_path):
    out = tmp_path/'rep'
    run = run_report('sample', data=sample_data, out=out, only=['2'], progress=False)
    html, md = (out/'index.html').read_text(), (out/'report.md').read_text()
    rj = json.loads((out/'run.json').read_text())
    for name in ('02_eda_distributions.png', '02_eda_imbalance.png', '02_eda_missing_values.png'):
        assert (out/'figures'/name).stat().st_size > 5000
        assert name in html and name in md
    assert (out/'notebooks'/'02_eda.ipynb').exists()
    assert rj['data']['rows_read'] == len(read_styles(sample_data)) and rj['data']['rows_repaired'] == 2
    assert rj['data']['missing_images'] == 2 and len(rj['data']['unreadable_images']) == 1
    assert rj['timings_s']['02_eda.ipynb'] > 0 and rj['versions']['torch']
    assert run['sections'][0]['parameters']['data'] == str(sample_data.resolve())


def test_missing_data_dir_is_a_clear_error(tmp_path, capsys):
    assert main(['bench', 'data', '--data', str(tmp_path/'nowhere')]) == 2
    err = capsys.readouterr().err
    assert 'nowhere' in err and 'kaggle.com' in err and 'sample-data' in err


def test_cli_bench_data(sample_data, tmp_path):
    out = tmp_path/'b.json'
    r = subprocess.run(CLI + ['bench', 'data', '--data', str(sample_data), '--json', str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert 'read_styles_s' in r.stdout
    res = json.loads(out.read_text())
    assert res['rows_read'] == 678 and res['rows_with_image'] == 675 and res['read_styles_s'] > 0


def test_corrupt_and_empty_images_are_listed(dataset):
    ids = read_styles(dataset)['id'].tolist()
    cat0 = load_catalog(dataset, progress=False)
    ok = cat0.items['id'].tolist()
    (dataset/'images'/f'{ok[0]}.jpg').write_bytes(b'')                    # zero bytes
    (dataset/'images'/f'{ok[1]}.jpg').write_bytes(b'GIF89a broken')       # not decodable
    jpg = (dataset/'images'/f'{ok[2]}.jpg').read_bytes()
    (dataset/'images'/f'{ok[2]}.jpg').write_bytes(jpg[:len(jpg)//3])      # truncated: header fine, pixels missing
    cat = load_catalog(dataset, progress=False)
    assert 'empty' in cat.unreadable[ok[0]] and ok[1] in cat.unreadable
    assert ok[0] not in set(cat.items['id']) and ok[1] not in set(cat.items['id'])
    assert len(cat.items) + len(cat.unreadable) + len(cat.missing_images) == len(ids)   # nothing lost
    deep = load_catalog(dataset, decode=True, progress=False)
    assert ok[2] in deep.unreadable                                          # only a full decode finds truncation


def test_malformed_rows_are_repaired_and_counted(dataset):
    lines = (dataset/'styles.csv').read_text().splitlines()
    f = lines[5].split(',')
    lines[5] = ','.join(f[:9] + ['Brand, with, three, commas ' + f[9]])
    (dataset/'styles.csv').write_text('\n'.join(lines) + '\n')
    df = read_styles(dataset)
    rep = df.attrs['read_report']
    assert int(f[0]) in rep['repaired_ids'] and len(rep['repaired_ids']) == 3
    assert df.loc[df['id'] == int(f[0]), 'productDisplayName'].item() == 'Brand, with, three, commas ' + f[9]
    assert len(df) == len(lines) - 1


def test_failing_notebook_stops_the_run(sample_data, tmp_path):
    nbs = tmp_path/'nbs'; nbs.mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell('# broken\n> fails on purpose'),
                                         nbformat.v4.new_code_cell('raise RuntimeError("planted failure")')])
    nbformat.write(nb, nbs/'03_broken.ipynb')
    with pytest.raises(ReportError) as e:
        run_report('sample', data=sample_data, out=tmp_path/'rep', nbs_dir=nbs, progress=False)
    assert '03_broken.ipynb' in str(e.value) and 'planted failure' in str(e.value)
    assert (tmp_path/'rep'/'notebooks'/'03_broken.ipynb').exists()


def test_full_profile_needs_data(monkeypatch):
    monkeypatch.delenv('FASHION_DATA', raising=False)
    with pytest.raises(DataNotFoundError, match='--data'):
        run_report('full', progress=False)


def _figure_notebook(title: str, fig_name: str, sleep: float = 0.0):
    "A tiny section notebook that saves one figure into the report folder it is given."
    code = (f"import time; time.sleep({sleep})\n"
            "import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt\n"
            "from fashion_research.core import save_figure\n"
            f"fig, ax = plt.subplots(); ax.plot([0, 1]); save_figure(fig, '{fig_name}', out_dir, caption='{title}')")
    params = nbformat.v4.new_code_cell("out_dir = None\ndata = None"); params.metadata['tags'] = ['parameters']
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f'# {title}\n> a test section'), params,
                                           nbformat.v4.new_code_cell(code)])


def test_parallel_sections_keep_their_figures(sample_data, tmp_path):
    nbs = tmp_path/'nbs'; nbs.mkdir()
    nbformat.write(_figure_notebook('slow', '02_slow', sleep=2), nbs/'02_slow.ipynb')
    nbformat.write(_figure_notebook('fast', '03_fast'), nbs/'03_fast.ipynb')
    nbformat.write(_figure_notebook('later', '06_later'), nbs/'06_later.ipynb')
    run = run_report('sample', data=sample_data, out=tmp_path/'rep', nbs_dir=nbs, progress=False, jobs=2)
    got = {s['notebook']: [f['file'] for f in s['figures']] for s in run['sections']}
    assert got == {'02_slow.ipynb': ['figures/02_slow.png'], '03_fast.ipynb': ['figures/03_fast.png'],
                   '06_later.ipynb': ['figures/06_later.png']}
    assert [s['notebook'] for s in run['sections']] == ['02_slow.ipynb', '03_fast.ipynb', '06_later.ipynb']
