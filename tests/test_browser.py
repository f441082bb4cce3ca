"""Opt-in browser test of the service's page: headless Chromium driven by Selenium uploads a photo, waits for the
categories and the similar-products grid, recolours the garment, and fails on any JavaScript console error.
Runs where Debian's `chromium` and `chromium-driver` are installed (`apt-get install chromium chromium-driver`); skipped elsewhere."""
import os, shutil
from pathlib import Path
import pytest

CHROMIUM = os.environ.get('CHROMIUM', '/usr/bin/chromium')
CHROMEDRIVER = os.environ.get('CHROMEDRIVER', '/usr/bin/chromedriver')
if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
    pytest.skip(f'{CHROMIUM} and {CHROMEDRIVER} are needed (apt-get install chromium chromium-driver)', allow_module_level=True)
webdriver = pytest.importorskip('selenium.webdriver')
pytest.importorskip('fastapi')
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from fashion_research import service as sv
from fashion_research import serve_bench as sb

FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
         '--disable-sync', '--no-first-run', '--disable-dev-shm-usage', '--window-size=1200,1600']


@pytest.fixture(scope='module')
def server(sample_data, tmp_path_factory):
    models = sv.sample_models(tmp_path_factory.mktemp('models'), sample_data, image_size=16, epochs=1)
    log = tmp_path_factory.mktemp('log')/'serve.log'
    proc, url = sb.start_server(['--models', models, '--data', sample_data, '--deeplab', 'off'], log=log, timeout=180)
    yield url
    sb.stop_server(proc)


@pytest.fixture()
def browser(tmp_path):
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    opts = Options(); opts.binary_location = CHROMIUM
    for f in FLAGS + [f'--user-data-dir={tmp_path/"profile"}']: opts.add_argument(f)
    opts.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
    d = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    d.set_page_load_timeout(60)
    yield d
    d.quit()


def test_page_upload_shows_categories_grid_and_outfit_without_console_errors(server, browser, sample_data, tmp_path):
    photo = sorted((Path(sample_data)/'images').glob('*.jpg'))[3]
    browser.get(server + '/')
    wait = WebDriverWait(browser, 90)
    wait.until(lambda d: 'models:' in d.find_element(By.ID, 'status').text)
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, '#picker img')) > 0)
    browser.find_element(By.ID, 'file').send_keys(str(photo))
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '#categories table'))
    cats = browser.find_element(By.ID, 'categories').text
    assert 'masterCategory' in cats and '%' in cats
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, '#similar .card')) >= 5)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '#outfit .card'))
    # every grid image loaded (naturalWidth > 0)
    wait.until(lambda d: d.execute_script("return [...document.querySelectorAll('#similar img')].every(i => i.complete && i.naturalWidth > 0)"))
    browser.find_element(By.ID, 'recolor').click()
    wait.until(lambda d: (d.find_element(By.ID, 'result').get_attribute('src') or '').startswith('blob:'))
    first = browser.find_element(By.ID, 'result').get_attribute('src')
    if 'stylizer' in browser.find_element(By.ID, 'status').text:                       # the default Magenta model is loaded
        browser.find_element(By.ID, 'stylize').click()
        wait.until(lambda d: d.find_element(By.ID, 'result').get_attribute('src') != first)
    browser.find_elements(By.CSS_SELECTOR, '#similar .card button')[0].click()       # + history -> suggestions
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, '#suggestions .card')) >= 5)
    browser.save_screenshot(str(tmp_path/'page.png'))
    if os.environ.get('FASHION_SCREENSHOT'): browser.save_screenshot(os.environ['FASHION_SCREENSHOT'])
    errors = [e for e in browser.get_log('browser') if e['level'] == 'SEVERE']
    assert not errors, errors
    assert 'error' not in (browser.find_element(By.ID, 'result-note').get_attribute('class') or '')
