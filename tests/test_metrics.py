"The four-variant comparison: mask scores, background change, variants that cannot run, the study's photos on real data."
import numpy as np
import pytest
import torch
from PIL import Image
from conftest import shared_path
from fashion_research.metrics import (mask_scores, outside_change, run_variants, score_variants, study_table, study_photos,
                                      model_status, load_models, ENABLE)
from fashion_research.nst_vgg19 import load_vgg19
from fashion_research.nst_magenta import outside_mask_max_abs_diff




class Invert:
    "A stand-in stylizer (not Magenta): inverts the photo."
    name, size, weights = 'invert', 0, 'none (test stand-in)'
    def stylize(self, content, style, strength=1.0): return Image.fromarray(255 - np.asarray(content))


def box(im):
    m = np.zeros(im.size[::-1], np.uint8); m[8:24, 6:18] = 255; return m


@pytest.fixture(scope='module')
def photo():
    gt = np.zeros((32, 24), np.uint8); gt[8:24, 6:18] = 255
    im = Image.fromarray(np.random.default_rng(0).integers(0, 256, (32, 24, 3), dtype=np.uint8))
    return {'name': 'p', 'garment': 't-shirt', 'image': im, 'gt_clothing': gt, 'gt_person': gt}


def test_mask_scores():
    gt = np.zeros((10, 10), np.uint8); gt[:5] = 255
    s = mask_scores(gt, gt, np.full((10, 10), 255, np.uint8))
    assert s['iou'] == 1 and s['dice'] == 1 and s['iou_person'] == pytest.approx(0.5)
    assert np.isnan(mask_scores(None, gt)['iou'])


def test_outside_change_counts_background_only():
    gt = np.zeros((10, 10), np.uint8); gt[:, :5] = 255
    a = Image.fromarray(np.zeros((10, 10, 3), np.uint8))
    b = np.zeros((10, 10, 3), np.uint8); b[:, :5] = 255            # garment changed only
    assert outside_change(a, Image.fromarray(b), gt)['outside_changed_frac'] == 0
    b[:, 9] = 100                                                    # one background column changed
    c = outside_change(a, Image.fromarray(b), gt)
    assert c['outside_changed_frac'] == pytest.approx(0.2) and c['outside_mean_abs_change'] == pytest.approx(20)


def test_variants_with_stand_ins(photo):
    vgg = load_vgg19('random'); style = Image.fromarray(np.full((32, 32, 3), 40, np.uint8))
    rec = run_variants(photo, style, Invert(), '', {'deeplab': box, 'unet': None}, {'unet': 'FileNotFoundError: no checkpoint'},
                       vgg=vgg, gatys_kw={'max_evals': 3})
    df = score_variants(photo, style, rec, 'grey', vgg, loss_size=32).set_index('variant')
    assert df.loc['2_deeplab_magenta', 'own_mask_outside_max_diff'] == 0          # composited: background untouched
    assert df.loc['2_deeplab_magenta', 'iou'] == 1
    assert df.loc['1_magenta', 'outside_changed_frac'] > 0.9                     # whole photo repainted
    assert df.loc['3_unet_magenta', 'status'] == 'not run' and df.loc['3_unet_magenta', 'why'] == ENABLE['unet']
    assert 'Error' not in df.loc['3_unet_magenta', 'why']                        # a plain sentence, not the exception
    assert np.isnan(df.loc['3_unet_magenta', 'total_s']) and np.isnan(df.loc['3_unet_magenta', 'content_loss'])
    assert df.loc['4_gatys_vgg19', 'weights'] == 'VGG-19: random init'
    assert df.loc['0_photo', 'colour_gap_left'] == pytest.approx(1.0) and df.loc['0_photo', 'style_gap_left'] == pytest.approx(1.0)
    st = study_table(df.reset_index())
    assert list(st['model']) == ['DeepLabV3+NST', 'UNet+NST']


def test_no_magenta_scores_masks_but_invents_nothing(photo):
    vgg = load_vgg19('random'); style = Image.fromarray(np.full((32, 32, 3), 40, np.uint8))
    rec = run_variants(photo, style, None, 'MagentaUnavailableError: offline', {'deeplab': box}, vgg=vgg, gatys_kw={'max_evals': 2},
                       gatys_mask='gt')
    df = score_variants(photo, style, rec, 'grey', vgg, loss_size=32).set_index('variant')
    assert df.loc['2_deeplab_magenta', 'status'] == 'mask only' and df.loc['2_deeplab_magenta', 'iou'] == 1
    for v in ('1_magenta', '2_deeplab_magenta'):
        assert np.isnan(df.loc[v, 'style_loss']) and np.isnan(df.loc[v, 'total_s']) and df.loc[v, 'why'] == ENABLE['magenta']
        assert np.isnan(df.loc[v, 'style_gap_left'])
    assert outside_mask_max_abs_diff(photo['image'], rec['4_gatys_vgg19']['image'], photo['gt_clothing']) == 0


def test_model_status_offline(monkeypatch, tmp_path, torch_home):
    monkeypatch.delenv('FASHION_UNET_CHECKPOINT', raising=False)
    m = load_models(magenta_model=tmp_path/'no_magenta', deeplab='tflite', deeplab_tflite=tmp_path/'none.tflite')
    st = model_status(m).set_index('model')
    assert not st['loaded'].iloc[0] and st['why_not'].iloc[0]
    assert not st.loc['UNet segmenter (variant 3)', 'loaded'] and 'checkpoint' in st.loc['UNet segmenter (variant 3)', 'why_not']
    assert st.loc['VGG-19 (the content/style losses)', 'weights'] == 'random init'
    assert st.loc['Gatys feature network (variant 4)', 'weights'].startswith('EfficientNet-Lite0: ImageNet')   # offline default
    assert st['why_not'].iloc[0] == ENABLE['magenta']


def test_study_photos_on_real_data():
    root = shared_path('data', 'clothseg')
    sp = study_photos(root)
    assert list(sp['garment']) == ['t-shirt', 'pants'] and (sp['share'] > 0.05).all()
