"""The service's OpenAPI schema as a contract a generated client can trust: schemathesis, a property-based client built
from `/openapi.json`, sends a bounded, seeded run of requests (examples, coverage and fuzzing phases) to the sample
service started by the project's own `fashion-research serve` on a free loopback port, with every optional model loaded
(an untrained UNet and a toy TFLite DeepLab stand in), and must find no server error, no status code the schema does
not declare and no response outside its declared schema."""
import importlib.util, re, subprocess, sys
from pathlib import Path
import pytest

pytest.importorskip('schemathesis'); pytest.importorskip('fastapi')
from fashion_research import service as sv
from fashion_research import serve_bench as sb

ST = Path(sys.executable).parent/'st'
CHECKS = 'not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance'
ST_ARGS = ['--max-examples', '30', '--phases', 'examples,coverage,fuzzing', '--seed', '0', '--checks', CHECKS,
           '--workers', '1', '--request-timeout', '120', '--generation-database', 'none', '--no-color']


@pytest.fixture(scope='module')
def server(sample_data, tmp_path_factory):
    from fashion_research.unet import UNet, save_unet       # torch and torchvision first: tensorflow before them segfaults
    if importlib.util.find_spec('tensorflow') is None: pytest.skip('tensorflow (dev extra) writes the toy DeepLab file')
    from fashion_research.deeplab_onnx import write_toy_deeplab_tflite
    d = tmp_path_factory.mktemp('contract')
    models = sv.sample_models(d/'models', sample_data, image_size=16, epochs=1)
    unet = save_unet(UNet(size=(32, 48)), d/'unet.pt')                     # the contract, not the quality, is tested
    deeplab = write_toy_deeplab_tflite(d/'deeplab.tflite')
    log = d/'serve.log'
    proc, url = sb.start_server(['--models', models, '--data', sample_data, '--unet', unet, '--deeplab', deeplab], log=log, timeout=180)
    yield url, log
    sb.stop_server(proc)


def test_generated_client_finds_no_server_error_undocumented_status_or_schema_violation(server, tmp_path):
    url, log = server
    import httpx
    h = httpx.get(url + '/health', timeout=30).json()
    assert {'stylizer', 'segmenter:unet', 'segmenter:deeplab'} <= set(h['models']), h['unavailable']   # every route can answer 200
    r = subprocess.run([str(ST), 'run', url + '/openapi.json', *ST_ARGS], capture_output=True, text=True, timeout=900, cwd=tmp_path)
    out = r.stdout + r.stderr
    print(out[-3000:])
    summary = re.search(r'(\d+) generated, (\d+) passed', out)
    assert r.returncode == 0 and summary, out[-6000:]
    assert int(summary[1]) >= 200 and summary[1] == summary[2]            # a real run: hundreds of requests, all passing
    assert re.search(r'Tested:\s+13\b', out), out[-2000:]                  # every operation of the schema was exercised
    assert 'Traceback' not in log.read_text(errors='replace'), log.read_text()[-3000:]
