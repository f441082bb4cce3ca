"Recommender: exact top-k, exclusion of the query and its byte-identical duplicates, index save/load, visual search, metrics, CLI."
import argparse, contextlib, io, json
from pathlib import Path
import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip('torch')
from fashion_research.data import load_catalog, image_groups, draw_product
from fashion_research.recommender import (Embedder, Embeddings, SimilarityIndex, build_embeddings, complete_outfit,
                                          cosine_topk, l2_normalize, load_embeddings, make_embedder, register_cli,
                                          retrieval_metrics, save_embeddings, outfit_slot, _gender_ok, _usage_ok, _season_ok)


def _stats(x):
    "A cheap deterministic 'embedding': per-channel mean, std and max of the normalised image."
    return torch.cat([x.mean((2, 3)), x.std((2, 3)), x.amax((2, 3))], 1)


STATS = Embedder('stats', _stats, 32, 'none (colour statistics)', {'backbone': 'custom'})


@pytest.fixture(scope='module')
def catalog(sample_data):
    return load_catalog(sample_data, progress=False)


@pytest.fixture(scope='module')
def dup_ids(catalog):
    g = image_groups(catalog.items['image_path'])
    return catalog.items['id'][g.duplicated(keep=False).values].tolist()


@pytest.fixture(scope='module')
def stats_index(catalog, dup_ids):
    items = pd.concat([catalog.items[catalog.items['id'].isin(dup_ids)], catalog.items.head(150)]).drop_duplicates('id')
    return SimilarityIndex.build(items, STATS, progress=False)


def test_topk_equals_brute_force():
    rng = np.random.default_rng(1)
    V = l2_normalize(rng.standard_normal((2000, 128)))
    for _ in range(20):
        q = rng.standard_normal(128); k = int(rng.integers(1, 50))
        ex = rng.choice(2000, int(rng.integers(0, 30)), replace=False)
        s = V @ l2_normalize(q)
        s_ex = s.copy(); s_ex[ex] = -np.inf
        ref = np.argsort(-s_ex, kind='stable')[:k]
        idx, sc = cosine_topk(V, q, k, ex)
        np.testing.assert_array_equal(idx, ref)
        np.testing.assert_allclose(sc, s[ref], rtol=1e-5, atol=1e-6)
        assert not set(idx) & set(ex.tolist())
    assert len(cosine_topk(V[:5], V[0], 10)[0]) == 5                      # k larger than the index


def test_int8_search_is_exact():
    from fashion_research.recommender import Int8Index
    rng = np.random.default_rng(2)
    # isotropic rows (scores packed closely), non-negative rows (ReLU features) and rows with near-ties
    base = l2_normalize(rng.standard_normal((4000, 128)))
    ties = l2_normalize(np.repeat(base[:400], 5, axis=0) + 1e-4*rng.standard_normal((2000, 128)))
    for V in [base, l2_normalize(np.maximum(rng.standard_normal((4000, 128)), 0)), ties]:
        ix = Int8Index.build(V)
        for _ in range(15):
            q = rng.standard_normal(128) + 2*V[rng.integers(len(V))]; k = int(rng.integers(1, 60))
            ex = rng.choice(len(V), int(rng.integers(0, 30)), replace=False)
            s, bound = ix.approx_scores(l2_normalize(q))
            assert (np.abs(s - V @ l2_normalize(q)) <= bound).all()      # the error bound holds for every row
            ref_i, ref_s = cosine_topk(V, q, k, ex)
            idx, sc = ix.topk(q, k, ex)
            np.testing.assert_allclose(sc, ref_s, atol=1e-6)              # the same k scores, best first
            if len(np.unique(np.round(ref_s, 5))) == k: np.testing.assert_array_equal(idx, ref_i)
            assert not set(idx.tolist()) & set(ex.tolist()) and ix.rescored < len(V)


def test_int8_kernel_available_on_x86():
    import platform
    from fashion_research.recommender import int8_search_available
    if platform.machine().lower() in ('x86_64', 'amd64'): assert int8_search_available()


def test_similarity_index_uses_int8_on_large_indexes(stats_index, dup_ids):
    big = SimilarityIndex(stats_index.emb, stats_index.meta, stats_index.groups)
    assert 'float32' in stats_index.search_method and stats_index.int8_index() is None     # small: plain float32
    big.int8_min_rows = 10
    assert big.search_method.startswith('int8') and big.int8_index() is not None
    for i in dup_ids:
        a, b = big.similar(i, k=12), stats_index.similar(i, k=12)
        np.testing.assert_allclose(a['score'], b['score'], atol=1e-4)
        assert i not in set(a['id']) and not set(big.duplicates(i)) & set(a['id'])


def test_sample_has_three_duplicate_pairs(dup_ids):
    assert len(dup_ids) == 6


def test_query_and_duplicates_excluded(stats_index, dup_ids):
    for i in dup_ids:
        dups = stats_index.duplicates(i)
        assert len(dups) >= 1
        res = stats_index.similar(i, k=30)
        assert len(res) == 30 and i not in set(res['id']) and not set(dups) & set(res['id'])
        assert (np.diff(res['score'].to_numpy()) <= 1e-6).all()
    # without exclusion the duplicate would be the top hit (identical photo -> identical vector)
    a = dup_ids[0]; b = stats_index.duplicates(a)[0]
    top = stats_index.search(stats_index.vectors[stats_index.position(a)], 3)[0]
    assert {int(stats_index.ids[j]) for j in top[:2]} == {a, b}


def test_save_load_roundtrip(stats_index, dup_ids, tmp_path):
    p = stats_index.save(tmp_path/'ix.npz')
    z = np.load(p)
    assert z['ids'].dtype == np.int64 and z['vectors'].dtype == np.float32 and str(z['model']) == 'stats'
    np.testing.assert_allclose(np.linalg.norm(z['vectors'], axis=1), 1, atol=1e-5)
    ix = SimilarityIndex.load(p, embedder=STATS)
    np.testing.assert_array_equal(ix.ids, stats_index.ids)
    np.testing.assert_array_equal(ix.vectors, stats_index.vectors)
    np.testing.assert_array_equal(ix.groups, stats_index.groups)
    assert ix.weights == stats_index.weights
    pd.testing.assert_frame_equal(ix.similar(dup_ids[2], 10), stats_index.similar(dup_ids[2], 10))
    pd.testing.assert_frame_equal(ix.meta, stats_index.meta, check_dtype=False)
    e = load_embeddings(p)                                              # the bare contract reader works on an index file
    assert len(e) == len(stats_index) and e.model == 'stats'


def test_embeddings_resume(catalog, tmp_path):
    items = catalog.items.head(40); calls = []
    def flaky(x):
        calls.append(len(x))
        if len(calls) == 2 and fail: raise RuntimeError('interrupted')
        return _stats(x)
    emb = Embedder('stats', flaky, 32, 'none', {'backbone': 'stats-test'})
    fail = True
    with pytest.raises(RuntimeError): build_embeddings(items, emb, tmp_path/'e.npz', chunk=10, batch_size=10, progress=False)
    fail = False; calls.clear()
    e = build_embeddings(items, emb, tmp_path/'e.npz', chunk=10, batch_size=10, progress=False)
    assert sum(calls) == 30 and len(e) == 40 and e.build['items_computed'] == 30
    calls.clear(); e2 = build_embeddings(items, emb, tmp_path/'e.npz', chunk=10, progress=False)
    assert calls == [] and e2.cached
    np.testing.assert_allclose(e2.vectors, build_embeddings(items, emb, None, chunk=7, progress=False).vectors, atol=1e-6)


@pytest.fixture(scope='module')
def resnet_index(catalog, dup_ids):
    items = pd.concat([catalog.items[catalog.items['id'].isin(dup_ids)], catalog.items.head(40)]).drop_duplicates('id')
    torch.set_num_threads(1)
    return SimilarityIndex.build(items, make_embedder('resnet50', size=32), batch_size=64, progress=False)


def test_visual_search_returns_catalog_photo_and_duplicates_first(resnet_index, dup_ids, tmp_path):
    assert resnet_index.vectors.shape[1] == 2048 and 'random init' in resnet_index.weights
    for a in dup_ids[::2]:
        path = resnet_index.meta.loc[resnet_index.position(a), 'image_path']
        grp = {a, *resnet_index.duplicates(a)}
        res = resnet_index.similar(path, k=5)                           # a file, not an id: nothing excluded
        assert set(res['id'][:len(grp)]) == grp, res
        assert res['score'].iloc[len(grp) - 1] > 0.999
    # after save/load the model is rebuilt from the stored spec (seeded random init) and gives the same answer
    ix = SimilarityIndex.load(resnet_index.save(tmp_path/'r.npz'))
    a = dup_ids[0]; path = ix.meta.loc[ix.position(a), 'image_path']
    assert set(ix.similar(path, 2)['id']) == {a, *ix.duplicates(a)}
    # a photo that is not in the catalog (also as a PIL image)
    rng = np.random.default_rng(5)
    im = draw_product('Tshirts', 'Red', rng); im.save(tmp_path/'new.jpg')
    res = ix.similar(str(tmp_path/'new.jpg'), k=4)
    assert len(res) == 4 and (res['score'] <= 1.0001).all()
    pd.testing.assert_frame_equal(ix.similar(im.convert('RGB'), k=4)[['id']], ix.similar(im, k=4)[['id']])


def test_retrieval_metrics_hand_case():
    m = pd.DataFrame({'id': [1, 2, 3, 4], 'articleType': ['A', 'A', 'B', 'B'], 'baseColour': ['Red', 'Blue', 'Red', 'Red']})
    ix = SimilarityIndex(Embeddings(np.array([1, 2, 3, 4]), l2_normalize([[1, 0], [1, .2], [0, 1], [.1, 1]]), 'toy'), m)
    q = pd.DataFrame({'id': [99, 98], 'articleType': ['A', 'B'], 'baseColour': ['Red', 'Blue']})
    s, per = retrieval_metrics(ix, l2_normalize([[1, .1], [1, .1]]), q, k=2)
    assert per['precision'].tolist() == [1.0, 0.0] and per['hit'].tolist() == [True, False]
    assert s['precision_at_k'] == pytest.approx(0.5) and s['random_precision_at_k'] == pytest.approx(0.5)
    assert s['type_colour_precision_at_k'] == pytest.approx(0.25)
    assert s['random_hit_rate_at_k'] == pytest.approx(1 - 2/4*1/3)


def test_outfit_completion_is_consistent(stats_index):
    m = stats_index.meta
    for sub in ['Topwear', 'Bottomwear', 'Dress']:
        q = int(m.loc[m['subCategory'] == sub, 'id'].iloc[0]); qm = m.iloc[stats_index.position(q)]
        o = complete_outfit(stats_index, q, per_slot=3)
        assert len(o) and q not in set(o['id'])
        assert 'top' not in set(o['slot']) or sub != 'Topwear'
        for _, r in o.iterrows():
            assert outfit_slot(m.iloc[stats_index.position(r['id'])]['masterCategory'], m.iloc[stats_index.position(r['id'])]['subCategory']) == r['slot']
            assert _gender_ok(qm['gender'], r['gender'])
            if not r['relaxed']: assert _usage_ok(qm['usage'], r['usage']) and _season_ok(qm['season'], r['season'])
            assert 0 <= r['score'] <= 1


def _cli():
    ap = argparse.ArgumentParser(); sp = ap.add_subparsers(); bp = sp.add_parser('bench').add_subparsers()
    register_cli(sp, bp)
    def run(*argv):
        a = ap.parse_args([str(v) for v in argv]); buf = io.StringIO()
        with contextlib.redirect_stdout(buf): a.func(a)
        return buf.getvalue()
    return run


def test_cli_index_recommend_and_bench(sample_data, catalog, dup_ids, tmp_path):
    run = _cli()
    torch.set_num_threads(1)
    out = run('recommend-index', '--data', sample_data, '--out', tmp_path/'ix.npz', '--size', 32, '--limit', 60)
    assert (tmp_path/'ix.npz').exists() and '60 items' in out
    ix = SimilarityIndex.load(tmp_path/'ix.npz')
    q = int(ix.ids[0])
    out = run('recommend', q, '--index', tmp_path/'ix.npz', '--k', 4)
    lines = [l for l in out.splitlines() if l.strip() and not l.startswith('#')]
    assert len(lines) == 5 and 'score' in lines[0]                      # header + 4 rows
    assert not any(l.split()[1] == str(q) for l in lines[1:])
    out = run('recommend', ix.meta['image_path'][3], '--index', tmp_path/'ix.npz', '--k', 2)
    assert 'visual search' in out and str(int(ix.ids[3])) in out
    with pytest.raises(FileNotFoundError): run('recommend', 'no-such-thing.jpg', '--index', tmp_path/'ix.npz')
    out = run('bench', 'recommend', '--data', sample_data, '--backbone', 'resnet50', '--size', 32, '--limit', 100,
              '--k', 10, '--json', tmp_path/'b.json', '--synthetic-n', 3000, '--threads', 1)
    r = json.loads((tmp_path/'b.json').read_text())
    for key in ['precision_at_k', 'hit_rate_at_k', 'type_colour_precision_at_k', 'random_precision_at_k',
                'query_ms_median', 'query_ms_p95', 'index_items', 'weights', 'index_build_items_per_s',
                'synthetic_query_ms_median', 'synthetic_query_ms_p95', 'synthetic_float32_query_ms_median',
                'synthetic_int8_query_ms_median', 'search']:
        assert r[key] is not None, key
    assert r['synthetic_int8_same_topk'] == 1.0 and r['synthetic_int8_rescored_median'] < 3000
    assert r['index_items'] + r['n_queries'] == 100 and 'random init' in r['weights']
    assert 0 <= r['random_precision_at_k'] < 1 and r['synthetic_index_shape'] == [3000, 2048]
    assert 'precision_at_k' in out


def test_reduced_index_recall_on_low_rank_vectors():
    from fashion_research.recommender import ReducedIndex, recall_at_k
    rng = np.random.default_rng(0)
    V = l2_normalize(rng.standard_normal((3000, 20)) @ rng.standard_normal((20, 256)) + 0.01*rng.standard_normal((3000, 256)))
    r = ReducedIndex.fit(V, 24)
    assert recall_at_k(V, r, V[:30], 10) >= 0.95
    idx, sc = r.topk(V[5], 10, exclude=[5])
    assert 5 not in set(idx) and (np.diff(sc) <= 1e-6).all()
    np.testing.assert_allclose(sc, V[idx] @ V[5], rtol=1e-5)          # scores are exact cosines


def test_bench_with_test_data_folder(sample_data, tmp_path):
    from fashion_research.recommender import bench_recommend
    torch.set_num_threads(1)
    r = bench_recommend(sample_data, sample_data, backbone='resnet50', size=32, k=5, limit=50, synthetic_n=0,
                        cache_dir=tmp_path, progress=False)
    # the same folder as queries: every query is in the index, so it and its duplicates are excluded
    assert r['index_items'] == 50 and r['n_queries'] == 50 and r['precision_at_k'] <= 1


def test_classifier_embedder(catalog, tmp_path):
    cl = pytest.importorskip('fashion_research.classifiers')
    tc = cl.TrainedClassifier(cl.build_classifier('simple_cnn', 3, image_size=32), 'simple_cnn', ['a', 'b', 'c'], 'masterCategory', 32)
    ck = cl.save_classifier(tc, tmp_path/'tiny.pt')
    ix = SimilarityIndex.build(catalog.items.head(30), make_embedder(str(ck)), progress=False)
    assert ix.vectors.shape == (30, 1024) and 'tiny.pt' in ix.weights and ix.model == 'simple_cnn-penultimate'
    ix2 = SimilarityIndex.load(ix.save(tmp_path/'c.npz'))               # rebuilt from the checkpoint path
    path = ix2.meta['image_path'][0]
    assert int(ix2.similar(path, 1)['id'][0]) in {int(ix2.ids[0]), *ix2.duplicates(int(ix2.ids[0]))}


def test_unknown_backbone_and_missing_item(stats_index):
    with pytest.raises(ValueError, match='resnet50'): make_embedder('vgg7')
    with pytest.raises(KeyError, match='not in the index'): stats_index.similar(1)
