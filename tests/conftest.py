"Shared pytest fixtures: the embedded sample data, a temporary report folder, an offline TORCH_HOME."
import os, shutil
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent/'shared'


@pytest.fixture(scope='session')
def sample_data(tmp_path_factory) -> Path:
    "A fresh copy of the embedded sample dataset, generated once per test session."
    from fashion_research.data import make_sample_data
    return make_sample_data(tmp_path_factory.mktemp('sample')/'sample', seed=0)


@pytest.fixture()
def report_out(tmp_path, monkeypatch) -> Path:
    "A temporary report folder, also set as $FASHION_REPORT_DIR."
    out = tmp_path/'reports'
    monkeypatch.setenv('FASHION_REPORT_DIR', str(out))
    return out


@pytest.fixture()
def torch_home(tmp_path, monkeypatch) -> Path:
    "An empty temporary $TORCH_HOME: tests place weight files in hub/checkpoints/ to exercise the pretrained code path."
    home = tmp_path/'torch_home'
    (home/'hub'/'checkpoints').mkdir(parents=True)
    monkeypatch.setenv('TORCH_HOME', str(home))
    import torch
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(home/'hub'))
    yield home
    torch.hub.set_dir(old)


def shared_path(*parts) -> Path:
    "A path under ../shared (real data for opt-in checks); tests using it skip cleanly where it is absent."
    p = SHARED.joinpath(*parts)
    if not p.exists(): pytest.skip(f'{p} not present (real data is optional)')
    return p


@pytest.fixture(autouse=True)
def one_torch_thread():
    "Tests use tiny tensors: one torch thread avoids spin-waiting (several times faster on a busy 2-core machine)."
    import torch
    n = torch.get_num_threads(); torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
