"""Distributed training and embedding: 2 CPU processes (gloo) launched by torchrun on the sample data.

One torchrun launch (module fixture) runs `WORKER` on 2 ranks: one `_fit` step on a fixed global batch, a short
`train_classifier` run whose checkpoint rank 0 saves, a sharded `build_embeddings` and one `train_unet` epoch. The tests compare its outputs
with one process. A second test runs `bench classify` through `python -m fashion_research` under torchrun."""
import json, os, subprocess, sys, textwrap
from pathlib import Path
import numpy as np
import pytest
import torch
from fashion_research.core import DistInfo, dist_info, shard_bounds
from fashion_research.classifiers import _fit, build_classifier, load_classifier, train_classifier
from fashion_research.data import load_catalog
from fashion_research.recommender import build_embeddings, load_embeddings, make_embedder

ROOT = Path(__file__).resolve().parents[1]

WORKER = textwrap.dedent('''
    import sys, json, torch
    from pathlib import Path
    torch.set_num_threads(1)
    from fashion_research.core import init_distributed, dist_info, finish_distributed
    from fashion_research.classifiers import _fit, build_classifier, train_classifier, save_classifier
    from fashion_research.data import load_catalog
    from fashion_research.recommender import build_embeddings, make_embedder
    from fashion_research.segmentation import train_unet
    from fashion_research.data import read_seg_dataset
    data, out = Path(sys.argv[1]), Path(sys.argv[2])
    info = init_distributed(); r = info.rank
    json.dump({'rank': r, 'world_size': info.world_size}, open(out/f'info_{r}.json', 'w'))
    # 1. one optimiser step on one global batch of 8 (4 rows per rank)
    X = torch.randint(0, 256, (8, 3, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    y = torch.arange(8) % 3
    torch.manual_seed(0); m = build_classifier('simple_cnn', 3, image_size=16)
    _fit(m, X, y, None, None, lambda xb, train, g: xb.float()/255, 1, batch_size=8, lr=1e-2, progress=False)
    torch.save(m.state_dict(), out/f'fit_{r}.pt')
    # 2. a short training run; rank 0 writes the checkpoint
    items = load_catalog(data, progress=False).items
    tc = train_classifier(items, arch='simple_cnn', image_size=16, epochs=1, batch_size=16, workers=0, progress=False)
    if r == 0: save_classifier(tc, out/'ddp.pt')
    json.dump(tc.info['history'], open(out/f'history_{r}.json', 'w'))
    # 3. sharded embeddings of 10 products
    emb = make_embedder('resnet50', size=32, seed=0)
    e = build_embeddings(items.head(10), emb, out/'emb.npz', batch_size=4, progress=False)
    torch.save(torch.from_numpy(e.vectors), out/f'emb_{r}.pt')
    # 4. the UNet: one epoch at 32 x 48 px; rank 0 writes the checkpoint
    pairs, labels = read_seg_dataset(data/'segmentation')
    unet, hist = train_unet(pairs[:24], labels, pairs[24:30], size=(32, 48), epochs=1, batch_size=8, augment='',
                            progress=False, checkpoint=out/'unet.pt')
    torch.save(unet.state_dict(), out/f'unet_{r}.pt'); json.dump(hist, open(out/f'unet_{r}.json', 'w'))
    finish_distributed()
''')


def _torchrun(args, cwd, timeout=300):
    "Run `torchrun --standalone --nproc_per_node=2 ARGS` with one thread per process; returns the completed process."
    env = os.environ | {'OMP_NUM_THREADS': '1', 'PYTHONPATH': os.pathsep.join([str(ROOT), os.environ.get('PYTHONPATH', '')])}
    for k in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT'): env.pop(k, None)
    p = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2', *map(str, args)],
                       cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return p


@pytest.fixture(scope='module')
def ddp_run(sample_data, tmp_path_factory):
    "The outputs of `WORKER` on 2 ranks."
    out = tmp_path_factory.mktemp('ddp')
    (out/'worker.py').write_text(WORKER)
    _torchrun([out/'worker.py', sample_data, out], out)
    return out


def test_two_ranks_joined_one_group(ddp_run):
    infos = sorted((json.loads((ddp_run/f'info_{r}.json').read_text()) for r in (0, 1)), key=lambda d: d['rank'])
    assert infos == [{'rank': 0, 'world_size': 2}, {'rank': 1, 'world_size': 2}]


def test_one_step_equals_one_process_on_the_global_batch(ddp_run):
    s0, s1 = (torch.load(ddp_run/f'fit_{r}.pt', weights_only=True) for r in (0, 1))
    for k in s0: assert torch.equal(s0[k], s1[k]), k                  # identical on both ranks
    X = torch.randint(0, 256, (8, 3, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    torch.manual_seed(0); m = build_classifier('simple_cnn', 3, image_size=16)
    init = {k: v.clone() for k, v in m.state_dict().items()}
    assert dist_info() == DistInfo()
    _fit(m, X, torch.arange(8) % 3, None, None, lambda xb, train, g: xb.float()/255, 1, batch_size=8, lr=1e-2, progress=False)
    # = one process on the same 8 rows. Tolerance 1% of a step: Adam's first step is lr*g/(|g| + eps), so float noise in
    # the (differently summed) near-zero gradients moves a few weights by a small fraction of lr
    for k, v in m.state_dict().items(): torch.testing.assert_close(s0[k], v, rtol=1e-4, atol=1e-2*1e-2)
    assert any(not torch.equal(init[k], s0[k]) for k in init)        # and the step did change the weights


def test_histories_agree_and_count_every_image(ddp_run, sample_data):
    h0, h1 = (json.loads((ddp_run/f'history_{r}.json').read_text()) for r in (0, 1))
    assert [h['train_loss'] for h in h0] == [h['train_loss'] for h in h1]   # metrics reduced over ranks
    assert [h['val_loss'] for h in h0] == [h['val_loss'] for h in h1]
    tc = load_classifier(ddp_run/'ddp.pt', 'cpu')
    assert tc.info['world_size'] == 2 and tc.info['global_batch_size'] == 16
    # the sampler pads the rows to a multiple of 2 ranks; a last batch of 1 row per rank is skipped (BatchNorm needs 2)
    n = tc.info['n_train']
    assert n - 2 <= h0[0]['images'] <= n + 1


def test_distributed_checkpoint_loads_and_predicts_in_one_process(ddp_run, sample_data):
    tc = load_classifier(ddp_run/'ddp.pt', 'cpu')
    fresh = build_classifier('simple_cnn', len(tc.classes), image_size=16)
    assert set(tc.model.state_dict()) == set(fresh.state_dict())      # the one-process checkpoint format
    paths = load_catalog(sample_data, progress=False).items['image_path'].head(4).tolist()
    preds = tc.predict(paths)
    assert len(preds) == 4 and all(lab in tc.classes and abs(sum(p.values()) - 1) < 1e-4 for lab, p in preds)


def test_sharded_embeddings_equal_one_process(ddp_run, sample_data):
    e0, e1 = (torch.load(ddp_run/f'emb_{r}.pt', weights_only=True).numpy() for r in (0, 1))
    np.testing.assert_array_equal(e0, e1)                             # every rank gathered the same index
    items = load_catalog(sample_data, progress=False).items.head(10)
    one = build_embeddings(items, make_embedder('resnet50', size=32, seed=0), batch_size=4, progress=False)
    np.testing.assert_allclose(e0, one.vectors, rtol=1e-4, atol=1e-5)
    saved = load_embeddings(ddp_run/'emb.npz')                         # rank 0 wrote one file, in catalog order
    np.testing.assert_array_equal(saved.ids, items['id'].to_numpy()); assert saved.build['world_size'] == 2
    assert not (ddp_run/'emb.npz.parts').exists()


def test_bench_classify_under_torchrun(sample_data, tmp_path):
    p = _torchrun(['-m', 'fashion_research', 'bench', 'classify', '--data', sample_data, '--arch', 'simple_cnn',
                   '--image-size', '16', '--epochs', '1', '--batch-size', '16', '--workers', '0', '--no-speed',
                   '--save', tmp_path/'m.pt', '--json', tmp_path/'r.json'], tmp_path)
    res = json.loads((tmp_path/'r.json').read_text())
    assert res['world_size'] == 2 and res['global_batch_size'] == 16 and res['train_img_s'] > 0
    assert p.stdout.count('== bench classify') == 1                    # rank 0 alone prints
    assert 'global batch 16 = 2 x 8 per rank' in p.stdout
    assert load_classifier(tmp_path/'m.pt', 'cpu').info['world_size'] == 2


def test_unet_ranks_agree_and_rank0_writes_the_checkpoint(ddp_run):
    from fashion_research.segmentation import load_unet
    s0, s1 = (torch.load(ddp_run/f'unet_{r}.pt', weights_only=True) for r in (0, 1))
    for k in s0: assert torch.equal(s0[k], s1[k]), k      # parameters identical; BatchNorm statistics averaged after the epoch
    h0, h1 = (json.loads((ddp_run/f'unet_{r}.json').read_text()) for r in (0, 1))
    assert [e['loss'] for e in h0['epochs']] == [e['loss'] for e in h1['epochs']]          # reduced over ranks
    assert h0['epochs'][0]['val_iou'] == h1['epochs'][0]['val_iou']
    assert h0['world_size'] == 2 and h0['global_batch_size'] == 8 and h0['epochs'][0]['batches'] == 3   # 12 rows a rank, 4 a batch
    m = load_unet(ddp_run/'unet.pt', 'cpu')
    for k, v in m.state_dict().items(): torch.testing.assert_close(v, s0[k])
