"Issue 14 item 4, variant 2: the TFLite DeepLab's ONNX conversion from the command line, and the mask it gives."
import importlib.util, os, subprocess, sys
from pathlib import Path
import numpy as np
import pytest
from PIL import Image

pytest.importorskip('onnx', reason='exporting needs the onnx package (in the dev extra)')
pytest.importorskip('ai_edge_litert', reason='reading a .tflite file needs ai-edge-litert (in the dev extra)')
if importlib.util.find_spec('tensorflow') is None:      # found, not imported: tensorflow must come after torch (ENVIRONMENT.md)
    pytest.skip('the toy TFLite file is built with TensorFlow (in the dev extra)', allow_module_level=True)

ROOT = Path(__file__).resolve().parents[1]
EXE = str(Path(sys.executable).parent/'fashion-research')


@pytest.fixture(scope='module')
def toy(tmp_path_factory):
    "A random-weight TFLite network laid out like the DeepLab file (native output stride 2, input 33 x 33)."
    from fashion_research.deeplab_onnx import write_toy_deeplab_tflite
    return write_toy_deeplab_tflite(tmp_path_factory.mktemp('toy')/'toy_deeplab.tflite')


def _run(args, cache, timeout=300):
    env = {**os.environ, 'FASHION_CACHE': str(cache)}
    return subprocess.run([EXE, *args], capture_output=True, text=True, cwd=ROOT, timeout=timeout, env=env)


def test_export_then_segment(toy, tmp_path):
    "`export-deeplab` caches an int8 conversion; `segment --model tflite` then runs it and writes a mask of the photo's size."
    photos = tmp_path/'photos'; photos.mkdir()
    for i in range(5): Image.fromarray(np.random.default_rng(i).integers(0, 256, (48, 36, 3), np.uint8)).save(photos/f'{i}.png')
    cache = tmp_path/'cache'
    r = _run(['export-deeplab', '--tflite', str(toy), '--output-stride', '4', '--size', '33', '--calibration', str(photos)], cache)
    assert r.returncode == 0, r.stderr[-2000:]
    onnx_file = Path(r.stdout.strip().splitlines()[-1])
    assert onnx_file.exists() and onnx_file.parent == cache/'deeplab' and onnx_file.name.endswith('-os4.onnx')
    r = _run(['segment', str(photos/'0.png'), '--model', 'tflite', '--tflite', str(toy), '--engine', 'onnx', '--out', str(tmp_path/'m.png')], cache)
    assert r.returncode == 0 and 'onnxruntime int8' in r.stdout, r.stdout + r.stderr[-2000:]
    m = np.asarray(Image.open(tmp_path/'m.png'))
    assert m.shape == (48, 36) and set(np.unique(m)) <= {0, 255}
    r = _run(['segment', str(photos/'0.png'), '--model', 'tflite', '--tflite', str(toy), '--engine', 'tflite', '--out', str(tmp_path/'t.png')], cache)
    assert r.returncode == 0 and 'onnxruntime' not in r.stdout, r.stdout + r.stderr[-2000:]


def test_onnx_engine_without_conversion(toy, tmp_path):
    "Asked for the ONNX engine with nothing converted, the command says which command makes it (exit 2)."
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(tmp_path/'p.png')
    r = _run(['segment', str(tmp_path/'p.png'), '--model', 'tflite', '--tflite', str(toy), '--engine', 'onnx'], tmp_path/'empty')
    assert r.returncode == 2 and 'export-deeplab' in r.stderr, r.stderr[-2000:]


def test_conversion_keeps_the_network(toy):
    "Converted whole, the graph gives LiteRT's output for the same input (the weights and layout are read correctly)."
    import onnxruntime as ort
    from ai_edge_litert.interpreter import Interpreter
    from fashion_research.deeplab_onnx import tflite_to_onnx
    x = np.random.default_rng(3).uniform(-1, 1, (1, 33, 33, 3)).astype(np.float32)
    it = Interpreter(model_path=str(toy)); it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]['index'], x); it.invoke()
    ref = it.get_tensor(it.get_output_details()[0]['index'])
    got = ort.InferenceSession(tflite_to_onnx(toy, 'full').SerializeToString(), providers=['CPUExecutionProvider']).run(None, {'image': x})[0]
    assert got.shape == ref.shape and np.abs(got - ref).max() < 1e-4 * max(1.0, float(np.abs(ref).max()))
