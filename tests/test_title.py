"Issue 22 end to end on the sample data: the type split from the command line, the title model and its fusion, classify --title."
import json
from pathlib import Path
import pandas as pd
import pytest
from fashion_research.data import load_catalog, make_sample_data, split_catalog
from fashion_research.report import main


@pytest.fixture(scope='module')
def other_products(tmp_path_factory) -> Path:
    "A second drawn shop (another seed): products the models never saw, for --test-data."
    return make_sample_data(tmp_path_factory.mktemp('other')/'other', seed=1, seg_n=0)


@pytest.fixture(scope='module')
def trained(sample_data, other_products, tmp_path_factory):
    """`bench classify --title` with an image model that learns little (32 px, one epoch) on drawn photos whose titles
    name the article type: the case where titles carry the answer. Returns (model path, bench JSON)."""
    d = tmp_path_factory.mktemp('title')
    rc = main(['bench', 'classify', '--data', str(sample_data), '--test-data', str(other_products), '--arch', 'simple_cnn',
               '--image-size', '32', '--epochs', '1', '--no-speed', '--workers', '0', '--title',
               '--save', str(d/'m.pt'), '--json', str(d/'b.json')])
    assert rc == 0
    return d/'m.pt', json.loads((d/'b.json').read_text())


def test_bench_classify_title_reports_image_title_and_fused(trained):
    model, res = trained
    for pre in ('', 'in_range_'):
        for k in ('accuracy', 'title_accuracy', 'fused_accuracy', 'macro_f1', 'title_macro_f1', 'fused_macro_f1'):
            assert 0 <= res[pre + k] <= 1, pre + k
        # the title model and the fusion beat the image-only model where titles carry the answer
        assert res[pre + 'title_accuracy'] > res[pre + 'accuracy'] + 0.1, res
        assert res[pre + 'fused_accuracy'] > res[pre + 'accuracy'] + 0.1, res
        assert res[pre + 'fused_macro_f1'] > res[pre + 'macro_f1'], res
    assert res['in_range_n_test'] != res['n_test']                  # the split's test set and --test-data, apart
    w = res['fusion_weights']['fused']
    assert w['title'] > 0 and w['image'] >= 0 and 'validation' in res['fusion_chosen_on']
    # the validation rows score the sources and the fusion too; the choice among with-title recipes is made there
    for k in ('val_accuracy', 'val_title_accuracy', 'val_fused_accuracy'): assert 0 <= res[k] <= 1, k
    assert res['val_fused_accuracy'] > res['val_accuracy'] and res['with_title_choice_on_val'] == 'fused'
    assert 'image_only_choice_on_val' not in res                       # without --prior there is one image-only recipe
    assert Path(res['saved_title']) == model.with_name('m.title.pt') and Path(res['saved_title']).is_file()


def _first(sample_data, category):
    items = load_catalog(sample_data, progress=False).items
    return items[items['masterCategory'] == category].iloc[0]


def test_classify_with_title_follows_the_title(trained, sample_data, tmp_path, capsys):
    model, _ = trained
    for category in ('Accessories', 'Footwear'):
        row = _first(sample_data, category)
        assert main(['classify', row['image_path'], '--model', str(model), '--json', str(tmp_path/'i.json')]) == 0
        assert main(['classify', row['image_path'], '--model', str(model), '--title', row['productDisplayName'],
                     '--json', str(tmp_path/'t.json')]) == 0
        img, fused = (json.loads((tmp_path/f).read_text())[0] for f in ('i.json', 't.json'))
        assert fused['label'] == category and fused['title'] == row['productDisplayName']
        assert fused['probabilities'][category] > img['probabilities'][category]
    # a CSV of paths and titles: the listed image gets its title, the other one none (photo alone)
    a, b = _first(sample_data, 'Accessories'), _first(sample_data, 'Footwear')
    pd.DataFrame({'image': [a['image_path']], 'title': [a['productDisplayName']]}).to_csv(tmp_path/'t.csv', index=False)
    assert main(['classify', a['image_path'], b['image_path'], '--model', str(model), '--titles', str(tmp_path/'t.csv'),
                 '--json', str(tmp_path/'c.json')]) == 0
    c = json.loads((tmp_path/'c.json').read_text())
    assert c[0]['label'] == 'Accessories' and c[0]['title'] == a['productDisplayName'] and c[1]['title'] == ''


def test_classify_title_refuses_a_foreign_or_missing_title_model(trained, sample_data, tmp_path, capsys):
    model, _ = trained
    row = _first(sample_data, 'Accessories')
    other = tmp_path/'other.pt'; other.write_bytes(model.read_bytes() + b'\0')   # another file: not the title model's classifier
    (tmp_path/'other.title.pt').write_bytes(model.with_name('m.title.pt').read_bytes())
    capsys.readouterr()
    assert main(['classify', row['image_path'], '--model', str(other), '--title', 'x']) == 2
    assert 'title model of another classifier' in capsys.readouterr().err
    lone = tmp_path/'lone.pt'; lone.write_bytes(model.read_bytes())
    assert main(['classify', row['image_path'], '--model', str(lone), '--title', 'x']) == 2
    err = capsys.readouterr().err
    assert err.startswith('fashion-research: error: no title model for') and 'Traceback' not in err
    assert main(['classify', row['image_path'], row['image_path'], '--model', str(model), '--title', 'x']) == 2
    assert '--titles CSV' in capsys.readouterr().err
    assert main(['classify', row['image_path'], '--model', str(model), '--prior']) == 2   # saved without --prior: no weights
    err = capsys.readouterr().err
    assert 'has no image_prior fusion weights' in err and '--prior --save' in err and 'Traceback' not in err


def test_bench_split_type_holds_out_whole_types(sample_data, tmp_path):
    assert main(['bench', 'classify', '--data', str(sample_data), '--arch', 'simple_cnn', '--image-size', '32', '--epochs', '1',
                 '--no-speed', '--workers', '0', '--split', 'type', '--json', str(tmp_path/'c.json')]) == 0
    res = json.loads((tmp_path/'c.json').read_text())
    items = load_catalog(sample_data, progress=False).items
    rows = items[items['masterCategory'].isin(res['classes'])]
    held = rows[split_catalog(rows, by='type').to_numpy() == 'test']
    assert res['split'] == 'type' and res['n_test'] == len(held) > 0
    # retrieval: products of the held-out types query the whole catalog (each query's own photo excluded)
    assert main(['bench', 'recommend', '--data', str(sample_data), '--split', 'type', '--size', '32', '--synthetic-n', '0',
                 '--json', str(tmp_path/'r.json')]) == 0
    r = json.loads((tmp_path/'r.json').read_text())
    assert r['split'] == 'type' and r['index_items'] == len(items)
    assert r['n_queries'] == (split_catalog(items, by='type') == 'test').sum() > 0
    assert 0 < r['precision_at_k'] <= 1


def test_bench_classify_prior_is_chosen_on_validation(sample_data, tmp_path):
    "--prior on unseen types: image-only and image+prior both scored on the validation types; the better one is named."
    assert main(['bench', 'classify', '--data', str(sample_data), '--arch', 'simple_cnn', '--image-size', '32', '--epochs', '1',
                 '--no-speed', '--workers', '0', '--split', 'type', '--prior', '--prior-size', '96', '--no-export',
                 '--save', str(tmp_path/'p.pt'), '--json', str(tmp_path/'p.json')]) == 0
    res = json.loads((tmp_path/'p.json').read_text())
    for k in ('val_accuracy', 'val_prior_accuracy', 'val_image_prior_accuracy', 'image_prior_accuracy'): assert 0 <= res[k] <= 1, k
    best = 'image_prior' if res['val_image_prior_accuracy'] > res['val_accuracy'] else 'image'
    assert res['image_only_choice_on_val'] == best and 'with_title_choice_on_val' not in res
    # `classify --prior` fuses the photo with the prior by the saved weights: the test split's figure, product by product
    items = load_catalog(sample_data, progress=False).items
    rows = items[items['masterCategory'].isin(res['classes'])]
    held = rows[split_catalog(rows, by='type').to_numpy() == 'test']
    assert main(['classify', *held['image_path'], '--model', str(tmp_path/'p.pt'), '--prior', '--json', str(tmp_path/'c.json')]) == 0
    out = json.loads((tmp_path/'c.json').read_text())
    assert {o['fusion'] for o in out} == {'image_prior'}
    hits = sum(o['label'] == c for o, c in zip(out, held['masterCategory']))
    assert abs(hits/len(held) - res['image_prior_accuracy']) < 1e-9, (hits, len(held), res['image_prior_accuracy'])


def test_imagenet_prior_on_real_photos_opt_in():
    "On real photos of types ImageNet knows, the prior alone names the masterCategory (skips where ../shared is absent)."
    from conftest import shared_path
    from fashion_research.imagenet_prior import ImageNetPrior
    items = load_catalog(shared_path('data', 'fashion'), progress=False).items
    pick = items[items['articleType'].isin(['Sandals', 'Sunglasses', 'Backpacks', 'Tshirts', 'Jeans', 'Watches'])]
    pick = pick.groupby('articleType').head(10)
    classes = ['Apparel', 'Footwear', 'Accessories']
    P = ImageNetPrior(classes, size=224)(pick)
    assert (P.argmax(1) == pick['masterCategory'].map(classes.index).to_numpy()).mean() >= 0.9   # measured: 60 of 60
