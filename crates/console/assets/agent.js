// Agent console: sign in with a token, choose a state, answer offered calls (ringing with a
// countdown), talk, wrap up with a disposition code, see today's calls.
import {
  $, Connection, bindSigninForm, duration, exposeTestHooks, forgetToken, getLocalMedia, pageCall, showScreen,
  stopMedia, takeToken,
} from '/console/relais.js';

const STATE_LABEL = {
  logged_out: 'Déconnecté',
  available: 'Disponible',
  reserved: 'Appel entrant',
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
  back_office: 'traitement de dossiers',
};

const OUTCOME_LABEL = {
  answered: 'Répondu',
  abandoned: 'Abandonné',
  abandoned_short: 'Abandon rapide',
  overflowed: 'Débordé',
  timed_out: 'Attente dépassée',
  closed: 'Service fermé',
  queue_full: 'File pleine',
  interrupted: 'Interrompu',
};

const ui = {
  screen: 'loading',
  state: null, // the last agent_state push
  stateSince: Date.now(),
  offer: null, // {call, service, service_name, site, waited_secs, deadline}
  callId: null,
  callStart: 0,
  callInfo: '',
  wrapDeadline: 0,
  wrapTotal: 0,
  stream: null,
  media: null,
  muted: false,
  cameraOff: false,
};

let connection = null;

/// The page's state for tests and for the body's data-state: signin, offline, not_ready,
/// available, ringing, call, wrap_up.
function pageState() {
  if (ui.screen !== 'console') return ui.screen;
  if (!connection?.online) return 'offline';
  const state = ui.state?.state;
  if (state === 'reserved' || ui.offer) return 'ringing';
  if (state === 'on_call') return 'call';
  return state || 'offline';
}

function setScreen(name) {
  ui.screen = name;
  showScreen(name, { focus: name !== 'console' });
}

function showNet(text) {
  $('#net').textContent = text || '';
  $('#net').hidden = !text;
}

function badgeText(state) {
  if (!state) return '—';
  let text = STATE_LABEL[state.state] || state.state;
  if (state.state === 'not_ready' && state.reason) text += ` (${REASON_LABEL[state.reason] || state.reason})`;
  return text;
}

function render() {
  const state = ui.state;
  const name = pageState();
  document.body.dataset.state = name;
  const badge = $('#badge');
  badge.dataset.state = state?.state || '';
  $('#badge-text').textContent = badgeText(state);

  const select = $('#state-select');
  const busy = state && (state.state === 'reserved' || state.state === 'on_call');
  select.disabled = !connection?.online || busy;
  if (state?.state === 'not_ready') {
    const reason = state.reason || 'pause';
    if (![...select.options].some((o) => o.value === reason)) {
      const option = document.createElement('option');
      option.value = reason;
      option.textContent = REASON_LABEL[reason] ? capitalise(REASON_LABEL[reason]) : reason;
      option.dataset.server = 'true';
      select.append(option);
    }
    select.value = reason;
  } else if (state?.state === 'available' || busy || state?.state === 'wrap_up') {
    select.value = 'ready';
  }

  $('#offer-panel').hidden = name !== 'ringing';
  $('#call-panel').hidden = name !== 'call';
  $('#wrapup-panel').hidden = name !== 'wrap_up';
  $('#idle-panel').hidden = name === 'ringing' || name === 'call' || name === 'wrap_up';
  $('#idle-text').textContent =
    state?.state === 'available' ? 'Vous êtes disponible : un appel peut arriver à tout moment.' : 'Passez « Disponible » pour recevoir des appels.';
  tick();
}

function capitalise(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/// Updates the clocks once a second: time in state, offer countdown, call timer, wrap-up.
function tick() {
  const now = Date.now();
  $('#badge-time').textContent = ui.state ? duration((now - ui.stateSince) / 1000) : '';
  if (ui.offer) {
    const left = Math.max(0, Math.ceil((ui.offer.deadline - now) / 1000));
    $('#offer-left').textContent = String(left);
    $('#offer-bar').style.width = `${Math.min(100, (100 * (ui.offer.deadline - now)) / ui.offer.total)}%`;
    $('#offer-waited').textContent = duration(ui.offer.waited_secs + (now - ui.offer.received) / 1000);
  }
  if (ui.callId != null && ui.callStart) $('#call-timer').textContent = duration((now - ui.callStart) / 1000);
  if (ui.wrapDeadline) {
    const left = Math.max(0, Math.ceil((ui.wrapDeadline - now) / 1000));
    $('#wrapup-left').textContent = String(left);
    $('#wrapup-bar').style.width = `${ui.wrapTotal ? Math.min(100, (100 * (ui.wrapDeadline - now)) / ui.wrapTotal) : 0}%`;
  }
}

// ---- ringing: a WebAudio two-tone ring, no audio files -------------------------------------

const ringer = {
  ctx: null,
  timer: 0,
  titleTimer: 0,
  start() {
    if (this.timer) return;
    try {
      this.ctx = this.ctx || new (window.AudioContext || window.webkitAudioContext)();
      this.ctx.resume().catch(() => {});
    } catch {
      this.ctx = null;
    }
    const ring = () => {
      const ctx = this.ctx;
      if (!ctx) return;
      const t0 = ctx.currentTime + 0.02;
      for (const [offset, freq] of [[0, 880], [0.25, 660], [0.5, 880], [0.75, 660]]) {
        const osc = ctx.createOscillator();
        const gain = ctx.createGain();
        osc.type = 'sine';
        osc.frequency.value = freq;
        gain.gain.setValueAtTime(0, t0 + offset);
        gain.gain.linearRampToValueAtTime(0.25, t0 + offset + 0.02);
        gain.gain.setValueAtTime(0.25, t0 + offset + 0.2);
        gain.gain.linearRampToValueAtTime(0, t0 + offset + 0.24);
        osc.connect(gain).connect(ctx.destination);
        osc.start(t0 + offset);
        osc.stop(t0 + offset + 0.25);
      }
    };
    ring();
    this.timer = setInterval(ring, 2500);
    let flip = false;
    this.titleTimer = setInterval(() => {
      flip = !flip;
      document.title = flip ? '📞 Appel entrant !' : 'Relais — Console conseiller';
    }, 700);
  },
  stop() {
    clearInterval(this.timer);
    clearInterval(this.titleTimer);
    this.timer = 0;
    this.titleTimer = 0;
    document.title = 'Relais — Console conseiller';
  },
  get ringing() {
    return this.timer !== 0;
  },
};

// ---- server pushes --------------------------------------------------------------------------

function onAgentState(push) {
  const previous = ui.state;
  if (!previous || previous.state !== push.state || previous.reason !== push.reason || previous.call !== push.call) {
    ui.stateSince = Date.now();
  }
  ui.state = push;
  if (push.state === 'reserved') {
    if (ui.offer && push.remaining_secs != null) ui.offer.deadline = Date.now() + push.remaining_secs * 1000;
  } else {
    clearOffer();
  }
  if (push.state === 'on_call') {
    if (ui.callId !== push.call) {
      ui.callId = push.call;
      ui.callStart = Date.now();
    }
  } else if (ui.callId != null && push.state !== 'on_call') {
    endMedia();
  }
  if (push.state === 'wrap_up') {
    const secs = push.remaining_secs ?? 0;
    ui.wrapTotal = secs * 1000;
    ui.wrapDeadline = Date.now() + ui.wrapTotal;
    if (previous?.state !== 'wrap_up') {
      $('#disposition').value = '';
      setTimeout(() => $('#disposition').focus(), 0);
    }
  } else {
    ui.wrapDeadline = 0;
  }
  render();
  if (push.state === 'available' && previous?.state === 'wrap_up') refreshCalls();
}

function onOffered(push) {
  const now = Date.now();
  ui.offer = { ...push, received: now, deadline: now + push.deadline_secs * 1000, total: push.deadline_secs * 1000 };
  ui.callInfo = `${push.service_name || push.service}${push.site ? ` — ${push.site}` : ''}`;
  $('#offer-service').textContent = push.service_name || push.service;
  $('#offer-site').textContent = push.site || '—';
  $('#accept').disabled = false;
  $('#reject').disabled = false;
  ringer.start();
  render();
  $('#accept').focus();
}

function clearOffer() {
  ui.offer = null;
  ringer.stop();
}

function onOfferWithdrawn(push) {
  if (ui.offer && ui.offer.call === push.call) {
    clearOffer();
    const why = { expired: 'délai de réponse dépassé', call_ended: "l'usager a raccroché", agent_unavailable: 'vous êtes indisponible' }[push.reason] || push.reason;
    showNet(`Appel retiré : ${why}.`);
    setTimeout(() => showNet(''), 5000);
    render();
  }
}

async function onMediaReady(push) {
  ui.callId = push.call;
  if (!ui.callStart) ui.callStart = Date.now();
  $('#call-details').textContent = ui.callInfo;
  render();
  $('#hangup').focus();
  $('#call-status').textContent = 'Connexion de la vidéo…';
  if (!ui.stream) {
    try {
      ui.stream = await getLocalMedia();
    } catch (err) {
      console.error('agent: camera/microphone', err);
      $('#call-status').textContent = 'Caméra ou micro indisponible';
    }
  }
  if (ui.callId !== push.call) return;
  ui.media?.close();
  const media = pageCall(connection, ui.stream, (state) => {
    $('#call-status').textContent = state === 'connected' ? '' : state === 'failed' || state === 'disconnected' ? 'Connexion vidéo perdue…' : 'Connexion de la vidéo…';
  });
  ui.media = media;
  media.setAudio(!ui.muted);
  media.setVideo(!ui.cameraOff);
  try {
    await media.start();
  } catch (err) {
    console.error('agent: media negotiation', err);
    $('#call-status').textContent = 'La vidéo n’a pas pu être établie';
  }
}

/** The citizen's media dropped (network blink, closed tab): the call waits for it to rejoin. */
function onPeerMediaLost(push) {
  if (ui.callId !== push.call) return;
  $('#call-status').textContent = `La vidéo de l’usager est coupée. Attente de sa reconnexion (jusqu’à ${duration(push.grace_secs)})…`;
}

function onPeerMediaRestored(push) {
  if (ui.callId !== push.call) return;
  $('#call-status').textContent = '';
}

function onCallEnded(push) {
  if (ui.offer && ui.offer.call === push.call) clearOffer();
  if (ui.callId === push.call) endMedia();
  render();
  refreshCalls();
}

function endMedia() {
  ui.media?.close();
  ui.media = null;
  stopMedia(ui.stream);
  ui.stream = null;
  ui.callId = null;
  ui.callStart = 0;
  ui.muted = false;
  ui.cameraOff = false;
  toggle($('#mute'), false);
  toggle($('#camera'), false);
  $('#remote-video').srcObject = null;
  $('#self-video').srcObject = null;
}

// ---- actions --------------------------------------------------------------------------------

async function act(body, button) {
  if (button) button.disabled = true;
  try {
    return await connection.request(body);
  } catch (err) {
    showNet(messageFor(err));
    setTimeout(() => showNet(''), 5000);
    return null;
  } finally {
    if (button) button.disabled = false;
  }
}

function messageFor(err) {
  return (
    {
      no_longer_offered: "Cet appel n'est plus proposé.",
      wrong_state: 'Action impossible dans votre état actuel.',
      disconnected: 'Pas de connexion au serveur.',
    }[err.code] || `Erreur : ${err.message}`
  );
}

async function accept() {
  if (!ui.offer) return;
  const call = ui.offer.call;
  ringer.stop();
  $('#reject').disabled = true;
  const result = await act({ type: 'accept', call }, $('#accept'));
  if (!result) {
    clearOffer();
    render();
  }
}

async function reject() {
  if (!ui.offer) return;
  const call = ui.offer.call;
  ringer.stop();
  $('#accept').disabled = true;
  await act({ type: 'reject', call }, $('#reject'));
  clearOffer();
  render();
}

async function changeState() {
  const value = $('#state-select').value;
  const body = value === 'ready' ? { type: 'set_state', state: 'ready' } : { type: 'set_state', state: 'not_ready', reason: value };
  await act(body);
  render();
}

async function finishWrapUp(event) {
  event.preventDefault();
  const disposition = $('#disposition').value.trim();
  await act({ type: 'wrap_up_done', disposition: disposition || null }, event.submitter);
}

function toggle(button, value) {
  button.setAttribute('aria-pressed', String(value));
}

async function refreshCalls() {
  if (!connection?.online) return;
  let result;
  try {
    result = await connection.request({ type: 'my_calls' });
  } catch {
    return;
  }
  const rows = result.calls
    .slice()
    .reverse()
    .map((call) => {
      const tr = document.createElement('tr');
      const cells = [
        new Date(call.ended_at_ms).toLocaleTimeString('fr-FR', { hour: '2-digit', minute: '2-digit' }),
        call.service_name || call.service,
        call.site || '—',
        OUTCOME_LABEL[call.outcome] || call.outcome,
        duration(call.wait_secs),
        call.talk_secs != null ? duration(call.talk_secs) : '—',
      ];
      cells.forEach((text, i) => {
        const td = document.createElement('td');
        td.textContent = text;
        if (i >= 4) td.className = 'num';
        tr.append(td);
      });
      tr.dataset.call = String(call.call);
      tr.dataset.outcome = call.outcome;
      return tr;
    });
  if (rows.length === 0) {
    const td = document.createElement('td');
    td.colSpan = 6;
    td.className = 'muted';
    td.textContent = "Aucun appel aujourd'hui.";
    rows.push(document.createElement('tr'));
    rows[0].append(td);
  }
  $('#today-rows').replaceChildren(...rows);
  const answered = result.calls.filter((c) => c.outcome === 'answered').length;
  $('#today-count').textContent = `(${result.calls.length} — ${answered} répondu${answered > 1 ? 's' : ''})`;
}

function connect(token) {
  connection?.stop();
  connection = new Connection(token);
  connection.on('status', (status) => {
    document.body.dataset.conn = status;
    $('#conn-text').textContent = { online: 'En ligne', connecting: 'Connexion…', offline: 'Hors ligne', closed: 'Déconnecté' }[status];
    if (status === 'offline') {
      showNet('Connexion au serveur perdue. Nouvelle tentative…');
      clearOffer();
      endMedia();
      ui.state = null;
    }
    if (ui.screen === 'console') render();
  });
  connection.on('welcome', (welcome) => {
    showNet('');
    $('#who').textContent = welcome.subject;
    $('#signout').hidden = false;
    if (welcome.role !== 'agent') {
      connection.stop();
      forgetToken();
      signinError("Ce jeton n'est pas un jeton de conseiller.");
      return;
    }
    setScreen('console');
    render();
    refreshCalls();
  });
  connection.on('fatal', ({ code }) => {
    clearOffer();
    endMedia();
    if (code === 'session_replaced') {
      showNet('Votre session a été ouverte ailleurs (autre onglet ou poste). Rechargez la page pour la reprendre ici.');
      ui.state = null;
      render();
      return;
    }
    forgetToken();
    signinError(code === 'token_expired' ? 'Ce jeton a expiré. Demandez-en un nouveau.' : 'Ce jeton est refusé.');
  });
  connection.on('push:agent_state', onAgentState);
  connection.on('push:offered', onOffered);
  connection.on('push:offer_withdrawn', onOfferWithdrawn);
  connection.on('push:media_ready', onMediaReady);
  connection.on('push:call_ended', onCallEnded);
  connection.on('push:peer_media_lost', onPeerMediaLost);
  connection.on('push:sdp_offer', (push) => {
    if (ui.callId === push.call) ui.media?.answerOffer(push.sdp).catch((err) => console.error('agent: renegotiation', err));
  });
  connection.on('push:peer_media_restored', onPeerMediaRestored);
  connection.start();
}

function signinError(text) {
  $('#signin-error').textContent = text;
  $('#signin-error').hidden = false;
  $('#signout').hidden = true;
  setScreen('signin');
}

function init() {
  bindSigninForm((token) => {
    setScreen('loading');
    connect(token);
  });
  $('#signout').addEventListener('click', () => {
    connection?.stop();
    connection = null;
    clearOffer();
    endMedia();
    forgetToken();
    ui.state = null;
    $('#who').textContent = '';
    $('#signout').hidden = true;
    setScreen('signin');
  });
  $('#state-select').addEventListener('change', changeState);
  $('#accept').addEventListener('click', accept);
  $('#reject').addEventListener('click', reject);
  $('#hangup').addEventListener('click', (event) => act({ type: 'hangup' }, event.currentTarget));
  $('#mute').addEventListener('click', (event) => {
    ui.muted = !ui.muted;
    ui.media?.setAudio(!ui.muted);
    toggle(event.currentTarget, ui.muted);
  });
  $('#camera').addEventListener('click', (event) => {
    ui.cameraOff = !ui.cameraOff;
    ui.media?.setVideo(!ui.cameraOff);
    toggle(event.currentTarget, ui.cameraOff);
  });
  $('#wrapup-form').addEventListener('submit', finishWrapUp);
  // Keyboard shortcuts while ringing: Enter is the focused "Décrocher"; Escape rejects.
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && ui.offer) reject();
  });
  setInterval(tick, 1000);
  exposeTestHooks(pageState, () => ui.media, { ringing: () => ringer.ringing });

  const token = takeToken();
  if (token) connect(token);
  else setScreen('signin');
}

init();
