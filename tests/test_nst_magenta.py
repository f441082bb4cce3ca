"Magenta style transfer (variants 1-3): hub and TFLite backends through toy models, compositing, CLI, offline error."
import argparse, json
import numpy as np
import pytest
from PIL import Image

from fashion_research import nst_magenta as nm
from fashion_research import magenta_stylizer as ms
from conftest import shared_path


@pytest.fixture(scope='module')
def toy(tmp_path_factory):
    "Toy models with Magenta's calling conventions (a SavedModel and a TFLite pair); tensorflow imported after torch."
    return nm.make_toy_magenta(tmp_path_factory.mktemp('toy_magenta'), size=64, style_size=32)


def _img(h, w, seed=0):
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8))


RED = Image.new('RGB', (90, 70), (255, 0, 0))


def test_hub_calling_convention(toy):
    "tensorflow_hub.load(DIR) of the toy gives Magenta's `outputs = module(content, style)`, `outputs[0]` the image."
    tf, hub = ms._import_tf()
    m = hub.load(str(toy['hub']))
    out = m(tf.constant(np.full((1, 8, 6, 3), 0.2, np.float32)), tf.constant(np.ones((1, 16, 16, 3), np.float32)))
    np.testing.assert_allclose(out[0].numpy(), 0.6, atol=1e-6)


@pytest.mark.parametrize('backend', ['hub', 'tflite'])
def test_stylize_size_alignment_and_strength(toy, backend):
    st = nm.MagentaStylizer(toy[backend])
    assert st.backend == backend and st.weights
    half = np.zeros((50, 120, 3), np.uint8); half[:, 60:] = 200          # wide photo: padded top and bottom for TFLite
    out = st.stylize(Image.fromarray(half), RED)
    assert out.size == (120, 50) and out.mode == 'RGB'
    o = np.asarray(out).astype(int)
    np.testing.assert_allclose(o[5:45, 5:55], np.broadcast_to([128, 0, 0], (40, 50, 3)), atol=2)
    np.testing.assert_allclose(o[5:45, 65:115], np.broadcast_to([228, 100, 100], (40, 50, 3)), atol=2)
    grey = Image.new('RGB', (30, 40), (100, 100, 100))
    np.testing.assert_allclose(np.asarray(st.stylize(grey, RED, 0.0)).astype(int), 100, atol=2)   # strength 0: the photo
    with pytest.raises(ValueError, match='strength'): st.stylize(grey, RED, -0.1)


def test_tflite_strength_blends_bottlenecks(toy):
    "TFLite strength mixes the style's bottleneck with the content's own: halfway lands halfway."
    st = nm.MagentaStylizer(toy['tflite'])
    grey = Image.new('RGB', (40, 40), (100, 100, 100))
    px = np.asarray(st.stylize(grey, RED, 0.5))[20, 20].astype(float)
    np.testing.assert_allclose(px, [(100 + (255 + 100) / 2) / 2, 75, 75], atol=2)
    assert nm.MagentaStylizer(toy['tflite'])._pred is st._pred   # interpreters loaded once


def test_offline_error_names_handle_and_remedies():
    with pytest.raises(nm.MagentaUnavailableError) as e: nm.MagentaStylizer('https://tfhub.invalid/magenta/none/1')
    msg = str(e.value)
    assert 'tfhub.invalid' in msg and 'SavedModel' in msg and 'TFLite' in msg and nm.MAGENTA_HUB_HANDLE in msg
    with pytest.raises(nm.MagentaUnavailableError, match='no such'): nm.MagentaStylizer('/no/such/folder')
    stylizer, err = nm.try_magenta('/no/such/folder')
    assert stylizer is None and 'SavedModel' in err


@pytest.mark.parametrize('feather', [0, 5])
def test_composite_keeps_outside_pixels(feather):
    o, s = np.asarray(_img(64, 48, 1)), np.asarray(_img(64, 48, 2))
    m = np.zeros((64, 48), np.uint8); m[10:50, 8:40] = 255; m[30, 2] = 255
    c = np.asarray(nm.composite(o, s, m, feather))
    assert (c[m == 0] == o[m == 0]).all()
    assert nm.outside_mask_max_abs_diff(o, c, m) == 0
    inner = np.zeros_like(m, bool); inner[20:40, 18:30] = True
    assert (c[inner] == s[inner]).all()                  # well inside the mask: fully stylized either way
    if feather == 0: assert (c[m > 0] == s[m > 0]).all()


def test_stylize_masked_pipeline(toy):
    st, photo = nm.MagentaStylizer(toy['tflite']), _img(60, 40, 3)
    def seg(im):
        m = np.zeros(im.size[::-1], np.uint8); m[15:45, 10:30] = 255; return m
    r = nm.stylize_masked(photo, RED, seg, st, 1.0, 3)
    assert list(r.seconds) == ['segment', 'stylize', 'composite'] and r.image.size == photo.size
    assert nm.outside_mask_max_abs_diff(photo, r.image, r.mask) == 0
    assert np.abs(np.asarray(r.image, int) - np.asarray(photo, int))[r.mask > 0].mean() > 10
    whole = nm.stylize_masked(photo, RED, None, st)
    assert whole.mask.all() and whole.image == st.stylize(photo, RED)


def test_cli_stylize_and_bench(toy, tmp_path):
    for i in range(3): _img(70, 50, i).save(tmp_path/f'p{i}.jpg')
    (tmp_path/'styles').mkdir(); RED.save(tmp_path/'styles'/'red.png')
    ap = argparse.ArgumentParser(); sub = ap.add_subparsers(); bench = sub.add_parser('bench').add_subparsers()
    nm.register_cli(sub, bench)
    a = ap.parse_args(['stylize', str(tmp_path/'p0.jpg'), str(tmp_path/'styles'/'red.png'), '--out', str(tmp_path/'o'/'x.png'),
                       '--model', str(toy['tflite']), '--strength', '0.8'])
    a.func(a)
    assert Image.open(tmp_path/'o'/'x.png').size == (50, 70)
    a = ap.parse_args(['bench', 'stylize', '--content-dir', str(tmp_path), '--style-dir', str(tmp_path/'styles'),
                       '--model', str(toy['tflite']), '--size', '40', '--json', str(tmp_path/'b.json')])
    a.func(a)
    r = json.loads((tmp_path/'b.json').read_text())
    assert r['n'] == 3 and r['backend'] == 'tflite' and r['mask'] == 'none'
    for k in ('s_per_image_median', 'segment_s', 'stylize_s', 'composite_s', 'outside_mask_max_abs_diff', 'bare_transfer_s'): assert k in r
    with pytest.raises(SystemExit): ap.parse_args(['stylize', 'a', 'b', '--out', 'c', '--mask', 'sam'])


def test_real_tflite_magenta_with_deeplab_mask():
    "Opt-in: the real Magenta TFLite pair and DeepLab TFLite on a real photo (skips where ../shared is absent)."
    mdir = shared_path('models', 'magenta')
    photo = sorted(shared_path('data', 'clothseg', 'images').glob('*.jpg'))[0]
    painting = shared_path('data', 'styles', 'starry_night.jpg')
    deeplab = shared_path('models', 'deeplab', 'deeplabv3_257_mv_gpu.tflite')
    st = nm.MagentaStylizer(mdir)
    content = nm._fit(nm.load_image(photo), 384)
    seg = nm.make_segmenter('tflite-deeplab', tflite=deeplab)
    r = nm.stylize_masked(content, nm.load_image(painting), seg, st)
    assert r.image.size == content.size and 0.05 < (r.mask > 0).mean() < 0.9
    assert nm.outside_mask_max_abs_diff(content, r.image, r.mask) == 0
    assert np.abs(np.asarray(r.stylized, int) - np.asarray(content, int)).mean() > 10   # a real restyling, not a copy
