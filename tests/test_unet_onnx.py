"Issue 14 item 4: the UNet mask through onnxruntime computes what the PyTorch network computes, and never runs stale."
import subprocess, sys
from pathlib import Path
import numpy as np
import pytest
from PIL import Image

pytest.importorskip('onnx', reason='exporting needs the onnx package (in the dev extra)')
from fashion_research.segmentation import UNet, save_unet, export_unet_onnx, unet_onnx_path, get_segmenter

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def checkpoint(tmp_path):
    import torch
    torch.manual_seed(0)
    return save_unet(UNet(encoder='efficientnet_lite0', size=(32, 48)), tmp_path/'unet.pt')


def _photo(seed=0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 255, (70, 45, 3), np.uint8))


def test_onnx_export_matches_torch(checkpoint):
    "The auto engine picks the export, and its probabilities equal the PyTorch network's at the photo's size."
    export_unet_onnx(checkpoint)
    assert unet_onnx_path(checkpoint).exists()
    fast, slow = get_segmenter('unet', checkpoint=checkpoint), get_segmenter('unet', checkpoint=checkpoint, engine='torch')
    assert 'onnxruntime, float32' in fast.name and 'onnxruntime' not in slow.name
    for s in range(3):
        p, q = fast.prob(_photo(s)), slow.prob(_photo(s))
        assert p.shape == (70, 45) and np.abs(p - q).max() < 1e-4
        assert (fast(_photo(s)) == slow(_photo(s))).mean() > 0.999


def test_stale_export_is_not_used(checkpoint):
    "After the checkpoint changes, auto falls back to PyTorch and engine='onnx' refuses with the re-export command."
    export_unet_onnx(checkpoint)
    save_unet(UNet(encoder='efficientnet_lite0', size=(32, 48)), checkpoint)     # a retrained checkpoint
    assert 'onnxruntime' not in get_segmenter('unet', checkpoint=checkpoint).name
    with pytest.raises(FileNotFoundError, match='export-unet'): get_segmenter('unet', checkpoint=checkpoint, engine='onnx')


def test_engine_onnx_without_export(checkpoint):
    with pytest.raises(FileNotFoundError, match='no ONNX export'): get_segmenter('unet', checkpoint=checkpoint, engine='onnx')
    with pytest.raises(ValueError, match='engine'): get_segmenter('unet', checkpoint=checkpoint, engine='tensorrt')


def test_export_command(checkpoint, tmp_path):
    "`fashion-research export-unet` writes the file the segment command then runs with."
    exe = str(Path(sys.executable).parent/'fashion-research')
    r = subprocess.run([exe, 'export-unet', str(checkpoint)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert Path(r.stdout.strip().splitlines()[-1]) == unet_onnx_path(checkpoint)
    _photo().save(tmp_path/'p.png')
    r = subprocess.run([exe, 'segment', str(tmp_path/'p.png'), '--checkpoint', str(checkpoint), '--out', str(tmp_path/'m.png')],
                       capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0 and 'onnxruntime' in r.stdout, r.stdout + r.stderr[-2000:]
    assert np.asarray(Image.open(tmp_path/'m.png')).shape == (70, 45)


def test_int8_export_close_to_float(checkpoint, tmp_path):
    "A calibrated export is int8 (said in the segmenter's name) and its probabilities stay close to the float network's."
    cal = []
    for i in range(6):
        _photo(10 + i).save(tmp_path/f'cal{i}.png'); cal.append(tmp_path/f'cal{i}.png')
    export_unet_onnx(checkpoint, calibration=tmp_path)           # a folder of photos
    q, f = get_segmenter('unet', checkpoint=checkpoint), get_segmenter('unet', checkpoint=checkpoint, engine='torch')
    assert 'int8' in q.name, q.name
    d = np.abs(q.prob(_photo(1)) - f.prob(_photo(1)))
    assert d.mean() < 0.05 and d.max() < 0.5
    with pytest.raises(FileNotFoundError, match='no photos'): export_unet_onnx(checkpoint, calibration=[])
