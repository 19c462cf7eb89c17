// Administration console: services (changed live), agents' skills and kiosks (enrolment,
// revocation), over the administrators' REST API with the browser sign-in or a token.

import { $, bindSigninForm, browserSession, browserSignOut, forgetToken, showScreen, takeToken } from '/console/relais.js';

const ui = { screen: 'loading', token: null, services: [], agents: [], kiosks: [], editing: null };

const NEW_SERVICE = `id = "nouveau-service"
name = "Nouveau service"
timezone = "Europe/Paris"

[hours]
mon = ["08:30-12:00", "13:30-16:30"]
tue = ["08:30-12:00", "13:30-16:30"]
wed = ["08:30-12:00"]
thu = ["08:30-12:00", "13:30-16:30"]
fri = ["08:30-12:00", "13:30-16:30"]

[[skills]]
skill = "nouveau-service"
min_proficiency = 1
`;

function setScreen(name) {
  ui.screen = name;
  showScreen(name);
}

function notice(text, kind = 'ok') {
  const el = $('#notice');
  el.textContent = text;
  el.className = `banner ${kind}`;
  el.hidden = !text;
}

/// A request to the API; resolves with the parsed answer, rejects with the server's message.
async function api(method, path, { body = null, type = 'application/json' } = {}) {
  const headers = {};
  if (ui.token) headers.Authorization = `Bearer ${ui.token}`;
  if (body !== null) headers['Content-Type'] = type;
  const response = await fetch(path, { method, headers, body, cache: 'no-store' });
  const text = await response.text();
  const answer = text ? JSON.parse(text) : null;
  if (response.status === 401) {
    forgetToken();
    signinError('Votre session a pris fin. Reconnectez-vous.');
  }
  if (!response.ok) throw Object.assign(new Error(answer?.message || `HTTP ${response.status}`), { status: response.status });
  return answer;
}

const list = (text) =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

function cell(text, className = '') {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function button(label, testid, onclick, secondary = true) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  b.dataset.testid = testid;
  if (secondary) b.className = 'secondary';
  b.addEventListener('click', onclick);
  return b;
}

const SOURCE = { file: 'fichier', admin: 'ajouté ici', 'file+admin': 'fichier, modifié ici' };

function renderServices() {
  const rows = ui.services.map((s) => {
    const tr = document.createElement('tr');
    tr.dataset.service = s.id;
    tr.append(cell(s.name), cell(s.id), cell(SOURCE[s.source] || s.source));
    const state = cell('');
    const tag = document.createElement('span');
    tag.className = `tag ${s.open ? 'open' : 'closed'}`;
    tag.textContent = s.open ? 'Ouvert' : 'Fermé';
    state.append(tag);
    tr.append(state);
    const actions = cell('', 'actions');
    actions.append(
      button('Modifier', `service-edit-${s.id}`, () => editService(s)),
      button('Supprimer', `service-delete-${s.id}`, () => deleteService(s)),
    );
    tr.append(actions);
    return tr;
  });
  $('#services').replaceChildren(...rows);
}

function editService(service) {
  ui.editing = service ? service.id : null;
  $('#service-title').textContent = service ? `Service ${service.name}` : 'Nouveau service';
  $('#service-text').value = service ? service.toml : NEW_SERVICE;
  $('#service-error').hidden = true;
  $('#service-form').hidden = false;
  $('#service-text').focus();
}

async function saveService(event) {
  event.preventDefault();
  const text = $('#service-text').value;
  const id = ui.editing || text.match(/^\s*id\s*=\s*"([^"]+)"/m)?.[1];
  if (!id) {
    showServiceError('Donnez un identifiant : id = "…"');
    return;
  }
  try {
    await api('PUT', `/api/admin/services/${encodeURIComponent(id)}`, { body: text, type: 'application/toml' });
    $('#service-form').hidden = true;
    notice(`Service ${id} enregistré et appliqué.`);
    await loadServices();
  } catch (err) {
    showServiceError(err.message);
  }
}

function showServiceError(text) {
  $('#service-error').textContent = text;
  $('#service-error').hidden = false;
}

async function deleteService(service) {
  if (!window.confirm(`Supprimer le service ${service.name} ? Les appels qui l'attendent prendront fin.`)) return;
  try {
    await api('DELETE', `/api/admin/services/${encodeURIComponent(service.id)}`);
    notice(`Service ${service.id} supprimé.`);
    await loadServices();
  } catch (err) {
    notice(err.message, 'bad');
  }
}

function renderAgents() {
  const rows = ui.agents.map((a) => {
    const tr = document.createElement('tr');
    tr.dataset.agent = a.agent_id;
    tr.append(cell(a.agent_id), cell(a.skills.map(([s, l]) => `${s}:${l}`).join(', ') || '—'), cell(a.teams.join(', ') || '—'));
    const actions = cell('', 'actions');
    actions.append(
      button('Modifier', `agent-edit-${a.agent_id}`, () => {
        $('#agent-id').value = a.agent_id;
        $('#agent-skills').value = a.skills.map(([s, l]) => `${s}:${l}`).join(', ');
        $('#agent-teams').value = a.teams.join(', ');
        $('#agent-skills').focus();
      }),
    );
    tr.append(actions);
    return tr;
  });
  $('#agents').replaceChildren(...rows);
}

async function saveAgent(event) {
  event.preventDefault();
  const id = $('#agent-id').value.trim();
  const skills = [];
  for (const item of list($('#agent-skills').value)) {
    const [skill, level] = item.split(':').map((s) => s.trim());
    const n = Number(level ?? 1);
    if (!skill || !Number.isInteger(n) || n < 1 || n > 5) {
      notice(`Compétence « ${item} » : écrivez service:niveau, niveau de 1 à 5.`, 'bad');
      return;
    }
    skills.push([skill, n]);
  }
  try {
    await api('PUT', `/api/admin/agents/${encodeURIComponent(id)}`, { body: JSON.stringify({ skills, teams: list($('#agent-teams').value) }) });
    notice(`Conseiller ${id} enregistré.`);
    $('#agent-form').reset();
    await loadAgents();
  } catch (err) {
    notice(err.message, 'bad');
  }
}

function when(ms) {
  return ms ? new Date(ms).toLocaleString('fr-FR') : '—';
}

function renderKiosks() {
  const rows = ui.kiosks.map((k) => {
    const tr = document.createElement('tr');
    tr.dataset.kiosk = k.kiosk;
    let state = k.revoked_at_ms ? 'Révoquée' : k.paired_at_ms ? 'Installée' : 'En attente du code';
    if (k.online) state += ' · en ligne';
    tr.append(cell(k.kiosk), cell(k.site), cell(k.services.join(', ') || 'tous'), cell(state), cell(devicesText(k.devices)), cell(when(k.last_seen_ms)));
    const actions = cell('', 'actions');
    actions.append(button('Nouveau code', `kiosk-code-${k.kiosk}`, () => newCode(k.kiosk)));
    if (!k.revoked_at_ms) actions.append(button('Révoquer', `kiosk-revoke-${k.kiosk}`, () => revoke(k.kiosk)));
    tr.append(actions);
    return tr;
  });
  $('#kiosks').replaceChildren(...rows);
}

const DEVICE = { ok: 'marche', missing: 'absent', refused: 'refusé', failed: 'en panne', unknown: 'pas encore essayé' };

/// What a kiosk last said of its camera, microphone and browser.
function devicesText(d) {
  if (!d) return '—';
  const browser = d.browser.match(/(Firefox|Chrome|Edg)\/(\d+)/);
  const name = browser ? `${{ Edg: 'Edge', Chrome: 'Chromium', Firefox: 'Firefox' }[browser[1]]} ${browser[2]}` : d.browser.slice(0, 40);
  return `Caméra : ${DEVICE[d.camera] || d.camera} · Micro : ${DEVICE[d.microphone] || d.microphone} · ${name}`;
}

function showCode(issued) {
  const el = $('#pairing');
  el.replaceChildren(
    `Code d'installation de ${issued.kiosk}, à saisir une fois sur la borne avant le ${when(issued.expires_at_ms)} : `,
    Object.assign(document.createElement('span'), { className: 'code', textContent: issued.code }),
  );
  el.dataset.code = issued.code;
  el.hidden = false;
}

async function createKiosk(event) {
  event.preventDefault();
  try {
    const issued = await api('POST', '/api/admin/kiosks', {
      body: JSON.stringify({ kiosk: $('#kiosk-id').value.trim(), site: $('#kiosk-site').value.trim(), services: list($('#kiosk-services').value) }),
    });
    showCode(issued);
    $('#kiosk-form').reset();
    await loadKiosks();
  } catch (err) {
    notice(err.message, 'bad');
  }
}

async function newCode(kiosk) {
  try {
    showCode(await api('POST', `/api/admin/kiosks/${encodeURIComponent(kiosk)}/pairing`));
    await loadKiosks();
  } catch (err) {
    notice(err.message, 'bad');
  }
}

async function revoke(kiosk) {
  if (!window.confirm(`Révoquer la borne ${kiosk} ? Elle est déconnectée tout de suite.`)) return;
  try {
    await api('POST', `/api/admin/kiosks/${encodeURIComponent(kiosk)}/revoke`);
    notice(`Borne ${kiosk} révoquée.`);
    await loadKiosks();
  } catch (err) {
    notice(err.message, 'bad');
  }
}

async function loadServices() {
  ui.services = await api('GET', '/api/admin/services');
  renderServices();
}

async function loadAgents() {
  ui.agents = await api('GET', '/api/admin/agents');
  renderAgents();
}

async function loadKiosks() {
  ui.kiosks = (await api('GET', '/api/admin/kiosks')).kiosks;
  renderKiosks();
}

async function start(who) {
  $('#who').textContent = who;
  try {
    await Promise.all([loadServices(), loadAgents(), loadKiosks()]);
    setScreen('console');
  } catch (err) {
    if (err.status === 403) signinError("Ce compte n'a pas le rôle d'administrateur.");
    else if (err.status !== 401) signinError(err.message);
  }
}

function signinError(text) {
  $('#signin-error').textContent = text;
  $('#signin-error').hidden = false;
  setScreen('signin');
}

async function init() {
  bindSigninForm((token) => {
    ui.token = token;
    setScreen('loading');
    start('');
  });
  $('#service-new').addEventListener('click', () => editService(null));
  $('#service-cancel').addEventListener('click', () => ($('#service-form').hidden = true));
  $('#service-form').addEventListener('submit', saveService);
  $('#agent-form').addEventListener('submit', saveAgent);
  $('#kiosk-form').addEventListener('submit', createKiosk);
  $('#signout').addEventListener('click', () => {
    if (ui.token) {
      forgetToken();
      ui.token = null;
      setScreen('signin');
    } else browserSignOut();
  });
  window.relaisTest = { state: () => ui.screen };
  ui.token = takeToken();
  if (ui.token) return start('');
  const session = await browserSession();
  if (session?.roles?.includes('admin')) {
    $('#signout').hidden = false;
    return start(session.name || session.subject);
  }
  if (session) signinError("Ce compte n'a pas le rôle d'administrateur.");
  else setScreen('signin');
}

init();
