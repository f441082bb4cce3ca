"""Bad input through the real command line: each case ends in one clear message and exit code 2 (or, for a batch, the
good inputs processed, the bad ones listed and exit code 3), never a traceback. Also the cases that already worked."""
import argparse, os, shutil, struct, subprocess, sys, zlib
from pathlib import Path
import numpy as np
import pytest
import torch
from PIL import Image
from fashion_research.core import CheckpointError
from fashion_research.data import STYLE_COLUMNS
from fashion_research.classifiers import build_classifier, TrainedClassifier, save_classifier, load_classifier
from fashion_research.report import build_parser, iter_parsers, HELP_GLOSSARY

ROOT = Path(__file__).resolve().parents[1]
CLI = [str(Path(sys.executable).parent/'fashion-research')]


def cli(*args, env: dict | None = None) -> subprocess.CompletedProcess:
    "Run `fashion-research ARGS` on this checkout's library, one torch thread."
    e = {**os.environ, 'PYTHONPATH': os.pathsep.join([str(ROOT), os.environ.get('PYTHONPATH', '')]).rstrip(os.pathsep),
         'OMP_NUM_THREADS': '1', **(env or {})}
    return subprocess.run(CLI + [str(a) for a in args], capture_output=True, text=True, env=e, timeout=600)


def assert_clean_error(r: subprocess.CompletedProcess, *words: str) -> str:
    "Exit code 2, one `fashion-research: error:` message holding `words`, and no traceback; returns stderr."
    out = r.stdout + r.stderr
    assert r.returncode == 2, out
    assert 'Traceback' not in out, out
    assert r.stderr.count('fashion-research: error:') == 1, r.stderr
    for w in words: assert w in r.stderr, (w, r.stderr)
    return r.stderr


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))


def png_announcing(w: int, h: int) -> bytes:
    "The bytes of a PNG whose header announces w x h RGB pixels (all a reader sees before decoding)."
    return (b'\x89PNG\r\n\x1a\n' + _chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0))
            + _chunk(b'IDAT', zlib.compress(b'\0'*64)) + _chunk(b'IEND', b''))


@pytest.fixture(scope='module')
def classifier_file(tmp_path_factory) -> Path:
    "A small real classifier checkpoint (mobilenet_v2, random init, 32 px): enough for `classify` to run."
    torch.manual_seed(0)
    m = build_classifier('mobilenet_v2', 3, image_size=32)
    tc = TrainedClassifier(m, 'mobilenet_v2', ['Apparel', 'Footwear', 'Accessories'], 'masterCategory', 32, m.mean, m.std)
    return save_classifier(tc, tmp_path_factory.mktemp('model')/'clf.pt')


@pytest.fixture()
def images(tmp_path) -> Path:
    "A folder with good images in every mode the contract names, and bad ones of every kind."
    d = tmp_path/'img'; d.mkdir()
    rgb = np.zeros((40, 30, 3), np.uint8); rgb[:, :10] = (200, 30, 30)
    Image.fromarray(rgb).save(d/'rgb.jpg', quality=95)
    Image.fromarray(rgb).convert('CMYK').save(d/'cmyk.jpg')
    Image.fromarray((np.ones((40, 30))*40000).astype(np.uint16)).save(d/'g16.png')
    Image.fromarray(np.dstack([rgb, np.full((40, 30), 128, np.uint8)]), 'RGBA').save(d/'rgba.png')
    Image.new('RGB', (1, 1), (9, 9, 9)).save(d/'one.png')
    (d/'zero.jpg').write_bytes(b'')
    (d/'truncated.jpg').write_bytes((d/'rgb.jpg').read_bytes()[:300])
    (d/'text.jpg').write_text('this is not a jpeg, just text')
    (d/'huge.png').write_bytes(png_announcing(20_000, 20_000))
    return d


# ---- the data folder, checked at the door (report --profile full --data D --only 02) ---------------------------------

def _dataset(tmp_path, sample_data, styles: bytes | None, with_images: bool = True) -> Path:
    "A dataset folder: the sample's images (or none) and the given styles.csv bytes (None: the sample's)."
    d = tmp_path/'D'; d.mkdir()
    if with_images: shutil.copytree(sample_data/'images', d/'images')
    (d/'styles.csv').write_bytes((sample_data/'styles.csv').read_bytes() if styles is None else styles)
    return d


def _report(d, tmp_path):
    return cli('report', '--profile', 'full', '--data', d, '--only', '02', '--out', tmp_path/'rep')


@pytest.mark.parametrize('styles, words', [
    (b'', ['styles.csv is empty', 'header line']),
    (np.random.default_rng(0).bytes(4000), ['not a CSV text file']),
    ((';'.join(STYLE_COLUMNS) + '\n1;Men;Apparel;Topwear;Tshirts;Blue;Summer;2012;Casual;Shirt\n').encode(),
     ["delimited by semicolons (';')", "sep=';'"]),
    (b'id,gender,masterCategory\n1,Men,Apparel\n', ['lacks the required columns', 'season', 'found: id, gender, masterCategory']),
], ids=['empty', 'random-bytes', 'semicolons', 'three-columns'])
def test_report_refuses_a_bad_styles_csv(tmp_path, sample_data, styles, words):
    d = _dataset(tmp_path, sample_data, styles)
    err = assert_clean_error(_report(d, tmp_path), str(d/'styles.csv'), *words)
    assert not (tmp_path/'rep'/'notebooks').exists() or not any((tmp_path/'rep'/'notebooks').iterdir()), err   # nothing ran


def test_report_refuses_a_dataset_without_images(tmp_path, sample_data):
    d = _dataset(tmp_path, sample_data, None, with_images=False)
    assert_clean_error(_report(d, tmp_path), f"{d/'images'} not found", 'images/<id>.jpg')


def test_report_refuses_too_few_products_for_the_classifier(tmp_path, sample_data):
    lines = (sample_data/'styles.csv').read_text().splitlines()[:7]
    d = _dataset(tmp_path, sample_data, ('\n'.join(lines) + '\n').encode())
    assert_clean_error(cli('report', '--data', d, '--only', '02', '03', '--out', tmp_path/'rep'),
                       'need at least 20 products', '--only 02 05')


def test_images_named_otherwise_are_refused(tmp_path, sample_data):
    d = _dataset(tmp_path, sample_data, None, with_images=False); (d/'images').mkdir()
    (d/'images'/'photo-1.jpg').write_bytes(b'x')
    assert_clean_error(cli('bench', 'data', '--data', d), 'none of the 678 products', 'photo-1.jpg', 'named by the product id')


def test_segmentation_folder_with_mismatched_masks(tmp_path, sample_data):
    seg = tmp_path/'seg'; shutil.copytree(sample_data/'segmentation', seg)
    first = sorted((seg/'masks').iterdir())[0]
    Image.new('L', (10, 10)).save(first)
    assert_clean_error(cli('bench', 'segment', '--data', seg, '--model', 'unet', '--epochs', '1'),
                       f'{first.stem}: image 128x192, mask 10x10', 'label map')


# ---- images ----------------------------------------------------------------------------------------------------

def test_classify_refuses_a_decompression_bomb(images, classifier_file):
    assert_clean_error(cli('classify', images/'huge.png', '--model', classifier_file),
                       f"cannot read image {images/'huge.png'}", '400,000,000 pixels, over the limit of 100,000,000', 'FASHION_MAX_PIXELS')


def test_pixel_limit_comes_from_the_environment(images, classifier_file):
    assert_clean_error(cli('classify', images/'rgb.jpg', '--model', classifier_file, env={'FASHION_MAX_PIXELS': '1000'}),
                       '30x40 = 1,200 pixels, over the limit of 1,000')


@pytest.mark.parametrize('name, reason', [('zero.jpg', 'empty file (0 bytes)'), ('truncated.jpg', 'truncated'),
                                          ('text.jpg', 'cannot identify image file'), ('missing.jpg', 'file not found')])
def test_unreadable_image_names_file_and_reason(images, classifier_file, name, reason):
    err = assert_clean_error(cli('classify', images/name, '--model', classifier_file), f"cannot read image {images/name}: ")
    assert reason.lower() in err.split(f"{images/name}: ", 1)[1].lower(), err   # the reason, not just the file name


def test_every_image_mode_is_read(images, classifier_file):
    files = [images/f for f in ('rgb.jpg', 'cmyk.jpg', 'g16.png', 'rgba.png', 'one.png')]
    r = cli('classify', *files, '--model', classifier_file)
    assert r.returncode == 0 and 'Traceback' not in r.stderr, r.stderr
    assert [l.split('\t')[0] for l in r.stdout.splitlines()] == [str(f) for f in files]


def test_batch_skips_unreadable_images_and_lists_them(images, classifier_file):
    r = cli('classify', images/'rgb.jpg', images/'zero.jpg', images/'one.png', images/'huge.png', '--model', classifier_file)
    assert r.returncode == 3 and 'Traceback' not in r.stderr, r.stderr        # 3: done, with inputs skipped
    assert [l.split('\t')[0] for l in r.stdout.splitlines()] == [str(images/'rgb.jpg'), str(images/'one.png')]
    assert 'skipped 2 of 4 images' in r.stderr
    assert f"cannot read image {images/'zero.jpg'}: empty file" in r.stderr and f"{images/'huge.png'}: 400,000,000 pixels" in r.stderr


def test_batch_of_only_unreadable_images_is_an_error(images, classifier_file):
    assert_clean_error(cli('classify', images/'zero.jpg', images/'text.jpg', '--model', classifier_file),
                       'none of the 2 images could be read', 'zero.jpg: empty file', 'text.jpg')


# ---- checkpoints -------------------------------------------------------------------------------------------------

def test_classify_refuses_a_file_that_is_not_a_checkpoint(images, tmp_path):
    f = tmp_path/'F.pt'; f.write_text('just some notes, not weights')
    assert_clean_error(cli('classify', images/'rgb.jpg', '--model', f),
                       f'{f} is not a fashion-research classifier checkpoint', "a text file (starting 'just some notes",
                       'bench classify --data DIR --save PATH')


def test_foreign_other_kind_and_newer_checkpoints_are_named(tmp_path, classifier_file):
    from fashion_research.segmentation import UNet, save_unet
    unet = save_unet(UNet(pretrained_encoder=False), tmp_path/'unet.pt')
    ck = torch.load(classifier_file, weights_only=True); ck['format'] = 'fashion-research-classifier/2'
    torch.save(ck, tmp_path/'newer.pt')
    torch.save({'features.0.weight': torch.zeros(3)}, tmp_path/'tv.pth')
    torch.save(torch.nn.Linear(2, 2), tmp_path/'pickled.pt')
    for f, words in [(unet, 'holds a fashion-research unet checkpoint, not a classifier one'),
                     (tmp_path/'newer.pt', 'format version 2'), (tmp_path/'tv.pth', 'bare state_dict of 1 tensors'),
                     (tmp_path/'pickled.pt', 'pickled Python object')]:
        with pytest.raises(CheckpointError) as e: load_classifier(f, 'cpu')
        assert str(f) in str(e.value) and words in str(e.value), e.value
    assert load_classifier(classifier_file, 'cpu').classes == ['Apparel', 'Footwear', 'Accessories']


def test_unet_checkpoint_refuses_a_classifier(classifier_file):
    from fashion_research.segmentation import load_unet
    with pytest.raises(CheckpointError, match='holds a fashion-research classifier checkpoint, not a unet one'):
        load_unet(classifier_file)


# ---- every command explains itself -----------------------------------------------------------------------------

def test_every_option_of_every_command_has_help():
    parser = build_parser()
    missing = [(' '.join(path), a.option_strings or a.dest) for path, p in iter_parsers(parser) for a in p._actions
               if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction)) and not (a.help or '').strip()]
    assert missing == [], f"options without help (add them to HELP_GLOSSARY in 11_report): {missing}"
    commands = {' '.join(path) for path, _ in iter_parsers(parser)}
    assert {'report', 'models', 'classify', 'bench classify', 'bench data'} <= commands


def test_help_shows_defaults_and_version():
    r = cli('bench', 'classify', '--help')
    assert r.returncode == 0 and '--epochs EPOCHS' in r.stdout
    text = ' '.join(r.stdout.split())
    assert 'training epochs at most' in text and '(default: 5)' in text and '(default: mobilenet_v2)' in text
    v = cli('--version')
    assert v.returncode == 0 and v.stdout.startswith('fashion-research ')


def test_models_table_names_every_model_and_how_to_get_it(tmp_path):
    home = tmp_path/'th'; (home/'hub'/'checkpoints').mkdir(parents=True)
    (home/'hub'/'checkpoints'/'vgg19-dcbb9e9d.pth').write_bytes(b'x')
    r = cli('models', '--json', tmp_path/'m.json', env={'TORCH_HOME': str(home)})
    assert r.returncode == 0, r.stderr
    for name in ('mobilenet_v2', 'resnet50', 'efficientnet_b0', 'vgg19', 'deeplabv3_resnet101', 'Magenta arbitrary stylization (TF Hub)',
                 'Magenta arbitrary stylization (TFLite pair)', 'DeepLab v3 MobileNetV2 (TFLite, VOC)', 'ONNX', 'EfficientNet-Lite0'):
        assert name in r.stdout, name
    vgg = next(l for l in r.stdout.splitlines() if l.startswith('vgg19'))
    assert 'available' in vgg and str(home/'hub'/'checkpoints'/'vgg19-dcbb9e9d.pth') in vgg
    res = next(l for l in r.stdout.splitlines() if l.startswith('resnet50'))
    assert 'missing' in res and 'copy resnet50-0676ba61.pth into' in res


def test_make_lab_allows_root_only_for_root(tmp_path):
    if not shutil.which('make'): pytest.skip('make not installed')
    stamp = tmp_path/'stamp'; stamp.touch()
    r = subprocess.run(['make', '-n', 'lab', f'STAMP={stamp}'], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert ('--allow-root' in r.stdout) == (os.geteuid() == 0), r.stdout
