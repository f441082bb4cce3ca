"Segmentation: mask metrics and conventions, the UNet learning the sample masks, checkpoints, backends, command line."
import argparse, importlib.util, json, math
import numpy as np
import pytest
import torch
from PIL import Image

from fashion_research.segmentation import (iou, dice, dice_from_iou, mean_ci, as_bool_mask, clean_mask, get_segmenter,
                                           train_unet, save_unet, load_unet, evaluate_segmenter, summarize_eval, draw_seg_set,
                                           split_pairs, register_cli, default_tflite_path, UNet, SegSet)
from fashion_research.deeplab import _deeplab_prob_fn
from fashion_research.data import read_seg_dataset, binary_mask
from fashion_research.core import WeightsUnavailableError
from conftest import shared_path




# ---- metrics -------------------------------------------------------------------------------------------------

def test_iou_dice_values_and_empty_convention():
    g = np.zeros((10, 10), np.uint8); g[:5] = 255
    p = np.zeros((10, 10), np.uint8); p[2:7] = 255
    assert iou(p, g) == pytest.approx(30 / 70) and dice(p, g) == pytest.approx(60 / 100)
    e = np.zeros_like(g)
    assert (iou(e, e), dice(e, e)) == (1.0, 1.0)          # both empty: perfect agreement
    assert (iou(p, e), dice(p, e), iou(e, g), dice(e, g)) == (0.0, 0.0, 0.0, 0.0)
    assert iou(p > 0, (g > 0).astype(np.float32)) == iou(p, g)   # bool / 0-1 / 255 masks agree
    with pytest.raises(ValueError, match='shapes differ'): iou(p, g[:9])
    with pytest.raises(ValueError, match='2-D'): as_bool_mask(np.zeros((2, 2, 3)))


def test_dice_is_2iou_over_1_plus_iou_per_mask():
    rng = np.random.default_rng(1)
    for _ in range(300):
        a, b = rng.random((13, 11)) < rng.random(), rng.random((13, 11)) < rng.random()
        j, d = iou(a, b), dice(a, b)
        assert d == pytest.approx(2 * j / (1 + j), abs=1e-12) and d >= j - 1e-12
    # the study's pair: IoU 0.97 forces Dice 0.985; Dice 0.63 forces IoU 0.46
    assert dice_from_iou(0.97) == pytest.approx(0.9848, abs=1e-4)
    assert dice_from_iou(0.46) == pytest.approx(0.63, abs=0.005)


def test_mean_ci():
    ci = mean_ci([0.5, 0.7, 0.9])
    assert ci['mean'] == pytest.approx(0.7) and ci['lo'] < 0.7 < ci['hi'] and ci['n'] == 3
    assert ci['hi'] - ci['mean'] == pytest.approx(4.302653 * 0.2 / math.sqrt(3), rel=1e-5)   # t(0.975, 2)
    assert mean_ci([])['n'] == 0 and math.isnan(mean_ci([0.3])['hi'])


def test_clean_mask():
    m = np.zeros((30, 30), np.uint8); m[2:20, 2:20] = 255; m[8:10, 8:10] = 0; m[27, 27] = 255
    c = clean_mask(m)
    assert c.dtype == np.uint8 and set(np.unique(c)) == {0, 255}
    assert c[27, 27] == 0 and c[9, 9] == 255 and (c > 0).sum() == 18 * 18


# ---- UNet ----------------------------------------------------------------------------------------------------

def test_unet_learns_sample_masks(sample_data, tmp_path):
    "Trained on 160 newly drawn figures, the UNet scores IoU >= 0.8 on the 48 sample figures it never saw."
    train_p, labels = read_seg_dataset(draw_seg_set(tmp_path/'drawn', 160, seed=1))
    test_p, test_labels = read_seg_dataset(sample_data/'segmentation')
    model, hist = train_unet(train_p, labels, size=(48, 72), epochs=4, batch_size=4, lr=3e-3, augment='', seed=0, progress=False)
    assert hist['stopped_by'] == 'epochs' and len(hist['epochs']) == 4 and hist['epochs'][-1]['loss'] < hist['epochs'][0]['loss']
    ck = save_unet(model, tmp_path/'u.pt', hist)
    seg = get_segmenter('unet', checkpoint=ck, device='cpu')
    assert seg.weights == 'local file u.pt' and seg.name == 'unet_mobilenet_v2'
    df = evaluate_segmenter(seg, test_p, test_labels, 'clothing', progress=False)
    s = summarize_eval(df)
    print('sample IoU', s['iou_mean'])
    assert s['n_test'] == 48 and s['iou_mean'] >= 0.8, s
    assert np.allclose(df['dice'], [dice_from_iou(j) for j in df['iou']])


def test_segmenter_mask_convention(tmp_path):
    ck = save_unet(UNet(size=(32, 48)), tmp_path/'u.pt')
    seg = get_segmenter('unet', checkpoint=ck, device='cpu')
    for size, mode in [((45, 70), 'RGB'), ((200, 31), 'L'), ((64, 64), 'RGBA')]:
        m = seg(Image.new(mode, size))
        assert m.dtype == np.uint8 and m.shape == (size[1], size[0]) and set(np.unique(m)) <= {0, 255}
    seg.threshold = -1.0
    assert (seg(Image.new('RGB', (20, 30))) == 255).all()          # threshold below every probability: all foreground


def test_checkpoint_round_trip(tmp_path):
    m = UNet(size=(32, 48), target='person').eval()
    m2 = load_unet(save_unet(m, tmp_path/'a'/'u.pt', {'k': 1}))
    x = torch.rand(1, 3, 48, 32)
    with torch.inference_mode(): assert torch.allclose(m(x), m2(x), atol=1e-5)
    assert m2.config['target'] == 'person' and m2.meta == {'k': 1}
    (tmp_path/'bad.pt').write_bytes(b'not a checkpoint')
    with pytest.raises(Exception): load_unet(tmp_path/'bad.pt')
    with pytest.raises(FileNotFoundError): load_unet(tmp_path/'none.pt')


def test_augmented_set_keeps_binary_masks(sample_data):
    pairs, labels = read_seg_dataset(sample_data/'segmentation')
    ds = SegSet(pairs[:3], labels, (40, 60), target='person', train='flip,scale', progress=False)
    for i in range(12):
        x, y = ds[i % 3]
        assert x.shape == (3, 60, 40) and y.shape == (1, 60, 40) and set(np.unique(y.numpy())) <= {0.0, 1.0}


def test_split_pairs_seeded():
    import pandas as pd
    p = pd.DataFrame({'name': range(40)})
    a, b = split_pairs(p, test=0.25, seed=3), split_pairs(p, test=0.25, seed=3)
    assert a.tolist() == b.tolist() and (a == 'test').sum() == 10


# ---- other backends --------------------------------------------------------------------------------------------

def test_get_segmenter_errors(tmp_path):
    with pytest.raises(ValueError, match='unknown segmenter'): get_segmenter('sam')
    with pytest.raises(ValueError, match='checkpoint'): get_segmenter('unet')
    with pytest.raises(ValueError, match='target'): get_segmenter('unet', target='shoes')
    with pytest.raises(FileNotFoundError, match='not found'): get_segmenter('tflite', tflite=tmp_path/'x.tflite')


def test_deeplab_offline_error_and_random_init(torch_home):
    "Without the weights file: a clear error; pretrained=False builds without downloading and says 'random init'."
    with pytest.raises(WeightsUnavailableError, match='TORCH_HOME'): get_segmenter('deeplab', device='cpu')
    seg = get_segmenter('deeplab', pretrained=False, device='cpu')
    assert seg.weights == 'random init' and seg.target == 'person'
    seg.prob_fn = _deeplab_prob_fn(seg.model, 'cpu', short_side=48)   # the same code path at a small size, to keep the test fast
    m = seg(Image.new('RGB', (40, 30)))
    assert m.shape == (30, 40) and m.dtype == np.uint8


def test_tflite_backend():
    path = default_tflite_path()
    if not path.exists(): pytest.skip(f'{path} not present (real model is optional)')
    pytest.importorskip('ai_edge_litert')
    seg = get_segmenter('tflite', tflite=path)
    img = Image.new('RGB', (120, 180), (90, 120, 160))
    m = seg(img)
    assert m.shape == (180, 120) and m.dtype == np.uint8 and set(np.unique(m)) <= {0, 255}
    assert seg.target == 'person' and 'deeplabv3_257_mv_gpu.tflite' in seg.weights


def test_tflite_finds_person_on_real_photo():
    from fashion_research.core import real_sample
    root = real_sample('clothseg')                         # the embedded real photos (data/real), else ../shared's
    if root is None: root = shared_path('data', 'clothseg')
    path = default_tflite_path()
    if not path.exists(): pytest.skip(f'{path} not present')
    pytest.importorskip('ai_edge_litert')
    pairs, labels = read_seg_dataset(root)
    seg = get_segmenter('tflite', tflite=path)
    df = evaluate_segmenter(seg, pairs[:3], labels, 'person', progress=False)
    assert df['iou'].mean() > 0.5, df


def test_mask_deeplab_offline_is_the_shipped_tflite(torch_home):
    "With no torchvision weights in the cache, --mask deeplab means the shipped TFLite DeepLab: variant 2 runs with no flag."
    from fashion_research.nst_magenta import make_segmenter
    if not default_tflite_path().exists(): pytest.skip('no DeepLab TFLite file in this checkout')
    pytest.importorskip('ai_edge_litert')
    seg = make_segmenter('deeplab')
    assert 'deeplabv3_257_mv_gpu.tflite' in seg.weights and seg.target == 'person'
    m = seg(Image.new('RGB', (60, 90), (120, 110, 100)))
    assert m.shape == (90, 60) and set(np.unique(m)) <= {0, 255}


# ---- command line ----------------------------------------------------------------------------------------------

def _parser():
    ap = argparse.ArgumentParser(); sub = ap.add_subparsers(dest='cmd')
    bench = sub.add_parser('bench').add_subparsers(dest='what')
    register_cli(sub, bench)
    return ap


def test_cli_segment_and_bench(sample_data, tmp_path):
    ck = save_unet(UNet(size=(32, 48)), tmp_path/'u.pt')
    img = sorted((sample_data/'segmentation'/'images').glob('*.jpg'))[0]
    a = _parser().parse_args(['segment', str(img), '--model', 'unet', '--checkpoint', str(ck), '--out', str(tmp_path/'m.png')])
    a.func(a)
    m = np.asarray(Image.open(tmp_path/'m.png'))
    assert m.shape[::-1] == Image.open(img).size and set(np.unique(m)) <= {0, 255}
    a = _parser().parse_args(['bench', 'segment', '--data', str(sample_data/'segmentation'), '--model', 'unet', '--epochs', '1',
                              '--size', '32', '48', '--batch-size', '8', '--max-test', '3', '--save', str(tmp_path/'b.pt'),
                              '--json', str(tmp_path/'b.json')])
    r = a.func(a)
    j = json.loads((tmp_path/'b.json').read_text())
    for k in ('iou_mean', 'dice_mean', 'n_test', 'train_s', 'infer_s_per_image'): assert k in j, k
    assert j['n_test'] == 3 and j['n_train'] == 41 and j['train_s'] > 0 and (tmp_path/'b.pt').exists()
    assert j['dice_mean'] >= j['iou_mean']
    if importlib.util.find_spec('onnx'):     # --save writes the int8 export by default: the fast path is the default path
        assert j['onnx_saved'] == str(tmp_path/'b.onnx') and (tmp_path/'b.onnx').exists()
        from fashion_research.unet import _onnx_unet_session
        assert _onnx_unet_session(tmp_path/'b.pt')[1]['precision'].startswith('int8')
    a = _parser().parse_args(['bench', 'segment', '--data', str(sample_data/'segmentation'), '--model', 'unet', '--epochs', '1',
                              '--size', '32', '48', '--batch-size', '8', '--max-test', '2', '--save', str(tmp_path/'c.pt'), '--no-export'])
    assert 'onnx_saved' not in a.func(a) and not (tmp_path/'c.onnx').exists()
