"Gatys NST (variant 4): Gram matrices, the loss falling with random VGG weights, masks, colour preservation, the bench CLI."
import argparse, json
import numpy as np
import pytest
import torch
from PIL import Image
from fashion_research.nst_vgg19_bench import register_cli
from fashion_research.nst_vgg19 import (gram_matrix, load_vgg19, gatys, nst_losses, rgb_to_yiq, to_tensor, VGGFeatures,
                                        STYLE_LAYERS)




@pytest.fixture(scope='module')
def vgg():
    return load_vgg19('random')


def _images(n=32):
    "A grey 'photo' with a red shirt, a stripy 'painting', the shirt's mask."
    yy, xx = np.mgrid[0:n, 0:n]
    photo = np.full((n, n, 3), 200, np.uint8)
    shirt = (np.abs(xx - n/2) < n/4) & (yy > n/4) & (yy < 0.85*n)
    photo[shirt] = (190, 40, 40)
    photo = np.clip(photo + np.random.default_rng(0).normal(0, 6, photo.shape), 0, 255).astype(np.uint8)
    paint = np.stack([127 + 120*np.sin(xx/2.0 + yy/3.0), 127 + 120*np.sin(yy/1.5), 127 + 120*np.cos(xx/2.5)], -1)
    return Image.fromarray(photo), Image.fromarray(np.clip(paint, 0, 255).astype(np.uint8)), (shirt*255).astype(np.uint8)


def test_gram_matrix_properties():
    f = torch.randn(2, 6, 7, 5)
    g = gram_matrix(f)
    assert g.shape == (2, 6, 6)
    assert torch.allclose(g, g.transpose(1, 2), atol=1e-6)                      # symmetric
    assert torch.linalg.eigvalsh(g.double()).min() > -1e-8                        # positive semi-definite
    perm = torch.randperm(35)
    assert torch.allclose(gram_matrix(f.reshape(2, 6, 35)[..., perm].reshape(2, 6, 7, 5)), g, atol=1e-5)   # position-blind
    assert torch.allclose(gram_matrix(2*f), 4*g, atol=1e-5)                       # quadratic in the responses
    assert torch.allclose(gram_matrix(f, torch.ones(2, 1, 7, 5)), g, atol=1e-5)   # a full mask = no mask
    half = torch.zeros(1, 1, 7, 5); half[..., :3, :] = 1
    assert torch.allclose(gram_matrix(f[:1], half), gram_matrix(f[:1, :, :3, :]), atol=1e-5)   # mask = crop


def test_extractor_truncates_and_names_layers(vgg):
    feats, _ = vgg
    ext = VGGFeatures(feats, ['conv4_2', *STYLE_LAYERS])
    out = ext(torch.rand(1, 3, 32, 32))
    assert set(out) == {'conv1_1', 'conv2_1', 'conv3_1', 'conv4_1', 'conv4_2', 'conv5_1'}
    assert len(ext.body) < len(feats)
    with pytest.raises(ValueError, match='unknown VGG layer'): VGGFeatures(feats, ['conv9_9'])


def test_auto_weights_fall_back_to_random_when_not_cached(torch_home):
    feats, label = load_vgg19('auto')
    assert label == 'random init'


def test_loss_falls_with_random_weights(vgg):
    photo, paint, _ = _images()
    r = gatys(photo, paint, size=None, vgg=vgg, max_evals=15, tol=None, progress=False)
    assert r.weights == 'random init' and r.evals == 15 and r.image.size == photo.size
    assert r.losses[-1] < 0.5*r.losses[0]
    before = nst_losses(photo, photo, paint, vgg, 32)['style_loss']
    after = nst_losses(r.image, photo, paint, vgg, 32)['style_loss']
    assert after < before                                      # the result is closer to the painting's statistics


def test_early_stopping_stops(vgg):
    photo, paint, _ = _images(24)
    r = gatys(photo, paint, size=None, vgg=vgg, max_evals=200, tol=0.5, window=3, min_evals=5, progress=False)
    assert r.stopped_early and r.evals < 200


def test_mask_keeps_outside_pixels(vgg):
    pytest.importorskip('fashion_research.nst_magenta')
    photo, paint, shirt = _images()
    r = gatys(photo, paint, size=None, mask=shirt, vgg=vgg, max_evals=6, tol=None, progress=False)
    out = shirt == 0
    assert np.array_equal(np.asarray(r.image)[out], np.asarray(photo)[out])
    assert (np.asarray(r.image)[~out] != np.asarray(photo)[~out]).any()


def test_colour_preservation_keeps_chroma(vgg):
    photo, paint, _ = _images()
    chroma = lambda im: rgb_to_yiq(to_tensor(im))[:, 1:]
    kept = gatys(photo, paint, size=None, vgg=vgg, max_evals=8, tol=None, progress=False, preserve_color=True)
    free = gatys(photo, paint, size=None, vgg=vgg, max_evals=8, tol=None, progress=False)
    d_kept = float((chroma(kept.image) - chroma(photo)).abs().mean())
    d_free = float((chroma(free.image) - chroma(photo)).abs().mean())
    assert d_kept < 0.01 and d_free > 2*d_kept
    y = lambda im: rgb_to_yiq(to_tensor(im))[:, :1]
    assert float((y(kept.image) - y(photo)).abs().mean()) > 0.002       # the luminance did change


def test_bench_cli_writes_json(tmp_path):
    photo, paint, shirt = _images()
    photo.save(tmp_path/'p.png'); paint.save(tmp_path/'s.png'); Image.fromarray(shirt).save(tmp_path/'m.png')
    ap = argparse.ArgumentParser(); sub = ap.add_subparsers(); bench = sub.add_parser('bench').add_subparsers()
    register_cli(sub, bench)
    a = ap.parse_args(['bench', 'nst-vgg', '--content', str(tmp_path/'p.png'), '--style', str(tmp_path/'s.png'),
                       '--mask', str(tmp_path/'m.png'), '--size', '32', '--max-evals', '5', '--weights', 'random',
                       '--json', str(tmp_path/'b.json')])
    a.func(a)
    j = json.loads((tmp_path/'b.json').read_text())
    for k in ('loss_final', 's_total', 's_to_within_5pct', 'evals', 'weights'): assert k in j
    assert j['evals'] == 5 and j['weights'] == 'random init' and j['loss_final'] <= j['loss_initial']
    a = ap.parse_args(['stylize-vgg', '--content', str(tmp_path/'p.png'), '--style', str(tmp_path/'s.png'), '--size', '32',
                       '--max-evals', '3', '--weights', 'random', '--out', str(tmp_path/'o.png')])
    a.func(a)
    assert Image.open(tmp_path/'o.png').size == (32, 32)


def test_bad_inputs(vgg):
    photo, paint, _ = _images(24)
    with pytest.raises(ValueError, match='optimizer'): gatys(photo, paint, None, vgg=vgg, optimizer='sgd', progress=False)
    with pytest.raises(ValueError, match='init'): gatys(photo, paint, None, vgg=vgg, init='zeros', progress=False)
