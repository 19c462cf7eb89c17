// Supervisor wallboard: one tile per queue, the agents table and the waiting-calls chart, live
// from `subscribe_kpis` and the `kpis` pushes.
import { $, Connection, bindSigninForm, duration, exposeTestHooks, forgetToken, showScreen, takeToken } from '/console/relais.js';

// Colour thresholds: [warn from, bad from] (or, for "higher is better", [warn below, bad below]).
const THRESHOLDS = {
  waiting: [1, 5],
  longest_wait_secs: [20, 60],
  asa_secs: [20, 60],
  abandonment_rate: [0.05, 0.15],
  service_level: [0.8, 0.6], // higher is better
};

const STATE_LABEL = {
  logged_out: 'Déconnecté',
  available: 'Disponible',
  reserved: 'Sonnerie',
  on_call: 'En communication',
  wrap_up: "Fin d'appel",
  not_ready: 'Indisponible',
};

const REASON_LABEL = {
  login: 'connexion',
  disconnected: 'déconnecté',
  missed: 'appels manqués',
  pause: 'pause',
  lunch: 'repas',
  training: 'formation',
  meeting: 'réunion',
  back_office: 'dossiers',
};

const HOUR_MS = 3600 * 1000;
const SAMPLES_KEY = 'relais.supervisor.samples';

const ui = {
  screen: 'loading',
  snapshot: null,
  receivedAt: 0,
  samples: loadSamples(), // [[time ms, waiting]]
};

let connection = null;

function loadSamples() {
  try {
    const samples = JSON.parse(sessionStorage.getItem(SAMPLES_KEY) || '[]');
    const since = Date.now() - HOUR_MS;
    return Array.isArray(samples) ? samples.filter((s) => s[0] >= since) : [];
  } catch {
    return [];
  }
}

function setScreen(name) {
  ui.screen = name;
  showScreen(name, { focus: name !== 'wallboard' });
}

function pageState() {
  if (ui.screen !== 'wallboard') return ui.screen;
  return connection?.online ? 'live' : 'offline';
}

function level(key, value) {
  if (value == null) return '';
  const [a, b] = THRESHOLDS[key];
  if (key === 'service_level') return value >= a ? 'ok' : value >= b ? 'warn' : 'bad';
  return value >= b ? 'bad' : value >= a ? 'warn' : 'ok';
}

const percent = (v) => (v == null ? '—' : `${Math.round(v * 100)} %`);
const secs = (v) => (v == null ? '—' : duration(v));
const worst = (levels) => (levels.includes('bad') ? 'bad' : levels.includes('warn') ? 'warn' : 'ok');

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') node.className = v;
    else if (k === 'data') Object.assign(node.dataset, v);
    else node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
}

function kpi(key, label, value, lvl, main = false) {
  return el('div', { class: `kpi${main ? ' main' : ''}`, data: { kpi: key, value, level: lvl || '' } }, el('dt', {}, label), el('dd', {}, value));
}

function renderTiles() {
  const snapshot = ui.snapshot;
  const elapsed = (Date.now() - ui.receivedAt) / 1000;
  const tiles = snapshot.queues.map((q) => {
    const recent = q.recent || {};
    const today = q.today || {};
    const longest = q.waiting > 0 ? q.longest_wait_secs + elapsed : 0;
    const serviceLevel = recent.service_level ?? today.service_level;
    const asa = recent.asa_secs ?? today.asa_secs;
    const abandonment = recent.abandonment_rate ?? today.abandonment_rate;
    const levels = {
      // Calls waiting are a warning when nobody is free to take them, an alarm past the limit.
      waiting: q.waiting >= THRESHOLDS.waiting[1] ? 'bad' : q.waiting >= THRESHOLDS.waiting[0] && q.agents.available === 0 ? 'warn' : 'ok',
      longest: level('longest_wait_secs', longest),
      sl: level('service_level', serviceLevel),
      asa: level('asa_secs', asa),
      abandon: level('abandonment_rate', abandonment),
    };
    const a = q.agents;
    return el(
      'article',
      { class: 'tile', data: { testid: `queue-${q.service}`, service: q.service, open: String(q.open), level: q.open ? worst(Object.values(levels)) : 'closed' }, 'aria-label': q.name },
      el('header', {}, el('h3', {}, q.name), el('span', { class: 'open' }, q.open ? 'Ouvert' : 'Fermé')),
      el(
        'dl',
        { class: 'kpis' },
        kpi('waiting', 'En attente', String(q.waiting), levels.waiting, true),
        kpi('longest_wait', 'Plus longue attente', secs(longest), levels.longest, true),
        kpi('estimated_wait', 'Attente estimée', secs(q.estimated_wait_secs), ''),
        kpi('service_level', 'Niveau de service', percent(serviceLevel), levels.sl),
        kpi('asa', 'Vitesse de réponse', secs(asa), levels.asa),
        kpi('abandonment', 'Abandons', percent(abandonment), levels.abandon),
      ),
      el(
        'div',
        { class: 'agents-line', 'aria-label': 'Conseillers de la file' },
        pill('available', 'disponibles', a.available),
        pill('on_call', 'en appel', a.on_call),
        pill('wrap_up', "fin d'appel", a.wrap_up),
        pill('not_ready', 'indisponibles', a.not_ready),
        ...(a.reserved ? [pill('reserved', 'sonnerie', a.reserved)] : []),
      ),
      el(
        'p',
        { class: 'today-line' },
        "Aujourd'hui : ",
        el('b', { data: { kpi: 'today-offered', value: String(today.offered ?? 0) } }, String(today.offered ?? 0)),
        ' reçus · ',
        el('b', { data: { kpi: 'today-answered', value: String(today.answered ?? 0) } }, String(today.answered ?? 0)),
        ' répondus · ',
        el('b', { data: { kpi: 'today-abandoned', value: String(today.abandoned ?? 0) } }, String(today.abandoned ?? 0)),
        ' abandons',
        today.short_abandoned ? ` (+${today.short_abandoned} rapides)` : '',
      ),
    );
  });
  $('#tiles').replaceChildren(...tiles);
}

function pill(key, label, value) {
  return el('span', { class: `pill ${key}`, data: { kpi: `agents-${key}`, value: String(value) } }, el('b', {}, String(value)), ` ${label}`);
}

function renderAgents() {
  const elapsed = (Date.now() - ui.receivedAt) / 1000;
  const agents = ui.snapshot.agents.slice().sort((x, y) => x.agent.localeCompare(y.agent));
  const rows = agents.map((a) => {
    const since = a.since_secs + elapsed;
    let label = STATE_LABEL[a.state] || a.state;
    if (a.state === 'not_ready' && a.reason) label += ` (${REASON_LABEL[a.reason] || a.reason})`;
    const long = (a.state === 'not_ready' && since > 900) || (a.state === 'wrap_up' && since > 120);
    return el(
      'tr',
      { data: { agent: a.agent, state: a.state, long: String(long) } },
      el('td', {}, a.agent),
      el('td', {}, el('span', { class: `state ${a.state}` }, label)),
      el('td', { class: 'num' }, duration(since)),
      el('td', {}, a.call != null ? `n° ${a.call}` : '—'),
    );
  });
  if (rows.length === 0) rows.push(el('tr', {}, el('td', { colspan: '4', class: 'muted' }, 'Aucun conseiller connecté.')));
  $('#agent-rows').replaceChildren(...rows);
  $('#agents-count').textContent = `(${agents.length})`;
}

function totalWaiting() {
  return ui.snapshot ? ui.snapshot.queues.reduce((sum, q) => sum + q.waiting, 0) : 0;
}

function sample() {
  if (!ui.snapshot) return;
  const now = Date.now();
  ui.samples.push([now, totalWaiting()]);
  const since = now - HOUR_MS;
  while (ui.samples.length && ui.samples[0][0] < since) ui.samples.shift();
  try {
    sessionStorage.setItem(SAMPLES_KEY, JSON.stringify(ui.samples));
  } catch {
    // Storage full or unavailable: the chart simply starts over after a reload.
  }
}

function drawChart() {
  const canvas = $('#chart');
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 560;
  const height = canvas.clientHeight || 220;
  if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
  }
  const ctx = canvas.getContext('2d');
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  const left = 34;
  const right = 8;
  const top = 10;
  const bottom = 24;
  const w = width - left - right;
  const h = height - top - bottom;
  const now = Date.now();
  const start = now - HOUR_MS;
  const max = Math.max(4, ...ui.samples.map((s) => s[1]));
  const step = max <= 5 ? 1 : max <= 10 ? 2 : Math.ceil(max / 5);
  const top_value = Math.ceil(max / step) * step;
  const x = (t) => left + ((t - start) / HOUR_MS) * w;
  const y = (v) => top + h - (v / top_value) * h;

  ctx.font = '12px system-ui, sans-serif';
  ctx.fillStyle = '#4a5361';
  ctx.strokeStyle = '#d5dae1';
  ctx.lineWidth = 1;
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (let v = 0; v <= top_value; v += step) {
    ctx.beginPath();
    ctx.moveTo(left, Math.round(y(v)) + 0.5);
    ctx.lineTo(left + w, Math.round(y(v)) + 0.5);
    ctx.stroke();
    ctx.fillText(String(v), left - 6, y(v));
  }
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  for (let m = 60; m >= 0; m -= 15) {
    const t = now - m * 60000;
    ctx.fillText(m === 0 ? 'maintenant' : `-${m} min`, Math.min(Math.max(x(t), left + 20), left + w - 30), top + h + 6);
  }
  if (ui.samples.length === 0) return;
  // A step line: the count holds until the next sample.
  ctx.beginPath();
  let previous = null;
  for (const [t, v] of ui.samples) {
    const px = x(Math.max(t, start));
    if (previous === null) ctx.moveTo(px, y(v));
    else ctx.lineTo(px, y(previous));
    ctx.lineTo(px, y(v));
    previous = v;
  }
  ctx.lineTo(x(now), y(previous));
  ctx.strokeStyle = '#003b8e';
  ctx.lineWidth = 2.5;
  ctx.stroke();
  ctx.lineTo(x(now), y(0));
  ctx.lineTo(x(Math.max(ui.samples[0][0], start)), y(0));
  ctx.closePath();
  ctx.fillStyle = 'rgba(0, 59, 142, .12)';
  ctx.fill();
  const peak = Math.max(...ui.samples.map((s) => s[1]));
  $('#chart-summary').textContent = `Maintenant : ${previous} en attente · maximum sur l'heure : ${peak}`;
}

function render() {
  if (!ui.snapshot) return;
  renderTiles();
  renderAgents();
  drawChart();
  $('#updated').textContent = `mis à jour ${new Date(ui.receivedAt).toLocaleTimeString('fr-FR')}`;
}

function onSnapshot(snapshot) {
  ui.snapshot = { queues: snapshot.queues, agents: snapshot.agents };
  ui.receivedAt = Date.now();
  sample();
  render();
}

function connect(token) {
  connection?.stop();
  connection = new Connection(token);
  connection.on('status', (status) => {
    document.body.dataset.conn = status;
    $('#conn-text').textContent = { online: 'En direct', connecting: 'Connexion…', offline: 'Hors ligne', closed: 'Déconnecté' }[status];
    $('#net').textContent = status === 'offline' ? 'Connexion au serveur perdue : les chiffres affichés ne sont plus à jour. Nouvelle tentative…' : '';
    $('#net').hidden = status !== 'offline';
  });
  connection.on('welcome', async (welcome) => {
    $('#who').textContent = welcome.subject;
    if (welcome.role !== 'supervisor' && welcome.role !== 'admin') {
      connection.stop();
      forgetToken();
      signinError("Ce jeton n'est pas un jeton de superviseur.");
      return;
    }
    try {
      const result = await connection.request({ type: 'subscribe_kpis' });
      setScreen('wallboard');
      onSnapshot(result);
    } catch (err) {
      console.error('supervisor: subscribe_kpis', err);
    }
  });
  connection.on('fatal', ({ code }) => {
    forgetToken();
    signinError(code === 'token_expired' ? 'Ce jeton a expiré.' : 'Ce jeton est refusé.');
  });
  connection.on('push:kpis', onSnapshot);
  connection.start();
}

function signinError(text) {
  $('#signin-error').textContent = text;
  $('#signin-error').hidden = false;
  setScreen('signin');
}

function init() {
  bindSigninForm((token) => {
    setScreen('loading');
    connect(token);
  });
  // Clocks (longest wait, time in state) move between snapshots; the chart samples every 10 s.
  setInterval(() => {
    if (ui.snapshot && ui.screen === 'wallboard') {
      renderTiles();
      renderAgents();
    }
  }, 1000);
  setInterval(() => {
    if (ui.snapshot && connection?.online) {
      sample();
      drawChart();
    }
  }, 10000);
  window.addEventListener('resize', () => ui.snapshot && drawChart());
  exposeTestHooks(pageState, () => null, { snapshot: () => ui.snapshot });

  const token = takeToken();
  if (token) connect(token);
  else setScreen('signin');
}

init();
