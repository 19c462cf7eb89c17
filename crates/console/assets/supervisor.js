// Supervisor wallboard: one tile per queue, the agents table and the waiting-calls chart, live
// from `subscribe_kpis` and the `kpis` pushes; the calls in progress (`list_calls`) with their
// supervision buttons, and the panel of the call this supervisor listens to, coaches or joins.
import {
  $, ChatPanel, Connection, MediaCall, RemoteTiles, bindSigninForm, duration, exposeTestHooks, forgetToken,
  browserSession, browserSignOut, getLocalMedia, showScreen, stopMedia, takeToken,
} from '/console/relais.js';

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

const MODE_LABEL = {
  monitor: 'Écoute',
  whisper: "Conseil à l'agent",
  barge: 'Intervention',
};

const MODE_BUTTON = {
  monitor: 'Écouter',
  whisper: "Conseiller l'agent",
  barge: 'Intervenir',
};

const MODE_EXPLAIN = {
  monitor: "Écoute silencieuse : ni l'usager ni l'agent ne vous voient ni ne vous entendent.",
  whisper: "Seul l'agent vous entend (votre micro est ouvert, votre caméra coupée) ; l'usager ne vous entend pas.",
  barge: "Vous participez à l'appel : l'usager et l'agent vous voient et vous entendent.",
};

const MODES = ['monitor', 'whisper', 'barge'];

const ROLE_LABEL = {
  kiosk: 'usager',
  agent: 'conseiller',
  supervisor: 'responsable',
  interpreter: 'interprète',
};

// How often the calls in progress are read again, besides each `kpis` push.
const LIVE_CALLS_MS = 5000;

const HOUR_MS = 3600 * 1000;
const SAMPLES_KEY = 'relais.supervisor.samples';

const ui = {
  screen: 'loading',
  snapshot: null,
  receivedAt: 0,
  samples: loadSamples(), // [[time ms, waiting]]
  role: null, // supervisor or admin, from the welcome
  subject: '',
  calls: [], // the last `list_calls` result
  waiting: [], // the last `list_waiting` result
  waitingAt: 0,
  waitingError: '',
  callsAt: 0, // when it was received
  callsError: '', // the last list_calls failure
  actionError: '', // the last refused supervise / stop_supervising
  // The call this page supervises: {call, mode (confirmed, null before the first reply),
  // stream, media, participants, status}.
  sup: null,
  busy: false, // a supervise / stop_supervising request is on its way
};

let connection = null;

// The supervised call's pictures: one tile per participant received, the kiosk and the agent.
const tiles = new RemoteTiles({
  container: $('#sup-tiles'),
  label: (index) => {
    const person = receivedPeople()[index];
    if (person) return who(person);
    // Before the first `participants`: the kiosk and the agent, in the order of the call's legs.
    return ['Usager', 'Conseiller'][index] || null;
  },
});

const chat = new ChatPanel({
  log: $('#chat-log'),
  form: $('#chat-form'),
  input: $('#chat-input'),
  error: $('#chat-error'),
  send: (text) => connection.request({ type: 'chat', text }),
  text: (key, err) =>
    ({ you: 'Vous', too_long: 'Message trop long : 1 000 caractères au plus.' })[key] ||
    (err?.code === 'forbidden' ? 'Pour écrire, passez en mode « Intervenir ».' : "Le message n'a pas pu être envoyé. Réessayez."),
});

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
    // An open queue that nobody can answer (no agent signed in, or all of them unavailable).
    const serving = a.available + a.reserved + a.on_call + a.wrap_up;
    const unstaffed = q.open && serving === 0;
    const alarm = unstaffed
      ? el('p', { class: 'alarm', role: 'status', data: { testid: `alarm-${q.service}` } }, a.logged_in === 0 ? 'Aucun conseiller connecté' : 'Aucun conseiller disponible')
      : null;
    // The agents of a closed queue take none of its calls: they are counted where they work.
    const agentsLine = !q.open
      ? el('p', { class: 'agents-line closed-line', data: { testid: `closed-${q.service}` } }, 'File fermée')
      : alarm ||
        el(
          'div',
          { class: 'agents-line', 'aria-label': 'Conseillers de la file' },
          pill('available', 'disponibles', a.available, 'dispo.'),
          pill('on_call', 'en appel', a.on_call),
          pill('wrap_up', "fin d'appel", a.wrap_up),
          pill('not_ready', 'indisponibles', a.not_ready),
          ...(a.reserved ? [pill('reserved', 'sonnerie', a.reserved)] : []),
        );
    const tileLevel = !q.open ? 'closed' : unstaffed ? 'bad' : worst(Object.values(levels));
    return el(
      'article',
      { class: 'tile', data: { testid: `queue-${q.service}`, service: q.service, open: String(q.open), level: tileLevel, alarm: unstaffed ? 'unstaffed' : '' }, 'aria-label': q.name },
      el('header', {}, el('h3', {}, q.name), el('span', { class: 'open' }, q.open ? 'Ouvert' : 'Fermé')),
      el(
        'dl',
        { class: 'kpis' },
        kpi('waiting', 'En attente', String(q.waiting), levels.waiting, true),
        kpi('longest_wait', 'Plus longue attente', secs(longest), levels.longest, true),
        kpi('estimated_wait', 'Attente estimée', q.open && q.waiting > 0 ? secs(q.estimated_wait_secs) : '—', ''),
        kpi('service_level', 'Niveau de service', percent(serviceLevel), levels.sl),
        kpi('asa', 'Vitesse de réponse', secs(asa), levels.asa),
        kpi('abandonment', 'Abandons', percent(abandonment), levels.abandon),
      ),
      agentsLine,
      el(
        'p',
        { class: 'today-line' },
        word("Aujourd'hui : ", 'Jour : '),
        el('b', { data: { kpi: 'today-offered', value: String(today.offered ?? 0) } }, String(today.offered ?? 0)),
        word(' reçus · ', ' reçus · '),
        el('b', { data: { kpi: 'today-answered', value: String(today.answered ?? 0) } }, String(today.answered ?? 0)),
        word(' répondus · ', ' rép. · '),
        el('b', { data: { kpi: 'today-abandoned', value: String(today.abandoned ?? 0) } }, String(today.abandoned ?? 0)),
        word(' abandons', ' aband.'),
        today.short_abandoned ? ` (+${today.short_abandoned} rapides)` : '',
      ),
    );
  });
  // The labels once above the rows, for the wall layout (each figure keeps its own label for
  // screen readers).
  const head = el(
    'div',
    { class: 'tiles-head', 'aria-hidden': 'true', data: { testid: 'tiles-head' } },
    ...TILE_HEAD.map((label) => el('span', {}, label)),
  );
  $('#tiles').replaceChildren(head, ...tiles);
}

const TILE_HEAD = ["File d'attente", 'En attente', 'Attente max.', 'Attente estimée', 'Niveau service', 'Délai réponse', 'Abandons', 'Conseillers'];

/// A word in full, and its short form for the wall layout (the stylesheet shows one of them).
function word(full, short) {
  return el('span', {}, el('span', { class: 'w-full' }, full), el('span', { class: 'w-short' }, short));
}

function pill(key, label, value, short = label) {
  return el('span', { class: `pill ${key}`, data: { kpi: `agents-${key}`, value: String(value) } }, el('b', {}, String(value)), word(` ${label}`, ` ${short}`));
}

function renderAgents() {
  const elapsed = (Date.now() - ui.receivedAt) / 1000;
  const agents = ui.snapshot.agents.slice().sort((x, y) => x.agent.localeCompare(y.agent));
  const rows = agents.map((a) => {
    const since = a.since_secs + elapsed;
    const label = [a.state === 'not_ready' ? word(STATE_LABEL.not_ready, 'Indisp.') : STATE_LABEL[a.state] || a.state];
    if (a.state === 'not_ready' && a.reason) label.push(` (${REASON_LABEL[a.reason] || a.reason})`);
    const long = (a.state === 'not_ready' && since > 900) || (a.state === 'wrap_up' && since > 120);
    return el(
      'tr',
      { data: { agent: a.agent, state: a.state, long: String(long) } },
      el('td', {}, a.agent),
      el('td', {}, el('span', { class: `state ${a.state}` }, ...label)),
      el('td', { class: 'num' }, duration(since)),
      el('td', { class: 'num', data: { kpi: 'agent-calls' } }, String(a.calls ?? 0)),
      // The talk time of the calls that ended, and of the one in progress.
      el('td', { class: 'num', data: { kpi: 'agent-talk' } }, duration((a.talk_secs ?? 0) + (a.state === 'on_call' ? since : 0))),
      el('td', {}, a.call != null ? `n° ${a.call}` : '—'),
    );
  });
  if (rows.length === 0) rows.push(el('tr', {}, el('td', { colspan: '6', class: 'muted' }, 'Aucun conseiller connecté.')));
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
  // The axis labels follow the page's type size (large on a wall screen).
  const fontPx = Math.max(12, Math.round(0.8 * (parseFloat(getComputedStyle(canvas).fontSize) || 15)));
  const scale = fontPx / 12;
  const left = Math.round(34 * scale);
  const right = 8;
  const top = Math.round(10 * scale);
  const bottom = Math.round(24 * scale);
  const w = width - left - right;
  const h = height - top - bottom;
  const now = Date.now();
  const start = now - HOUR_MS;
  const max = Math.max(4, ...ui.samples.map((s) => s[1]));
  const step = max <= 5 ? 1 : max <= 10 ? 2 : Math.ceil(max / 5);
  const top_value = Math.ceil(max / step) * step;
  const x = (t) => left + ((t - start) / HOUR_MS) * w;
  const y = (v) => top + h - (v / top_value) * h;

  ctx.font = `${fontPx}px system-ui, sans-serif`;
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
    ctx.fillText(m === 0 ? 'maintenant' : `-${m} min`, Math.min(Math.max(x(t), left + 20 * scale), left + w - 36 * scale), top + h + 6);
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

// ---- calls in progress ------------------------------------------------------------------------

/// A participant as the wallboard names them: "alice (conseiller)", "Usager (borne-1)".
function who(person) {
  const role = ROLE_LABEL[person.role] || person.role;
  if (person.role === 'supervisor' && person.name === ui.subject) return `Vous (${(MODE_LABEL[person.mode] || '').toLowerCase() || role})`;
  if (person.role === 'kiosk') return person.name ? `Usager (${person.name})` : 'Usager';
  const mode = person.role === 'supervisor' && person.mode ? `, ${(MODE_LABEL[person.mode] || person.mode).toLowerCase()}` : '';
  return person.name ? `${person.name} (${role}${mode})` : role;
}

/// The people whose media the supervised call sends this page, in the order of the call's
/// legs: the kiosk, the agent, then whoever else takes part (a barging supervisor, an
/// interpreter). A monitoring or coaching supervisor sends nothing to other supervisors.
function receivedPeople() {
  const list = ui.sup?.participants || [];
  const order = { kiosk: 0, agent: 1 };
  return list
    .filter((p) => !(p.role === 'supervisor' && (p.name === ui.subject || p.mode !== 'barge')))
    .map((p, i) => [order[p.role] ?? 2, i, p])
    .sort((a, b) => a[0] - b[0] || a[1] - b[1])
    .map(([, , p]) => p);
}

let liveTimer = 0;
let liveInFlight = false;
let liveAgain = false;

/// Reads the calls in progress soon (several `kpis` pushes in a row make one request).
function refreshLiveCallsSoon() {
  if (liveTimer) return;
  liveTimer = setTimeout(() => {
    liveTimer = 0;
    refreshLiveCalls();
  }, 250);
}

async function refreshLiveCalls() {
  if (!connection?.online) return;
  if (liveInFlight) {
    liveAgain = true;
    return;
  }
  liveInFlight = true;
  const waiting = connection
    .request({ type: 'list_waiting' })
    .then((result) => {
      ui.waiting = Array.isArray(result.calls) ? result.calls : [];
      ui.waitingAt = Date.now();
      ui.waitingError = '';
    })
    .catch((err) => {
      ui.waitingError = err.code === 'disconnected' ? '' : 'La liste des appels en attente est indisponible pour le moment.';
      console.error('supervisor: list_waiting', err);
    });
  try {
    const result = await connection.request({ type: 'list_calls' });
    ui.calls = Array.isArray(result.calls) ? result.calls : [];
    ui.callsAt = Date.now();
    ui.callsError = '';
  } catch (err) {
    ui.callsError = err.code === 'disconnected' ? '' : 'La liste des appels en cours est indisponible pour le moment.';
    console.error('supervisor: list_calls', err);
  } finally {
    await waiting;
    liveInFlight = false;
  }
  renderLiveCalls();
  renderWaiting();
  if (liveAgain) {
    liveAgain = false;
    refreshLiveCallsSoon();
  }
}

/// The calls not yet answered, longest wait first: service, site, wait, where each one is.
function renderWaiting() {
  const elapsed = (Date.now() - (ui.waitingAt || Date.now())) / 1000;
  const names = Object.fromEntries((ui.snapshot?.queues || []).map((q) => [q.service, q.name]));
  const rows = ui.waiting.map((c) =>
    el(
      'tr',
      { data: { call: String(c.call), offered: String(Boolean(c.offered)) } },
      el('td', {}, names[c.service] || c.service),
      el('td', {}, c.site || '—'),
      el('td', { class: 'num' }, duration(c.waited_secs + elapsed)),
      el('td', {}, el('span', { class: `state ${c.offered ? 'reserved' : 'queued'}` }, c.offered ? 'Sonne' : 'En file')),
    ),
  );
  if (rows.length === 0) rows.push(el('tr', {}, el('td', { colspan: '4', class: 'muted' }, ui.waitingError || 'Aucun appel en attente.')));
  $('#waiting-rows').replaceChildren(...rows);
  $('#waiting-count').textContent = `(${ui.waiting.length})`;
}

function supervisorsText(call) {
  const list = call.supervisors || [];
  if (list.length === 0) return 'personne';
  return list.map((s) => `${s.name === ui.subject ? 'vous' : s.name} (${(MODE_LABEL[s.mode] || s.mode).toLowerCase()})`).join(', ');
}

function callElapsed(call) {
  return call.since_secs + (Date.now() - ui.callsAt) / 1000;
}

/// One card per call in progress, updated in place so a focused button keeps its focus.
function renderLiveCalls() {
  const list = $('#live-calls');
  const error = $('#live-error');
  const text = ui.actionError || ui.callsError;
  if (error.textContent !== text) error.textContent = text;
  error.hidden = !text;
  $('#live-count').textContent = `(${ui.calls.length})`;
  const wanted = new Set(ui.calls.map((c) => String(c.call)));
  for (const item of [...list.children]) {
    if (!wanted.has(item.dataset.call)) item.remove();
  }
  let previous = null;
  for (const call of ui.calls) {
    const key = String(call.call);
    let item = [...list.children].find((li) => li.dataset.call === key);
    if (!item) item = liveCallCard(call);
    updateLiveCall(item, call);
    // Keeps the server's order.
    if (previous ? previous.nextElementSibling !== item : list.firstElementChild !== item) {
      if (previous) previous.after(item);
      else list.prepend(item);
    }
    previous = item;
  }
  let empty = list.querySelector('li.empty');
  if (ui.calls.length === 0 && !empty) {
    empty = el('li', { class: 'empty' }, 'Aucun appel en cours.');
    list.append(empty);
  } else if (ui.calls.length > 0 && empty) {
    empty.remove();
  }
}

function liveCallCard(call) {
  const key = String(call.call);
  const headingId = `lc-h-${key}`;
  const item = el('li', { class: 'live-call', data: { call: key, testid: `live-call-${key}` } });
  const head = el('div', { class: 'lc-head' }, el('h3', { id: headingId }), el('span', { class: 'lc-time', 'aria-label': "Durée de l'appel" }));
  const facts = el(
    'dl',
    { class: 'lc-facts' },
    el('dt', {}, 'Conseiller'),
    el('dd', { data: { field: 'agent' } }),
    el('dt', {}, 'Site'),
    el('dd', { data: { field: 'site' } }),
    el('dt', {}, 'Supervision'),
    el('dd', { data: { field: 'supervisors' } }),
  );
  const mine = el('p', { class: 'lc-mine', hidden: '' }, 'Vous supervisez cet appel.');
  item.append(head, facts, mine);
  if (ui.role === 'supervisor') {
    const actions = el('div', { class: 'lc-actions' });
    for (const mode of MODES) {
      const button = el(
        'button',
        { type: 'button', class: 'secondary', 'aria-pressed': 'false', 'aria-describedby': headingId, data: { mode, testid: `${mode}-${key}` } },
        MODE_BUTTON[mode],
      );
      button.addEventListener('click', () => supervise(call.call, mode));
      actions.append(button);
    }
    item.append(actions);
  }
  return item;
}

function updateLiveCall(item, call) {
  const set = (node, text) => {
    if (node && node.textContent !== text) node.textContent = text;
  };
  set(item.querySelector('h3'), call.service_name || call.service);
  set(item.querySelector('.lc-time'), duration(callElapsed(call)));
  item.dataset.since = String(call.since_secs);
  set(item.querySelector('[data-field="agent"]'), call.agent || '—');
  set(item.querySelector('[data-field="site"]'), call.site || '—');
  set(item.querySelector('[data-field="supervisors"]'), supervisorsText(call));
  const mine = ui.sup?.call === call.call;
  item.dataset.mine = String(mine);
  item.querySelector('.lc-mine').hidden = !mine;
  for (const button of item.querySelectorAll('.lc-actions button')) {
    button.setAttribute('aria-pressed', String(mine && ui.sup.mode === button.dataset.mode));
  }
}

/// The call cards' clocks, once a second.
function tickLiveCalls() {
  for (const item of $('#live-calls').querySelectorAll('li.live-call')) {
    const call = ui.calls.find((c) => String(c.call) === item.dataset.call);
    const time = item.querySelector('.lc-time');
    if (call && time) time.textContent = duration(callElapsed(call));
  }
  if (ui.sup) renderSupervisionInfo();
}

// ---- supervising a call --------------------------------------------------------------------------

function errorText(err) {
  return (
    {
      forbidden: "vous n'êtes pas autorisé à superviser ce service, ou ce mode est désactivé pour ce service.",
      wrong_state: "cet appel n'est plus en communication.",
      not_found: "cet appel n'existe plus.",
      unknown_call: "cet appel n'existe plus.",
      media_error: "la vidéo de supervision n'a pas pu être établie.",
      disconnected: 'pas de connexion au serveur.',
      timeout: 'le serveur ne répond pas.',
      rate_limited: 'trop de demandes ; réessayez dans un instant.',
      bad_request: 'demande refusée par le serveur.',
    }[err?.code] || `erreur du serveur (${err?.message || err?.code || 'inconnue'}).`
  );
}

/// A refused action, shown above the calls for a while (the list's own errors come after it).
function showLiveError(text) {
  ui.actionError = text;
  clearTimeout(showLiveError.timer);
  if (text) showLiveError.timer = setTimeout(() => showLiveError(''), 15000);
  renderLiveCalls();
}

function showLiveNote(text) {
  const note = $('#live-note');
  note.textContent = text;
  note.hidden = !text;
  clearTimeout(showLiveNote.timer);
  if (text) showLiveNote.timer = setTimeout(() => showLiveNote(''), 8000);
}

/// The microphone is open in whisper and barge, the camera in barge only; `other` (a mode being
/// left or entered) narrows it to what both allow, so nothing opens before the server agrees.
function applyTracks(mode, other = mode) {
  const stream = ui.sup?.stream;
  if (!stream) return;
  const audio = (m) => m === 'whisper' || m === 'barge';
  const video = (m) => m === 'barge';
  for (const track of stream.getAudioTracks()) track.enabled = audio(mode) && audio(other);
  for (const track of stream.getVideoTracks()) track.enabled = video(mode) && video(other);
}

async function localMedia() {
  try {
    return await getLocalMedia();
  } catch (err) {
    console.error('supervisor: camera', err);
  }
  try {
    return await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch (err) {
    console.error('supervisor: microphone', err);
    return null;
  }
}

async function supervise(call, mode) {
  if (ui.busy || ui.role !== 'supervisor') return;
  ui.busy = true;
  let first = false;
  showLiveError('');
  renderAll();
  try {
    if (ui.sup && ui.sup.call !== call) await leave({ quiet: true });
    first = !ui.sup;
    if (first) ui.sup = { call, mode: null, stream: null, media: null, participants: [], status: '' };
    const sup = ui.sup;
    const previous = sup.mode;
    if (previous) applyTracks(previous, mode);
    try {
      await connection.request({ type: 'supervise', call, mode });
      if (ui.sup !== sup) return;
      sup.mode = mode;
      applyTracks(mode);
      refreshLiveCallsSoon();
    } catch (err) {
      if (ui.sup !== sup) return;
      if (first) endSupervision();
      else applyTracks(previous);
      showLiveError(`${MODE_BUTTON[mode]} : ${errorText(err)}`);
    }
  } finally {
    ui.busy = false;
    renderAll();
  }
  // A supervision just started from a card: the keyboard follows to its panel.
  if (first && ui.sup?.call === call && ui.sup.mode === mode) $('#h-sup').focus();
}

async function leave({ quiet = false } = {}) {
  if (!ui.sup) return;
  const hadFocus = $('#supervision').contains(document.activeElement);
  endSupervision();
  if (hadFocus) $('#h-live').focus();
  try {
    await connection.request({ type: 'stop_supervising' });
  } catch (err) {
    if (!quiet && err.code !== 'wrong_state' && err.code !== 'disconnected') showLiveError(`Quitter : ${errorText(err)}`);
  }
  refreshLiveCallsSoon();
}

/// Closes the supervision's media (camera and microphone released) and its panel.
function endSupervision() {
  const sup = ui.sup;
  ui.sup = null;
  if (!sup) return;
  sup.media?.close();
  stopMedia(sup.stream);
  tiles.clear();
  chat.clear();
  $('#sup-self-video').srcObject = null;
  renderAll();
}

async function onMediaReady(push) {
  const sup = ui.sup;
  if (!sup || sup.call !== push.call) return;
  sup.media?.close();
  sup.media = null;
  if (!sup.stream) {
    const stream = await localMedia();
    if (ui.sup !== sup) {
      stopMedia(stream);
      return;
    }
    sup.stream = stream;
  }
  // Closed until the server confirms a mode that opens them.
  applyTracks(sup.mode);
  $('#sup-self-video').srcObject = sup.stream;
  const media = new MediaCall(connection, sup.stream || new MediaStream(), {
    onremote: (_, streams) => tiles.render(streams),
    onremotegone: (_, streams) => tiles.render(streams),
    onstate: (state) => {
      if (ui.sup !== sup) return;
      sup.status = state === 'connected' ? '' : state === 'failed' || state === 'disconnected' ? 'Connexion vidéo perdue…' : 'Connexion de la vidéo…';
      renderSupervision();
    },
  });
  sup.media = media;
  sup.status = 'Connexion de la vidéo…';
  renderSupervision();
  try {
    await media.start();
  } catch (err) {
    console.error('supervisor: media negotiation', err);
    if (ui.sup === sup) {
      sup.status = `La vidéo n'a pas pu être établie : ${errorText(err)}`;
      renderSupervision();
    }
  }
}

function onParticipants(push) {
  if (ui.sup?.call !== push.call) return;
  ui.sup.participants = push.participants || [];
  renderSupervision();
}

function onChat(push) {
  if (ui.sup?.call !== push.call) return;
  chat.add({ name: who({ role: push.from, name: push.name }), text: push.text, at: push.at_ms || Date.now() });
}

function onCallEnded(push) {
  if (ui.sup?.call === push.call) {
    endSupervision();
    showLiveNote(`L'appel n° ${push.call} que vous supervisiez est terminé.`);
  }
  refreshLiveCallsSoon();
}

/// The agent transferred the supervised call to another service: the server ended this
/// supervision (the call waits in another queue); the panel closes with a notice.
function onCallTransferred(push) {
  if (ui.sup?.call === push.call) {
    const hadFocus = $('#supervision').contains(document.activeElement);
    endSupervision();
    if (hadFocus) $('#h-live').focus();
    const to = push.service_name || push.to;
    showLiveNote(`L'appel a été transféré${to ? ` vers ${to}` : ''} (appel n° ${push.call}) : votre supervision est terminée.`);
  }
  refreshLiveCallsSoon();
}

function onPeerMediaLost(push) {
  if (ui.sup?.call !== push.call) return;
  ui.sup.status = `La vidéo ${push.role === 'kiosk' ? "de l'usager" : push.role === 'agent' ? "de l'agent" : "d'un participant"} est coupée ; attente de sa reconnexion…`;
  renderSupervision();
}

function onPeerMediaRestored(push) {
  if (ui.sup?.call !== push.call) return;
  ui.sup.status = '';
  renderSupervision();
}

function renderSupervisionInfo() {
  const sup = ui.sup;
  const call = ui.calls.find((c) => c.call === sup.call);
  const info = call ? `${call.service_name || call.service} · conseiller ${call.agent || '—'} · site ${call.site || '—'} · ${duration(callElapsed(call))}` : '';
  if ($('#sup-info').textContent !== info) $('#sup-info').textContent = info;
}

function renderSupervision() {
  const sup = ui.sup;
  const panel = $('#supervision');
  panel.hidden = !sup;
  // The wall layout (one screen, no scrolling) gives way to the supervision panel.
  const supervising = sup ? 'on' : 'off';
  if (document.body.dataset.supervising !== supervising) {
    document.body.dataset.supervising = supervising;
    if (ui.snapshot) drawChart();
  }
  if (!sup) return;
  const mode = sup.mode;
  $('#sup-call').textContent = String(sup.call);
  const badge = $('#sup-mode');
  badge.dataset.mode = mode || '';
  badge.textContent = mode ? `Mode : ${MODE_LABEL[mode]}` : 'Mise en place…';
  $('#sup-explain').textContent = mode ? MODE_EXPLAIN[mode] : '';
  renderSupervisionInfo();
  const status = $('#sup-status');
  status.textContent = sup.status || '';
  status.hidden = !sup.status;
  for (const button of panel.querySelectorAll('.sup-actions button[data-mode]')) {
    button.setAttribute('aria-pressed', String(mode === button.dataset.mode));
  }
  const self = $('#sup-self');
  self.hidden = !(mode === 'barge' && sup.stream && sup.stream.getVideoTracks().length > 0);
  const people = sup.participants.map(who);
  $('#sup-people').textContent = people.length ? `Dans l'appel : ${people.join(' · ')}` : '';
  const canWrite = mode === 'barge';
  $('#chat-input').disabled = !canWrite;
  $('#chat-send').disabled = !canWrite;
  $('#chat-hint').hidden = canWrite;
  tiles.relabel();
}

function renderAll() {
  renderLiveCalls();
  renderSupervision();
}

function connect(token, role = null) {
  connection?.stop();
  connection = new Connection(token, { role });
  connection.on('status', (status) => {
    document.body.dataset.conn = status;
    if (status === 'offline' && ui.sup) {
      endSupervision();
      showLiveNote('Connexion perdue : la supervision est arrêtée.');
    }
    $('#conn-text').textContent = { online: 'En direct', connecting: 'Connexion…', offline: 'Hors ligne', closed: 'Déconnecté' }[status];
    $('#net').textContent = status === 'offline' ? 'Connexion au serveur perdue : les chiffres affichés ne sont plus à jour. Nouvelle tentative…' : '';
    $('#net').hidden = status !== 'offline';
  });
  connection.on('welcome', async (welcome) => {
    $('#who').textContent = welcome.subject;
    ui.role = welcome.role;
    ui.subject = welcome.subject;
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
    // Cards made for another role (a token change) are made again.
    $('#live-calls').replaceChildren();
    refreshLiveCalls();
  });
  connection.on('fatal', ({ code }) => {
    forgetToken();
    if (!connection?.token) signinError('Votre session a pris fin. Reconnectez-vous.');
    else signinError(code === 'token_expired' ? 'Ce jeton a expiré.' : 'Ce jeton est refusé.');
  });
  connection.on('push:kpis', (push) => {
    onSnapshot(push);
    refreshLiveCallsSoon();
  });
  connection.on('push:media_ready', onMediaReady);
  connection.on('push:participants', onParticipants);
  connection.on('push:chat', onChat);
  connection.on('push:call_ended', onCallEnded);
  connection.on('push:call_transferred', onCallTransferred);
  connection.on('push:peer_media_lost', onPeerMediaLost);
  connection.on('push:peer_media_restored', onPeerMediaRestored);
  connection.on('push:sdp_offer', (push) => {
    if (ui.sup?.call === push.call) ui.sup.media?.answerOffer(push.sdp).catch((err) => console.error('supervisor: renegotiation', err));
  });
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
      renderWaiting();
    }
    if (ui.screen === 'wallboard') tickLiveCalls();
  }, 1000);
  setInterval(() => {
    if (ui.screen === 'wallboard') refreshLiveCalls();
  }, LIVE_CALLS_MS);
  for (const button of document.querySelectorAll('#supervision .sup-actions button[data-mode]')) {
    button.addEventListener('click', () => ui.sup && supervise(ui.sup.call, button.dataset.mode));
  }
  $('#sup-leave').addEventListener('click', () => leave());
  setInterval(() => {
    if (ui.snapshot && connection?.online) {
      sample();
      drawChart();
    }
  }, 10000);
  window.addEventListener('resize', () => ui.snapshot && drawChart());
  exposeTestHooks(pageState, () => ui.sup?.media || null, {
    snapshot: () => ui.snapshot,
    liveCalls: () => ui.calls.map((c) => ({ ...c })),
    waitingCalls: () => ui.waiting.map((c) => ({ ...c })),
    supervision: () =>
      ui.sup
        ? {
            call: ui.sup.call,
            mode: ui.sup.mode,
            participants: ui.sup.participants.map((p) => ({ ...p })),
            // What this page lets out: the tracks enabled now.
            sending: {
              audio: (ui.sup.stream?.getAudioTracks() || []).some((t) => t.enabled),
              video: (ui.sup.stream?.getVideoTracks() || []).some((t) => t.enabled),
            },
            tiles: [...document.querySelectorAll('#sup-tiles figure')].map((f) => f.querySelector('figcaption').textContent),
          }
        : null,
    chat: () => chat.messages.map((m) => ({ ...m })),
    note: () => ($('#live-note').hidden ? '' : $('#live-note').textContent),
  });

  $('#signout').addEventListener('click', () => {
    connection?.stop();
    browserSignOut();
  });
  const token = takeToken();
  if (token) connect(token);
  else signInWithBrowser();
}

/// Without a token: the browser's sign-in, as supervisor or else administrator.
async function signInWithBrowser() {
  const session = await browserSession();
  const role = ['supervisor', 'admin'].find((r) => session?.roles?.includes(r));
  if (role) {
    $('#signout').hidden = false;
    connect('', role);
    return;
  }
  if (session) signinError("Votre compte n'a pas le rôle de superviseur. Demandez-le à votre administrateur.");
  else setScreen('signin');
}

init();
