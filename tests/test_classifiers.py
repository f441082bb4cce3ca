"Classifiers: every architecture builds and learns, the pretrained path through $TORCH_HOME, checkpoints, CLI, real data (opt-in)."
import argparse, importlib.util, contextlib, io, json, subprocess, sys
from pathlib import Path
import numpy as np
import pytest
import torch, torchvision
from conftest import shared_path
from fashion_research.core import WeightsUnavailableError, load_image, seed_everything
from fashion_research.data import load_catalog
from fashion_research.classifiers import (ARCHS, build_classifier, train_classifier, select_target, load_pixels, normalise,
                                          TrainedClassifier, save_classifier, load_classifier, evaluate, register_cli,
                                          cached_features, preprocessing, recalibrate_bn)

torch.set_num_threads(1)   # 1 thread: fastest on a small shared machine


@pytest.fixture(scope='module')
def catalog(sample_data):
    return load_catalog(sample_data, progress=False)


@pytest.fixture(scope='module')
def tiny_batch(catalog):
    "Eight photos of the three study classes at 32 px, and their labels."
    rows, classes = select_target(catalog.items)
    rows = rows.groupby('masterCategory').head(3).head(8)
    y = torch.tensor([classes.index(c) for c in rows['masterCategory']])
    return load_pixels(rows['image_path'], 32, workers=0), y, classes


@pytest.mark.parametrize('arch', list(ARCHS))
def test_every_arch_builds_and_overfits_a_tiny_batch(arch, tiny_batch):
    px, y, classes = tiny_batch
    torch.manual_seed(0)
    m = build_classifier(arch, len(classes), image_size=32)
    pre = preprocessing(arch, 32)
    x = normalise(px, pre['mean'], pre['std'])
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    m.train()
    for _ in range(40):
        loss = torch.nn.functional.cross_entropy(m(x), y)
        opt.zero_grad(); loss.backward(); opt.step()
        if loss.item() < 0.1: break
    # predictions with batch statistics (8 photos are too few for BatchNorm's running averages at 32 px), dropout off
    for mod in m.modules():
        if isinstance(mod, torch.nn.Dropout): mod.eval()
    with torch.no_grad(): pred = m(x).argmax(1)
    assert loss.item() < 0.3, (arch, loss.item())
    assert (pred == y).float().mean() >= 0.85, (arch, pred, y)
    assert m.embed(x).shape[0] == len(x)


def test_pretrained_path_reads_torch_home(torch_home):
    sd = torchvision.models.mobilenet_v2().state_dict()
    sd['features.0.0.weight'].fill_(0.125)   # a recognisable value: the file, not a fresh init, must end up in the model
    torch.save(sd, torch_home/'hub'/'checkpoints'/'mobilenet_v2-7ebf99e0.pth')
    m = build_classifier('mobilenet_v2', 3, pretrained=True)
    assert torch.all(m.backbone[0][0][0].weight == 0.125)
    assert m.weights_source == 'torchvision MobileNet_V2_Weights.IMAGENET1K_V2'


def test_missing_weights_error_says_how_to_supply_them(torch_home, monkeypatch):
    # no file in the empty TORCH_HOME; make the download fail at once (as offline) instead of waiting for DNS
    def offline(*a, **k): raise OSError('<urlopen error [Errno -3] Temporary failure in name resolution>')
    monkeypatch.setattr(torch.hub, 'download_url_to_file', offline)
    with pytest.raises(WeightsUnavailableError) as e: build_classifier('resnet50', 3, pretrained=True)
    msg = str(e.value)
    assert 'resnet50-0676ba61.pth' in msg and 'TORCH_HOME' in msg and 'pretrained=False' in msg


def test_train_save_load_identical_predictions(catalog, tmp_path):
    tc = train_classifier(catalog.items, 'masterCategory', 'simple_cnn', image_size=32, epochs=2, progress=False,
                          fingerprint=catalog.fingerprint, cache_dir=tmp_path/'cache', workers=0)
    assert isinstance(tc, TrainedClassifier) and tc.classes == ['Accessories', 'Apparel', 'Footwear']
    path = save_classifier(tc, tmp_path/'m.pt')
    tc2 = load_classifier(path, device='cpu')
    assert (tc2.arch, tc2.classes, tc2.target, tc2.image_size, tc2.mean, tc2.std, tc2.weights) == \
           (tc.arch, tc.classes, tc.target, tc.image_size, tc.mean, tc.std, tc.weights)
    paths = list(catalog.items['image_path'][:10])
    assert tc2.predict(paths) == tc.predict(paths)
    x = torch.stack([tc2.transform()(load_image(p)) for p in paths[:4]])
    assert torch.allclose(tc2.embed(x), tc.embed(x)) and tc2.embed(x).shape == (4, 1024)


def test_frozen_mode_caches_features_and_trains_the_head(catalog, tmp_path):
    kw = dict(arch='mobilenet_v2', mode='frozen', image_size=32, epochs=2, progress=False, fingerprint=catalog.fingerprint,
              cache_dir=tmp_path/'cache', workers=0)
    tc = train_classifier(catalog.items, **kw)
    assert tc.info['cache']['train']['hit'] is False and len(list((tmp_path/'cache').glob('*.pt'))) == 2
    seed_everything(0)   # train_classifier seeds the same way before building: the same initial weights
    before = {k: v.clone() for k, v in build_classifier('mobilenet_v2', 3, image_size=32).state_dict().items()}
    tc2 = train_classifier(catalog.items, **kw)   # same seed, same backbone, same data: served from the cache
    assert tc2.info['cache']['train']['hit'] is True
    # the backbone stayed frozen (seeded init), only the head moved
    sd = tc2.model.state_dict()
    assert all(torch.equal(sd[k], before[k]) for k in before if k.startswith('backbone.'))
    assert not all(torch.equal(sd[k], before[k]) for k in before if k.startswith('head.'))


def test_other_label_columns(catalog):
    vc = catalog.items['articleType'].value_counts()
    rows, classes = select_target(catalog.items, 'articleType', min_count=40)
    assert set(classes) == set(vc[vc >= 40].index) and {'Tshirts', 'Watches'} <= set(classes) and 'Caps' not in classes
    assert set(rows['articleType']) == set(classes) and len(rows) == vc[vc >= 40].sum()
    rows, classes = select_target(catalog.items, 'gender')
    assert {'Men', 'Women'} <= set(classes)


def test_cli_bench_and_classify(sample_data, tmp_path):
    ap = argparse.ArgumentParser(prog='fashion-research'); sub = ap.add_subparsers(dest='cmd')
    register_cli(sub, sub.add_parser('bench').add_subparsers(dest='what'))
    a = ap.parse_args(['bench', 'classify', '--data', str(sample_data), '--arch', 'simple_cnn', '--image-size', '32',
                       '--epochs', '1', '--save', str(tmp_path/'m.pt'), '--json', str(tmp_path/'b.json'),
                       '--speed-n', '16', '--infer-n', '16', '--cache-dir', str(tmp_path/'cache'), '--workers', '1', '--tta', '--hierarchical'])
    with contextlib.redirect_stdout(io.StringIO()) as out: a.func(a)
    res = json.loads((tmp_path/'b.json').read_text())
    assert 0 <= res['tta_accuracy'] <= 1 and res['in_range_tta_accuracy'] == res['tta_accuracy']   # no --test-data: the same set
    assert res['hierarchical_types'] >= 2 and 0 <= res['hierarchical_accuracy'] <= 1 and 0 <= res['hierarchical_fused_accuracy'] <= 1
    vals = {'direct': res['val_accuracy'], 'hierarchical': res['val_hierarchical_accuracy'], 'hierarchical_fused': res['val_hierarchical_fused_accuracy']}
    assert res['hierarchical_choice_on_val'] == max(vals, key=vals.get) and 'in_range_val_accuracy' not in res   # chosen on validation only
    for k in ('accuracy', 'macro_f1', 'n_test', 'classes', 'train_s', 'infer_img_s', 'weights',
              'speed_head_vs_finetune_speedup', 'speed_end_to_end_vs_model_only'):
        assert k in res, k
    assert res['weights'] == 'random init' and res['n_test'] > 50 and 0 <= res['accuracy'] <= 1
    assert 'faster' in out.getvalue() and 'end-to-end' in out.getvalue()
    img = load_catalog(sample_data, progress=False).items['image_path'][0]
    a = ap.parse_args(['classify', img, '--model', str(tmp_path/'m.pt'), '--json', str(tmp_path/'c.json')])
    with contextlib.redirect_stdout(io.StringIO()) as out: a.func(a)
    line = out.getvalue().strip().split('\t')
    assert line[0] == img and line[1] in res['classes']
    c = json.loads((tmp_path/'c.json').read_text())
    assert abs(sum(c[0]['probabilities'].values()) - 1) < 1e-4
    if importlib.util.find_spec('onnx'):     # --save wrote the exports; classify ran the float32 one (auto), as PyTorch would
        assert set(res['onnx_saved']) == {'float32', 'int8'} and (tmp_path/'m.int8.onnx').exists()
        a = ap.parse_args(['classify', img, '--model', str(tmp_path/'m.pt'), '--engine', 'torch', '--json', str(tmp_path/'t.json')])
        with contextlib.redirect_stdout(io.StringIO()): a.func(a)
        t = json.loads((tmp_path/'t.json').read_text())[0]['probabilities']
        assert max(abs(t[k] - v) for k, v in c[0]['probabilities'].items()) < 1e-5
        from fashion_research.classifier_onnx import load_classifier_engine
        assert load_classifier_engine(tmp_path/'m.pt').engine == 'onnxruntime float32'


def test_bad_image_names_the_file(catalog, tmp_path):
    bad = tmp_path/'bad.jpg'; bad.write_bytes(b'not a jpeg')
    m = build_classifier('simple_cnn', 3, image_size=32)
    tc = TrainedClassifier(m, 'simple_cnn', ['a', 'b', 'c'], 'masterCategory', 32, m.mean, m.std)
    with pytest.raises(OSError, match='bad.jpg'): tc.predict([str(bad)])


def test_real_data_pixels_opt_in():
    root = shared_path('data', 'fashion')
    cat = load_catalog(root, progress=False)
    rows, classes = select_target(cat.items)
    assert classes == ['Accessories', 'Apparel', 'Footwear'] and len(rows) == 9534
    px = load_pixels(rows['image_path'][:8], 64, workers=0)
    assert px.shape == (8, 3, 64, 64) and px.float().std() > 10


def test_plot_confusion_works_outside_a_notebook():
    "The library imports what it plots with (a notebook's own `plt` must not be needed)."
    r = subprocess.run([sys.executable, '-c', "import matplotlib; matplotlib.use('Agg')\n"
                        "from fashion_research.classifiers import plot_confusion\n"
                        "f = plot_confusion({'m': {'classes': ['x', 'y'], 'confusion': [[3, 1], [0, 4]], 'accuracy': 0.875, 'macro_f1': 0.87}})\n"
                        "print(len(f.axes))"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and int(r.stdout.split()[-1]) >= 1, r.stderr[-2000:]
