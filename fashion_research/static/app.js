// fashion-research: the service's page script, served by the app at /app.js. It talks only to this app's API.
'use strict';
const $ = (id) => document.getElementById(id);
let current = null;            // {blob, id}: the photo being looked at
const history = [];

async function api(path, opts) {
  const r = await fetch(path, opts);
  const type = r.headers.get('content-type') || '';
  if (!r.ok) {
    let msg = 'HTTP ' + r.status;
    if (type.includes('json')) { const b = await r.json(); if (b.error) msg += ': ' + b.error; }
    throw new Error(msg);
  }
  return type.includes('json') ? r.json() : r.blob();
}
function text(el, s, cls) { el.textContent = s; el.className = cls || 'muted'; }
function form(extra) {
  const f = new FormData();
  f.append('file', current.blob, 'photo.jpg');
  for (const [k, v] of Object.entries(extra || {})) f.append(k, v);
  return f;
}
function card(p, label) {
  const d = document.createElement('div'); d.className = 'card'; d.dataset.id = p.id;
  const img = document.createElement('img'); img.src = p.image_url; img.alt = p.productDisplayName || String(p.id);
  img.title = 'look at this product'; img.addEventListener('click', () => pick(p.id));
  const cap = document.createElement('div');
  cap.textContent = (label ? label + ': ' : '') + [p.articleType, p.baseColour].filter(Boolean).join(', ') +
                    (p.score !== undefined && p.score !== null ? ' (' + Number(p.score).toFixed(3) + ')' : '');
  const b = document.createElement('button'); b.textContent = '+ history'; b.addEventListener('click', () => addHistory(p));
  d.append(img, cap, b); return d;
}
function grid(el, items, label) { el.replaceChildren(...items.map((p) => card(p, label ? label(p) : ''))); }

function showCategories(pred) {
  const box = $('categories'); box.className = ''; box.replaceChildren();
  for (const [target, r] of Object.entries(pred)) {
    const t = document.createElement('table'); t.className = 'cat';
    const cap = t.createCaption(); cap.textContent = target + ': ' + r.label;
    for (const c of r.top) {
      const row = t.insertRow(); row.insertCell().textContent = c.class;
      const bar = document.createElement('div'); bar.className = 'bar'; bar.style.width = Math.round(120 * c.p) + 'px';
      row.insertCell().append(bar); row.insertCell().textContent = (100 * c.p).toFixed(1) + '%';
    }
    box.append(t);
  }
}

async function showOutfit(id, note) {
  try {
    const o = await api('/products/' + id + '/outfit');
    text($('outfit-note'), (note || 'Pieces that go with this product') + (o.note ? ' - ' + o.note : ''));
    grid($('outfit'), [o.product].concat(o.pieces), (p) => p.slot || 'piece');
  } catch (e) { text($('outfit-note'), e.message, 'error'); }
}

async function analyse(blob, id) {
  current = {blob: blob, id: id};
  $('photo').src = URL.createObjectURL(blob);
  text($('categories'), 'classifying...');
  try { showCategories((await api('/classify', {method: 'POST', body: form()})).predictions); }
  catch (e) { text($('categories'), e.message, 'error'); }
  try {
    const s = id ? await api('/products/' + id + '/similar?k=12') : await api('/search?k=12', {method: 'POST', body: form()});
    grid($('similar'), s.results);
    if (id) await showOutfit(id);
    else if (s.results.length) await showOutfit(s.results[0].id, 'An outfit for the closest catalog product');
  } catch (e) { $('similar').replaceChildren(); text($('outfit-note'), e.message, 'error'); }
}

async function pick(id) {
  try { await analyse(await api('/images/' + id), id); } catch (e) { text($('status'), e.message, 'error'); }
}

async function transform(path, extra) {
  if (!current) { text($('result-note'), 'choose a photo first', 'error'); return; }
  text($('result-note'), 'working...');
  try {
    const img = await api(path, {method: 'POST', body: form(extra)});
    $('result').src = URL.createObjectURL(img); text($('result-note'), '');
  } catch (e) { text($('result-note'), e.message, 'error'); }
}

async function addHistory(p) {
  if (history.includes(p.id)) return;
  history.push(p.id);
  const h = $('history'); h.append(card(p, 'bought'));
  try {
    const r = await api('/recommend', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                       body: JSON.stringify({history: history, k: 12})});
    grid($('suggestions'), r.results);
  } catch (e) { text($('suggestions'), e.message, 'error'); }
}

async function start() {
  try {
    const h = await api('/health');
    const names = Object.entries(h.models).map(([k, m]) => k + ' (' + m.weights + ')');
    text($('status'), 'models: ' + names.join('; ') +
         (Object.keys(h.unavailable).length ? ' | unavailable: ' + Object.keys(h.unavailable).join(', ') : ''));
    $('style').replaceChildren(...h.styles.map((s) => new Option(s, s)));
    const ps = await api('/products?limit=10');
    $('picker').replaceChildren(...ps.products.map((p) => {
      const i = document.createElement('img'); i.src = p.image_url; i.alt = p.articleType || String(p.id);
      i.title = [p.articleType, p.baseColour].filter(Boolean).join(', ');
      i.addEventListener('click', () => pick(p.id)); return i;
    }));
  } catch (e) { text($('status'), e.message, 'error'); }
}

$('file').addEventListener('change', (ev) => { const f = ev.target.files[0]; if (f) analyse(f, null); });
$('stylize').addEventListener('click', () => {
  const extra = {mask: $('mask').value, strength: $('strength').value};
  const sf = $('style-file').files[0];
  if (sf) extra.style_file = sf; else extra.style = $('style').value;
  transform('/stylize', extra);
});
$('recolor').addEventListener('click', () => transform('/recolor', {mask: $('mask').value, colour: $('colour').value}));
start();
