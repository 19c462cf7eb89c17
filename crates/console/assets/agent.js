// Agent console: sign in with a token, choose a state, answer offered calls (ringing with a
// countdown), talk (video, written chat, who else is in the call: a coaching manager, one who
// joined), transfer the call to another service's queue or to a colleague (at once, or after
// consulting them while the citizen waits on hold), be the colleague consulted, wrap up with a
// disposition code, see today's calls.
import {
  $, AudioFallback, ChatPanel, Connection, QualityMeter, RemoteTiles, bindSigninForm, chooseDevices, chosenDevices, duration,
  browserSession, browserSignOut, exposeTestHooks, fetchDocument, forgetToken, formatSize, getLocalMedia, holdPicture, keepDocument, levelMeter, listDevices, pageCall,
  playTestTone, qualityText, renderLines, secureContext, showQuality, showScreen, stopMedia, takeToken, uploadDocument,
} from '/console/relais.js';

const QUALITY_LABEL = { good: 'Connexion bonne', fair: 'Connexion moyenne', poor: 'Connexion faible', unknown: 'Connexion…' };

/// The call's link quality: the badge over the picture (with the figures) and, when it stays
/// poor, the notice.
const quality = new QualityMeter(
  () => ui.media,
  (sample) => {
    ui.quality = sample;
    const figures = qualityText(sample);
    showQuality(sample, figures ? `${QUALITY_LABEL[sample.quality]} · ${figures}` : QUALITY_LABEL[sample.quality]);
    fallback.sample(sample);
    renderAudioOnly();
  },
);

/// On a link too poor for video, the call goes on in audio only (the citizen's last picture
/// stays on screen), and video comes back when the link is better.
const fallback = new AudioFallback({
  connection: () => connection,
  media: () => ui.media,
  onchange: () => renderAudioOnly(),
});

const AUDIO_ONLY_TEXT = {
  self: "Votre connexion est trop faible pour la vidéo : l'appel continue en audio, avec la dernière image de l'usager. La vidéo reprendra quand la connexion sera meilleure.",
  peer: "La connexion de l'usager est trop faible pour la vidéo : l'appel continue en audio, avec sa dernière image. La vidéo reprendra quand sa connexion sera meilleure.",
};

function renderAudioOnly() {
  const on = ui.media != null && (fallback.on || ui.peerAudioOnly);
  holdPicture($('#remote-video'), $('#remote-still'), on);
  const note = $('#audio-only');
  const text = !on ? '' : fallback.on ? AUDIO_ONLY_TEXT.self : AUDIO_ONLY_TEXT.peer;
  if (note.textContent !== text) note.textContent = text;
  note.hidden = !on;
  if (on) $('#quality-warning').hidden = true;
}

function onPeerAudioOnly(push) {
  if (push.call !== ui.callId || push.role !== 'kiosk') return;
  ui.peerAudioOnly = push.on;
  renderAudioOnly();
}

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
  restart: 'redémarrage du serveur',
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

// The reasons an agent may choose in the state list (the other reasons come from the server).
const OWN_REASONS = ['pause', 'lunch', 'training', 'meeting', 'back_office'];

// Why a connected call ended, as told to the agent (`call_ended` `by` and `reason`).
const END_NOTE = {
  kiosk: { hangup: "L'usager a raccroché.", disconnected: "L'usager a été déconnecté : l'appel est terminé." },
  server: {
    media_lost: "L'appel est coupé : la liaison avec l'usager est perdue.",
    media_failed: "L'appel est coupé : la vidéo n'a pas pu être établie.",
    restart: "L'appel est coupé : le serveur redémarre.",
  },
};

const ROLE_LABEL = {
  kiosk: 'usager',
  agent: 'conseiller',
  supervisor: 'responsable',
  interpreter: 'interprète',
};

// Seconds a "… ne participe plus à la conversation" line stays.
const LEFT_SECS = 8;
// Seconds the outcome of a consultation stays in view (declined, ended, handed over), and a
// note on the idle panel.
const CONSULT_DONE_SECS = 8;

const ui = {
  screen: 'loading',
  ringing: null, // the call whose offer rings with a peer negotiated for it
  services: {}, // id → list_services entry (names, wrap-up codes)
  caseCall: null, // the call whose case the wrap-up form holds
  caseDirty: false,
  caseTimer: 0,
  history: null, // the history search shown, null for today's calls
  state: null, // the last agent_state push
  stateSince: Date.now(),
  offer: null, // {call, service, service_name, site, waited_secs, deadline}
  callId: null,
  callStart: 0,
  callInfo: '',
  callService: null, // the service id of the call offered or in progress
  transfer: null, // the open transfer box: {services, chosen, busy}
  transferred: null, // {call, name}: this agent transferred that call (until its wrap-up ends)
  wrapDeadline: 0,
  wrapTotal: 0,
  stream: null,
  media: null,
  muted: false,
  cameraOff: false,
  subject: '', // this agent, from the welcome
  participants: null, // {call, list}: the others in the call, from the last `participants` push
  left: [], // people who just left the call, shown a few seconds
  leftTimer: 0,
  // A consultation (warm transfer): {side, peer, call, status, busy, cancelled, error}. `side`
  // is `host` for the agent who consults (`peer` the colleague) and `guest` for the colleague
  // consulted (`peer` the agent of the call); `status` one of `ringing`, `joining`, `joined`,
  // `declined`, `ended`, `completed`; `busy` names the request under way.
  consult: null,
  consultTimer: 0,
  consultPeer: '', // the agent who asked this one for the last consultation
  idleNote: '',
  idleTimer: 0,
  chatPaused: false,
  endNote: null, // {call, text}: why the call just ended, shown during its wrap-up
  replaced: false, // this console was opened elsewhere (`session_replaced`)
};

let connection = null;

// The remote pictures: the citizen in the main video, anyone else (a manager) in tiles.
const tiles = new RemoteTiles({
  main: $('#remote-video'),
  container: $('#remote-extra'),
  label: (index) => {
    // During a consultation the citizen is on hold: the colleague's picture takes its place.
    const colleague = colleagueInMain();
    if (index === 0) return colleague ? `${colleague} (conseiller)` : "Vidéo de l'usager";
    // Nobody behind a slot once its person left: the tile hides instead of freezing.
    const person = others().filter((p) => p.role !== 'kiosk' && !(colleague && p.role === 'agent' && p.name === colleague))[index - 1];
    if (!person) return null;
    // A coaching supervisor is heard, not seen.
    return person.mode === 'whisper' ? { name: `${who(person)} — coaching (voix)`, video: false } : who(person);
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
    (err?.code === 'wrong_state' ? "Pas d'appel en cours : message non envoyé." : "Le message n'a pas pu être envoyé. Réessayez."),
});

/// A participant as the agent names them: "Usager", "Sophie (responsable)".
function who(person) {
  const role = ROLE_LABEL[person.role] || person.role;
  if (person.role === 'kiosk' || !person.name) return capitalise(role);
  return `${person.name} (${role})`;
}

/// The others in the current call (the last `participants` push, without this agent).
function others() {
  const current = ui.participants;
  if (!current || current.call !== (ui.callId ?? ui.state?.call)) return [];
  return current.list.filter((p) => !(p.role === 'agent' && p.name === ui.subject));
}

const personKey = (p) => `${p.role}\u0000${p.name}`;

/// The lines above the video: a coaching manager (heard by this agent only), people who joined
/// (a manager who barged in, an interpreter), people who just left.
function renderPeople() {
  const people = others();
  const lines = [];
  const coaches = people.filter((p) => p.role === 'supervisor' && p.mode === 'whisper');
  if (coaches.length > 0) {
    lines.push(['coaching', `Coaching en cours : ${coaches.map((p) => p.name).join(', ')} — l'usager ne l'entend pas.`]);
  }
  const consulted = consultActive()?.peer;
  for (const person of people) {
    if (person.role === 'kiosk' || (person.role === 'supervisor' && person.mode !== 'barge')) continue;
    // The colleague of a consultation has its own banner.
    if (person.role === 'agent' && person.name === consulted) continue;
    lines.push(['joined', `${who(person)} a rejoint l'appel`]);
  }
  for (const person of ui.left) lines.push(['gone', `${who(person)} ne participe plus à la conversation`]);
  renderLines($('#people'), lines);
  tiles.relabel();
  renderMainCaption();
}

/// A caption on the main picture while it is a colleague's, not the citizen's (the video's
/// accessible name says the same).
function renderMainCaption() {
  const colleague = colleagueInMain();
  const caption = $('#main-caption');
  const text = colleague ? `${colleague} (conseiller)` : '';
  if (caption.textContent !== text) caption.textContent = text;
  caption.hidden = !text;
}

function onParticipants(push) {
  const before = others();
  ui.participants = { call: push.call, list: push.participants || [] };
  const now = others();
  if (now.length === 0 && before.length === 0) return renderPeople();
  const present = new Set(now.map(personKey));
  const gone = before.filter((p) => p.role !== 'kiosk' && !present.has(personKey(p)));
  ui.left = ui.left.filter((p) => !present.has(personKey(p)));
  if (gone.length > 0) {
    ui.left.push(...gone);
    clearTimeout(ui.leftTimer);
    ui.leftTimer = setTimeout(() => {
      ui.left = [];
      renderPeople();
    }, LEFT_SECS * 1000);
  }
  renderPeople();
}

function onChat(push) {
  if (push.call !== (ui.callId ?? ui.state?.call)) return;
  chat.add({ name: who({ role: push.from, name: push.name }), text: push.text, at: push.at_ms || Date.now() });
}

/// The page's state for tests and for the body's data-state: signin, offline, not_ready,
/// available, ringing, call, wrap_up.
function pageState() {
  if (ui.screen !== 'console') return ui.screen;
  if (ui.replaced) return 'replaced';
  if (!connection?.online) return 'offline';
  const state = ui.state?.state;
  if (state === 'reserved' || ui.offer) return 'ringing';
  // A transferred call: its leg is gone; the wrap-up follows right after.
  if (state === 'on_call') {
    if (ui.transferred?.call === ui.state.call) return 'wrap_up';
    return ui.callbackTask && ui.callbackTask.call === ui.state.call ? 'callback' : 'call';
  }
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
  if (ui.replaced) return 'Session ouverte ailleurs';
  if (!state) return connection?.online ? '—' : 'Hors ligne';
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

  renderStateSelect();

  $('#replaced-panel').hidden = name !== 'replaced';
  $('#offer-panel').hidden = name !== 'ringing';
  $('#call-panel').hidden = name !== 'call';
  $('#callback-panel').hidden = name !== 'callback';
  if (name === 'callback') renderCallbackTask();
  $('#wrapup-panel').hidden = name !== 'wrap_up';
  $('#idle-panel').hidden = name === 'ringing' || name === 'call' || name === 'callback' || name === 'wrap_up' || name === 'replaced';
  // No call control works without the server (offline, or the session taken over elsewhere).
  const live = Boolean(connection?.online) && !ui.replaced;
  for (const id of ['#hangup', '#mute', '#camera']) {
    if (!live) $(id).disabled = true;
    else if ($(id).dataset.offline === 'true') $(id).disabled = false;
    $(id).dataset.offline = String(!live);
  }
  if (!live) {
    $('#accept').disabled = true;
    $('#reject').disabled = true;
    $('#wrapup-form button[type="submit"]').disabled = true;
  } else if ($('#wrapup-form').dataset.offline === 'true') {
    $('#wrapup-form button[type="submit"]').disabled = false;
  }
  $('#wrapup-form').dataset.offline = String(!live);
  renderMediaButtons();
  $('#idle-text').textContent =
    state?.state === 'available' ? 'Vous êtes disponible : un appel peut arriver à tout moment.' : 'Passez « Disponible » pour recevoir des appels.';
  const idleNote = $('#idle-note');
  if (idleNote.textContent !== ui.idleNote) idleNote.textContent = ui.idleNote;
  idleNote.hidden = !ui.idleNote;
  const note = $('#wrapup-note');
  const noteText = ui.transferred
    ? `Appel transféré vers ${ui.transferred.name}`
    : ui.endNote && ui.endNote.call === state?.call
      ? ui.endNote.text
      : '';
  if (note.textContent !== noteText) note.textContent = noteText;
  note.hidden = !noteText;
  if (name !== 'call' && ui.transfer) closeTransfer({ focus: false });
  // No other transfer and no interpreter while a colleague is consulted.
  const consulting = Boolean(consultActive());
  $('#transfer-open').disabled = !connection?.online || name !== 'call' || consulting;
  $('#interpreter-open').disabled = !connection?.online || name !== 'call' || consulting;
  if (name !== 'call') showInterpreterStatus(null);
  renderConsult();
  renderDocs();
  tick();
}

/// What the agent may ask for now (docs/protocol.md, `set_state`): nothing on a call or
/// without the server; `ready` neither while a call is offered nor when already available;
/// during wrap-up `ready` ends the wrap-up.
function allowedStates() {
  const state = ui.state?.state;
  if (!connection?.online || ui.replaced || !state) return { ready: false, reasons: false };
  if (state === 'on_call') return { ready: false, reasons: false };
  if (state === 'reserved' || ui.offer) return { ready: false, reasons: true };
  if (state === 'available') return { ready: false, reasons: true };
  return { ready: true, reasons: true };
}

/// The label of the state the agent is in, as its list shows it.
function currentStateText() {
  if (ui.replaced) return 'Session ouverte dans un autre onglet';
  if (!connection?.online) return 'Hors ligne';
  const state = ui.state;
  if (!state) return 'Connexion…';
  if (state.state === 'reserved' || ui.offer) return 'Appel entrant';
  if (state.state === 'on_call') return ui.transferred?.call === state.call ? "Fin d'appel" : 'En communication';
  if (state.state === 'not_ready') {
    const reason = state.reason || 'pause';
    return `Indisponible (${REASON_LABEL[reason] || reason})`;
  }
  return STATE_LABEL[state.state] || state.state;
}

/// The state list: the agent's real state selected (from the server's `agent_state`), and only
/// the changes the server takes now.
function renderStateSelect() {
  const select = $('#state-select');
  const current = $('#state-current');
  const state = ui.state;
  const allowed = allowedStates();
  // The state shown as the selected choice when it is one of the list's (available, own pause).
  let shown = null;
  if (connection?.online && !ui.replaced && state && !ui.offer) {
    if (state.state === 'available') shown = 'ready';
    else if (state.state === 'not_ready' && OWN_REASONS.includes(state.reason || 'pause')) shown = state.reason || 'pause';
  }
  for (const option of select.options) {
    if (option === current) continue;
    const ok = option.value === 'ready' ? allowed.ready : allowed.reasons && option.value !== shown;
    const visible = ok || option.value === shown;
    option.disabled = !ok;
    option.hidden = !visible;
    const label = option.value === 'ready' && state?.state === 'wrap_up' ? "Disponible (terminer la fin d'appel)" : option.dataset.label || option.textContent;
    if (!option.dataset.label) option.dataset.label = option.textContent;
    if (option.textContent !== label) option.textContent = label;
  }
  const text = currentStateText();
  if (current.textContent !== text) current.textContent = text;
  current.hidden = shown !== null;
  const value = shown ?? '';
  if (select.value !== value) select.value = value;
  select.disabled = !allowed.ready && !allowed.reasons;
  select.dataset.state = shown ?? (ui.replaced ? 'replaced' : connection?.online ? state?.state || '' : 'offline');
}

/// The microphone and camera toggles: their label, `aria-pressed`, the self-view's notice.
function renderMediaButtons() {
  const mute = $('#mute');
  const muteLabel = ui.muted ? 'Réactiver le micro' : 'Couper le micro';
  if (mute.textContent !== muteLabel) mute.textContent = muteLabel;
  toggle(mute, ui.muted);
  const camera = $('#camera');
  const cameraLabel = ui.cameraOff ? 'Réactiver la caméra' : 'Couper la caméra';
  if (camera.textContent !== cameraLabel) camera.textContent = cameraLabel;
  toggle(camera, ui.cameraOff);
  $('#self-off').hidden = !ui.cameraOff;
}

function capitalise(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/// Updates the clocks once a second: time in state, offer countdown, call timer, wrap-up.
function tick() {
  const now = Date.now();
  // Tiles of participants who joined since play on the chosen loudspeaker too.
  if (ui.media) applySpeaker();
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
  start(title = '📞 Appel entrant !') {
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
      document.title = flip ? title : 'Relais — Console conseiller';
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
  // A callback task is over once its agent is no longer on it; a console reopened during one
  // learns it from the state.
  if (push.state !== 'on_call' && push.state !== 'reserved') ui.callbackTask = null;
  if (push.state === 'on_call' && push.callback && ui.callbackTask?.call !== push.call) {
    ui.callbackTask = { call: push.call, service: '', site: '', ...push.callback };
  }
  // Why the call ended stays for its wrap-up; a service without wrap-up shows it on the idle panel.
  if (ui.endNote && !(push.state === 'wrap_up' && push.call === ui.endNote.call) && !(push.state === 'on_call' && push.call === ui.endNote.call)) {
    if (previous?.state === 'on_call' && push.state !== 'reserved') showIdleNote(ui.endNote.text);
    ui.endNote = null;
  }
  // The note of a transferred call stays for its wrap-up only.
  if (ui.transferred && push.state !== 'wrap_up' && !(push.state === 'on_call' && push.call === ui.transferred.call)) {
    ui.transferred = null;
  }
  // The peer negotiated while the offer rang is the call's now.
  if (push.state === 'on_call' && ui.ringing != null && ui.ringing === push.call) adoptRinging(push.call);
  if (push.state === 'reserved') {
    if (ui.offer && push.remaining_secs != null) ui.offer.deadline = Date.now() + push.remaining_secs * 1000;
  } else {
    clearOffer();
  }
  if (push.state === 'wrap_up' && push.call != null) prepareCase(push.call);
  const restoring = ui.restoring;
  ui.restoring = false;
  if (push.state === 'on_call') {
    if (ui.callId !== push.call) {
      ui.callId = push.call;
      ui.callStart = Date.now();
    }
    // Back on a call after a reload or a blink: negotiate its media again unless it went on.
    const pc = ui.media?.pc;
    if (restoring && !(pc && !['failed', 'closed'].includes(pc.connectionState))) {
      onMediaReady({ call: push.call }).catch((err) => console.error('agent: media of the call given back', err));
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
  // The documents of a call stay through its wrap-up (to keep them), then go.
  const docCall = push.state === 'on_call' || push.state === 'wrap_up' ? push.call ?? null : null;
  if (docCall == null) clearDocs();
  else docsFor(docCall);
  render();
  if (push.state === 'available' && previous?.state === 'wrap_up') refreshCalls();
}

function onOffered(push) {
  const now = Date.now();
  ui.offer = { ...push, received: now, deadline: now + push.deadline_secs * 1000, total: push.deadline_secs * 1000 };
  ui.callInfo = `${push.service_name || push.service}${push.site ? ` — ${push.site}` : ''}`;
  ui.callService = push.service;
  // A colleague who consults this agent about its call (the citizen waits on hold meanwhile).
  const from = push.consult_from || '';
  $('#h-offer').textContent = from ? `Consultation demandée par ${from}` : 'Appel entrant';
  $('#offer-consult').textContent = from
    ? `${from} souhaite vous parler d'un appel en cours avant de vous le transférer ; l'usager est en attente.`
    : '';
  $('#offer-consult').hidden = !from;
  // Offered again after this agent refused or missed it: nobody else could take it.
  $('#offer-again').hidden = !push.again || Boolean(from);
  // What the server noticed of the caller's devices while it waited.
  const warnings = (push.caller_warnings || [])
    .map((w) => ({ microphone_silent: 'micro du demandeur muet', camera_no_picture: 'caméra du demandeur sans image' })[w])
    .filter(Boolean);
  $('#offer-warnings').textContent = warnings.length ? `⚠ ${warnings.join(' ; ')}` : '';
  $('#offer-warnings').hidden = warnings.length === 0;
  // A callback task: no media, the agent phones the citizen back.
  const task = push.callback;
  if (task) $('#h-offer').textContent = 'Rappel à faire';
  $('#offer-callback').textContent = task
    ? `L'usager demande à être rappelé au ${task.phone}${task.not_before_ms ? `, pas avant ${clock(task.not_before_ms)}` : ''}.`
    : '';
  $('#offer-callback').hidden = !task;
  $('#offer-waited-label').hidden = Boolean(from);
  $('#offer-waited').hidden = Boolean(from);
  $('#offer-service').textContent = push.service_name || push.service;
  $('#offer-site').textContent = push.site || '—';
  $('#accept').disabled = false;
  $('#reject').disabled = false;
  showIdleNote('');
  ringer.start(from ? '📞 Consultation demandée !' : task ? '📞 Rappel à faire !' : '📞 Appel entrant !');
  render();
  $('#accept').focus();
}

function clearOffer() {
  // A peer negotiated for an offer that went elsewhere: the server removed its side.
  if (ui.ringing != null) {
    ui.ringing = null;
    ui.media?.close();
    ui.media = null;
  }
  ui.offer = null;
  ringer.stop();
}

function onOfferWithdrawn(push) {
  if (ui.offer && ui.offer.call === push.call) {
    const from = ui.offer.consult_from;
    clearOffer();
    const why = { expired: 'délai de réponse dépassé', call_ended: "l'usager a raccroché", agent_unavailable: 'vous êtes indisponible' }[push.reason] || push.reason;
    if (from) {
      // A consultation withdrawn: its agent went back to the citizen, or the call ended.
      const consultWhy = push.reason === 'call_ended' ? `${from} a repris l'usager` : why;
      showNet(`Consultation retirée : ${consultWhy}.`);
    } else {
      showNet(`Appel retiré : ${why}.`);
    }
    setTimeout(() => showNet(''), 5000);
    render();
  }
}

function mediaStatus(state) {
  return state === 'connected' ? '' : state === 'failed' || state === 'disconnected' ? 'Connexion vidéo perdue…' : 'Connexion de la vidéo…';
}

/// While an offer rings, the call's kiosk waiting with its media: this console negotiates its
/// peer now. Nothing flows on it until the agent accepts (the server subscribes it then).
async function ringMedia(push) {
  const ringing = () => ui.offer && ui.offer.call === push.call && !ui.offer.consult_from;
  if (!ringing() || ui.callId != null) return;
  if (!ui.stream) {
    try {
      ui.stream = await getLocalMedia(chosenDevices());
    } catch (err) {
      console.error('agent: camera/microphone', err);
      return;
    }
  }
  if (!ringing() || ui.callId != null) return;
  ui.media?.close();
  const media = pageCall(
    connection,
    ui.stream,
    (state) => {
      if (ui.callId === push.call) $('#call-status').textContent = mediaStatus(state);
    },
    { tiles },
  );
  ui.media = media;
  ui.ringing = push.call;
  applySpeaker();
  media.setAudio(!ui.muted);
  media.setVideo(!ui.cameraOff);
  try {
    await media.start();
  } catch (err) {
    if (ui.media !== media) return;
    console.error('agent: media while the offer rings', err);
  }
}

/// The agent answered with the peer it negotiated while the offer rang: the call's view.
function adoptRinging(call) {
  ui.ringing = null;
  ui.callId = call;
  if (!ui.callStart) ui.callStart = Date.now();
  $('#call-details').textContent = ui.callInfo;
  $('#call-status').textContent = mediaStatus(ui.media?.pc?.connectionState);
  quality.start();
  setTimeout(() => $('#hangup').focus(), 0);
}

async function onMediaReady(push) {
  if (push.waiting) {
    await ringMedia(push);
    return;
  }
  ui.ringing = null;
  ui.callId = push.call;
  if (!ui.callStart) ui.callStart = Date.now();
  $('#call-details').textContent = ui.callInfo;
  render();
  $('#hangup').focus();
  $('#call-status').textContent = 'Connexion de la vidéo…';
  if (!ui.stream) {
    try {
      ui.stream = await getLocalMedia(chosenDevices());
    } catch (err) {
      console.error('agent: camera/microphone', err);
      $('#call-status').textContent = mediaError(err);
    }
  }
  if (ui.callId !== push.call) return;
  ui.media?.close();
  renderPeople();
  const media = pageCall(
    connection,
    ui.stream,
    (state) => {
      $('#call-status').textContent = state === 'connected' ? '' : state === 'failed' || state === 'disconnected' ? 'Connexion vidéo perdue…' : 'Connexion de la vidéo…';
    },
    { tiles },
  );
  ui.media = media;
  quality.start();
  applySpeaker();
  media.setAudio(!ui.muted);
  media.setVideo(!ui.cameraOff);
  try {
    await media.start();
    // A new connection in a call gone audio only sends no video either.
    if (fallback.on && ui.media === media) await media.pauseVideo(true);
  } catch (err) {
    // The call (or a consultation) ended meanwhile: nothing to report.
    if (ui.media !== media) return;
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

/// The kiosk's connection to the server dropped (its media may go on) or came back.
function onPeerSignalling(push) {
  if (ui.callId !== push.call || push.role !== 'kiosk') return;
  const text = push.online ? '' : 'Signal interrompu côté usager : l’appel reste ouvert le temps de sa reconnexion.';
  $('#call-status').textContent = text;
}

function onCallEnded(push) {
  if (ui.offer && ui.offer.call === push.call) clearOffer();
  const mine = ui.callId === push.call || ((ui.state?.state === 'on_call' || ui.state?.state === 'wrap_up') && ui.state.call === push.call);
  const text = mine && ui.transferred?.call !== push.call ? END_NOTE[push.by]?.[push.reason] : null;
  if (text) {
    ui.endNote = { call: push.call, text };
    announce(text);
  }
  if (ui.callId === push.call) endMedia();
  render();
  refreshCalls();
}

/** This agent handed the call to another service's queue: its leg is gone, wrap-up follows. */
function onCallTransferred(push) {
  if (push.call !== (ui.callId ?? ui.state?.call)) return;
  // To a colleague (at once or after consulting them): that colleague is named.
  ui.transferred = { call: push.call, name: push.agent || push.service_name || push.to };
  closeTransfer({ focus: false });
  endMedia();
  render();
  if (!$('#wrapup-panel').hidden) $('#disposition').focus();
}

/// Says `text` once to screen readers (a status region that stays in the page).
function announce(text) {
  const region = $('#announce');
  region.textContent = '';
  setTimeout(() => {
    region.textContent = text;
  }, 50);
}

function endMedia() {
  closeTransfer({ focus: false });
  clearConsult();
  ui.media?.close();
  ui.media = null;
  quality.stop();
  ui.quality = null;
  showQuality(null);
  stopMedia(ui.stream);
  ui.stream = null;
  ui.callId = null;
  ui.callStart = 0;
  ui.muted = false;
  ui.cameraOff = false;
  renderMediaButtons();
  tiles.clear();
  $('#remote-video').srcObject = null;
  $('#self-video').srcObject = null;
  ui.participants = null;
  ui.left = [];
  clearTimeout(ui.leftTimer);
  renderPeople();
  chat.clear();
  fallback.reset();
  ui.peerAudioOnly = false;
  renderAudioOnly();
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
    // Left disabled when the connection went meanwhile (or the session was opened elsewhere).
    if (button) button.disabled = !connection?.online || ui.replaced;
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
  const from = ui.offer.consult_from;
  ringer.stop();
  $('#reject').disabled = true;
  // A consultation: this agent joins the colleague's call while the citizen waits.
  let consult = null;
  if (from) {
    clearConsult();
    ui.consultPeer = from;
    consult = { side: 'guest', peer: from, call: null, status: 'joining', busy: null, cancelled: false, error: '' };
    ui.consult = consult;
  }
  const task = ui.offer.callback ? { call, service: ui.offer.service_name || ui.offer.service, site: ui.offer.site, ...ui.offer.callback } : null;
  if (task) ui.callbackTask = task;
  const result = await act({ type: 'accept', call }, $('#accept'));
  if (!result) {
    if (task && ui.callbackTask === task) ui.callbackTask = null;
    if (consult && ui.consult === consult) ui.consult = null;
    clearOffer();
    render();
  }
}

/// A time of day (Unix ms) as the agent reads it: 14 h 05.
function clock(ms) {
  const at = new Date(ms);
  return `${at.getHours()} h ${String(at.getMinutes()).padStart(2, '0')}`;
}

function renderCallbackTask() {
  const task = ui.callbackTask;
  if (!task) return;
  const link = $('#callback-phone');
  link.textContent = task.phone;
  link.href = `tel:${task.phone.replace(/\s+/g, '')}`;
  $('#callback-service').textContent = task.service || '';
  $('#callback-site').textContent = task.site || '—';
  $('#callback-asked').textContent = clock(task.requested_at_ms);
  $('#callback-not-before-label').hidden = !task.not_before_ms;
  $('#callback-not-before').hidden = !task.not_before_ms;
  $('#callback-not-before').textContent = task.not_before_ms ? clock(task.not_before_ms) : '';
}

/// The agent says what came of the callback: the task ends and the wrap-up follows.
async function callbackDone(result, button) {
  const task = ui.callbackTask;
  if (!task) return;
  $('#callback-error').hidden = true;
  const done = await act({ type: 'callback_done', call: task.call, result }, button);
  if (!done) {
    $('#callback-error').textContent = "Le résultat n'a pas été enregistré. Réessayez.";
    $('#callback-error').hidden = false;
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

// ---- transfer -------------------------------------------------------------------------------

const TRANSFER_ERROR = {
  transfer_refused: 'Transfert impossible : ce service est fermé ou complet.',
  unknown_service: "Transfert impossible : ce service n'existe plus.",
  wrong_state: "Transfert impossible : aucun appel n'est en cours.",
  disconnected: 'Pas de connexion au serveur : le transfert n’a pas été fait.',
  timeout: 'Le serveur ne répond pas : le transfert n’a peut-être pas été fait.',
};

/// What the box says and sends: a transfer to another service, or an interpreter added from
/// an interpreter service (the call goes on with three participants).
const BOX = {
  transfer: {
    opener: '#transfer-open',
    title: "Transférer l'appel",
    help: "L'usager reste en ligne et attend un conseiller du service choisi ; vous passez en fin d'appel.",
    legend: 'Vers quel service ?',
    empty: "Aucun autre service n'est ouvert en ce moment.",
    confirm: (name) => `Transférer vers ${name}`,
    idle: 'Confirmer le transfert',
    // A colleague is listed as `agent:<login>` beside the services.
    request: (chosen) =>
      chosen.startsWith('agent:') ? { type: 'transfer', agent: chosen.slice(6) } : { type: 'transfer', service: chosen },
    shows: (s) => s.open && !s.interpreter && s.id !== ui.callService,
  },
  interpreter: {
    opener: '#interpreter-open',
    title: 'Ajouter un interprète',
    help: "Un interprète du service choisi rejoint l'appel : l'usager, vous et l'interprète vous voyez et vous entendez.",
    legend: "Quel service d'interprétation ?",
    empty: "Aucun service d'interprétation n'est ouvert en ce moment.",
    confirm: (name) => `Demander : ${name}`,
    idle: "Demander l'interprète",
    request: (service) => ({ type: 'add_interpreter', service }),
    shows: (s) => s.open && s.interpreter,
  },
};

const INTERPRETER_ERROR = {
  unknown_service: "Demande impossible : ce service d'interprétation n'existe plus.",
  service_closed: "Demande impossible : ce service d'interprétation est fermé.",
  queue_full: "Demande impossible : trop de demandes attendent dans ce service.",
  wrong_state: 'Un interprète est déjà demandé pour cet appel, ou aucun appel n’est en cours.',
  disconnected: 'Pas de connexion au serveur : la demande n’a pas été faite.',
  timeout: 'Le serveur ne répond pas : la demande n’a peut-être pas été faite.',
};

const INTERPRETER_STATUS = {
  waiting: (name) => `Interprète demandé (${name}) : en attente d'un interprète…`,
  joined: (name) => `Un interprète (${name}) a rejoint l'appel.`,
  left: (name) => `L'interprète (${name}) a quitté l'appel.`,
  unavailable: (name) => `Aucun interprète (${name}) n'est disponible pour le moment.`,
};

/// Opens the box with the services open now: for a transfer, the call's own one left out;
/// for an interpreter, the interpreter services.
async function openTransfer(kind = 'transfer') {
  if (ui.transfer || pageState() !== 'call' || consultActive()) return;
  // A colleague is handed the call at once unless the agent chooses to consult them first.
  ui.transfer = { kind, services: null, chosen: null, busy: false, mode: 'blind' };
  $('[data-testid="transfer-mode-blind"]').checked = true;
  const box = BOX[kind];
  $('#h-transfer').textContent = box.title;
  $('#transfer-help').textContent = box.help;
  $('#transfer-legend').textContent = box.legend;
  $('#transfer-box').hidden = false;
  $(box.opener).setAttribute('aria-expanded', 'true');
  showTransferError('');
  renderTransfer();
  $('#h-transfer').focus();
  await loadTransferServices();
}

async function loadTransferServices() {
  const transfer = ui.transfer;
  let services;
  try {
    services = (await connection.request({ type: 'list_services' })).services || [];
  } catch {
    if (ui.transfer !== transfer) return;
    transfer.services = [];
    renderTransfer();
    showTransferError('La liste des services est indisponible. Réessayez.');
    return;
  }
  // For a transfer, the colleagues available now too (a failure leaves the services alone).
  let colleagues = [];
  if (transfer.kind === 'transfer') {
    try {
      colleagues = (await connection.request({ type: 'list_agents' })).agents || [];
    } catch {
      colleagues = [];
    }
  }
  if (ui.transfer !== transfer) return;
  ui.interpreterServices = Object.fromEntries(services.filter((s) => s.interpreter).map((s) => [s.id, s.name]));
  transfer.services = services
    .filter(BOX[transfer.kind].shows)
    .concat(colleagues.map((login) => ({ id: `agent:${login}`, name: `${login} (collègue disponible)` })));
  if (!transfer.services.some((s) => s.id === transfer.chosen)) transfer.chosen = null;
  renderTransfer();
  const first = $('#transfer-services input');
  if (first && $('#transfer-box').contains(document.activeElement)) first.focus();
}

function closeTransfer({ focus = true } = {}) {
  if (!ui.transfer) return;
  const opener = BOX[ui.transfer.kind].opener;
  ui.transfer = null;
  $('#transfer-box').hidden = true;
  $(opener).setAttribute('aria-expanded', 'false');
  $('#transfer-services').replaceChildren();
  showTransferError('');
  if (focus) $(opener).focus();
}

/// Where the request for an interpreter stands (hidden with no text).
function showInterpreterStatus(text) {
  const line = $('#interpreter-status');
  line.textContent = text || '';
  line.hidden = !text;
}

function showTransferError(text) {
  $('#transfer-error').textContent = text;
  $('#transfer-error').hidden = !text;
}

function renderTransfer() {
  const transfer = ui.transfer;
  if (!transfer) return;
  const list = $('#transfer-services');
  const empty = $('#transfer-empty');
  if (transfer.services === null) {
    empty.textContent = 'Chargement des services…';
    empty.hidden = false;
    list.replaceChildren();
  } else {
    empty.textContent = transfer.services.length === 0 ? BOX[transfer.kind].empty : '';
    empty.hidden = transfer.services.length > 0;
    const items = transfer.services.map((service) => {
      const input = document.createElement('input');
      input.type = 'radio';
      input.name = 'transfer-service';
      input.value = service.id;
      input.checked = transfer.chosen === service.id;
      input.dataset.testid = `transfer-service-${service.id}`;
      input.addEventListener('change', () => {
        transfer.chosen = service.id;
        renderTransferButton();
      });
      const name = document.createElement('span');
      name.textContent = service.name;
      const label = document.createElement('label');
      label.className = 'transfer-option';
      label.append(input, name);
      const li = document.createElement('li');
      li.append(label);
      return li;
    });
    list.replaceChildren(...items);
  }
  renderTransferButton();
}

function renderTransferButton() {
  const transfer = ui.transfer;
  const button = $('#transfer-confirm');
  const service = transfer?.services?.find((s) => s.id === transfer.chosen);
  button.disabled = !service || transfer.busy;
  const box = BOX[transfer?.kind || 'transfer'];
  // To a colleague: at once, or consult them first (a warm transfer).
  const colleague = transfer?.kind === 'transfer' && service?.id.startsWith('agent:') ? service.id.slice(6) : null;
  $('#transfer-mode').hidden = !colleague;
  for (const input of document.querySelectorAll('#transfer-mode input')) input.disabled = Boolean(transfer?.busy);
  if (colleague && transfer.mode === 'warm') button.textContent = `Consulter ${colleague}`;
  else button.textContent = service ? box.confirm(service.name) : box.idle;
  $('#transfer-cancel').disabled = Boolean(transfer?.busy);
}

async function confirmTransfer(event) {
  event.preventDefault();
  const transfer = ui.transfer;
  if (!transfer || transfer.busy || !transfer.chosen) return;
  if (transfer.kind === 'transfer' && transfer.mode === 'warm' && transfer.chosen.startsWith('agent:')) {
    await startConsult(transfer, transfer.chosen.slice(6));
    return;
  }
  transfer.busy = true;
  showTransferError('');
  renderTransferButton();
  try {
    await connection.request(BOX[transfer.kind].request(transfer.chosen));
    // A transfer: `call_transferred` closes the call view (before or after this reply). An
    // interpreter: the box closes; `interpreter_status` tells where the request stands.
    if (transfer.kind === 'interpreter' && ui.transfer === transfer) {
      closeTransfer();
      return;
    }
  } catch (err) {
    if (ui.transfer !== transfer) return;
    transfer.busy = false;
    const errors = transfer.kind === 'interpreter' ? INTERPRETER_ERROR : TRANSFER_ERROR;
    const prefix = transfer.kind === 'interpreter' ? 'Demande impossible' : 'Transfert impossible';
    showTransferError(errors[err.code] || `${prefix} : ${err.message}`);
    renderTransferButton();
    // The list may have changed (a service closed meanwhile).
    if (err.code === 'transfer_refused' || err.code === 'unknown_service') loadTransferServices();
    return;
  }
  if (ui.transfer === transfer) {
    transfer.busy = false;
    renderTransferButton();
  }
}

// ---- consultation (warm transfer) -----------------------------------------------------------

const CONSULT_ERROR = {
  transfer_refused: "Consultation impossible : ce collègue n'est plus disponible.",
  wrong_state: "Consultation impossible : un collègue est déjà consulté, ou aucun appel n'est en cours.",
  disconnected: 'Pas de connexion au serveur : la consultation n’a pas été demandée.',
  timeout: 'Le serveur ne répond pas : la consultation a peut-être été demandée.',
};

/// What the banner says, for the agent who consults (`host`) and the colleague (`guest`).
const CONSULT_TEXT = {
  host: {
    title: (c) => (consultActive() ? `Consultation de ${c.peer} — l'usager est en attente` : `Consultation de ${c.peer} terminée`),
    status: (c) =>
      ({
        ringing: `Appel de ${c.peer}…`,
        joined: `${c.peer} est en ligne avec vous`,
        declined: c.cancelled ? "Consultation annulée — l'usager est de nouveau en ligne" : `${c.peer} n'a pas répondu — l'usager est de nouveau en ligne`,
        ended: !c.cancelled
          ? `${c.peer} a mis fin à la consultation — l'usager est de nouveau en ligne`
          : c.joinedOnce
            ? "Consultation terminée — l'usager est de nouveau en ligne"
            : "Consultation annulée — l'usager est de nouveau en ligne",
      })[c.status] || '',
  },
  guest: {
    title: (c) => (c.status === 'completed' ? `${c.peer} vous a transféré l'appel` : `Consultation avec ${c.peer} — l'usager est en attente`),
    status: (c) =>
      ({
        joining: 'Connexion…',
        joined: `Vous êtes en ligne avec ${c.peer}, qui peut vous transférer l'appel.`,
        completed: "L'usager est en ligne avec vous.",
      })[c.status] || '',
  },
};

/// The consultation under way (not one that just ended), or null.
function consultActive() {
  const c = ui.consult;
  return c && (c.status === 'ringing' || c.status === 'joining' || c.status === 'joined') ? c : null;
}

/// The colleague whose picture comes in the main video: during a consultation the citizen is
/// on hold and sends nothing, and the colleague's video takes its receive slot.
function colleagueInMain() {
  const c = consultActive();
  if (!c || c.status !== 'joined') return null;
  return others().some((p) => p.role === 'kiosk') ? null : c.peer;
}

function clearConsult() {
  clearTimeout(ui.consultTimer);
  ui.consultTimer = 0;
  ui.consult = null;
}

/// The banner keeps the outcome of consultation `c` in view a few seconds.
function lingerConsult(c) {
  clearTimeout(ui.consultTimer);
  ui.consultTimer = setTimeout(() => {
    if (ui.consult !== c) return;
    const hadFocus = $('#consult').contains(document.activeElement);
    clearConsult();
    render();
    if (hadFocus && pageState() === 'call') $('#transfer-open').focus();
  }, CONSULT_DONE_SECS * 1000);
}

function showIdleNote(text) {
  clearTimeout(ui.idleTimer);
  ui.idleNote = text || '';
  if (text) {
    ui.idleTimer = setTimeout(() => {
      ui.idleNote = '';
      render();
    }, CONSULT_DONE_SECS * 1000);
  }
}

function renderConsult() {
  const c = ui.consult;
  const active = consultActive();
  const inCall = pageState() === 'call';
  const box = $('#consult');
  box.hidden = !c || !inCall;
  // The written chat pauses while the citizen is on hold (the server refuses messages).
  const paused = Boolean(active) && inCall;
  if (ui.chatPaused !== paused) {
    ui.chatPaused = paused;
    $('#chat-input').disabled = paused;
    $('#chat-form button[type="submit"]').disabled = paused;
  }
  const hint = paused ? "Messages écrits en pause : l'usager est en attente." : '';
  if ($('#chat-hint').textContent !== hint) $('#chat-hint').textContent = hint;
  $('#chat-hint').hidden = !hint;
  const hangup = active?.side === 'guest' ? 'Terminer la consultation' : 'Raccrocher';
  if ($('#hangup').textContent !== hangup) $('#hangup').textContent = hangup;
  // The citizen's last picture, frozen while it waits for the colleague to answer: covered.
  const cover = active?.side === 'host' && active.status === 'ringing' && inCall;
  $('#remote-hold').hidden = !cover;
  $('#remote-hold-text').textContent = cover ? "L'usager est en attente : il ne vous voit pas et ne vous entend pas." : '';
  tiles.relabel();
  renderMainCaption();
  if (!c) return;
  const text = CONSULT_TEXT[c.side];
  const title = text.title(c);
  if ($('#h-consult').textContent !== title) $('#h-consult').textContent = title;
  const status = text.status(c);
  if ($('#consult-status').textContent !== status) $('#consult-status').textContent = status;
  box.dataset.status = active ? c.status : 'done';
  box.dataset.side = c.side;
  $('#consult-actions').hidden = !(c.side === 'host' && active);
  const complete = $('#consult-complete');
  complete.disabled = c.status !== 'joined' || Boolean(c.busy);
  const label = c.busy === 'complete' ? 'Transfert en cours…' : `Transférer l'appel à ${c.peer}`;
  if (complete.textContent !== label) complete.textContent = label;
  $('#consult-cancel').disabled = Boolean(c.busy);
  $('#consult-error').textContent = c.error || '';
  $('#consult-error').hidden = !c.error;
}

/// Asks colleague `peer` to join: the citizen goes on hold, the colleague is offered the
/// consultation.
async function startConsult(transfer, peer) {
  transfer.busy = true;
  showTransferError('');
  renderTransferButton();
  try {
    await connection.request({ type: 'consult', agent: peer });
  } catch (err) {
    if (ui.transfer !== transfer) return;
    transfer.busy = false;
    showTransferError(CONSULT_ERROR[err.code] || `Consultation impossible : ${err.message}`);
    renderTransferButton();
    if (err.code === 'transfer_refused') loadTransferServices();
    return;
  }
  // `consult_status` may have come before this reply.
  if (consultActive()?.side !== 'host') {
    clearConsult();
    ui.consult = { side: 'host', peer, call: ui.callId, status: 'ringing', busy: null, cancelled: false, error: '' };
  }
  closeTransfer({ focus: false });
  render();
  $('#h-consult').focus();
}

function onConsultStatus(push) {
  // The colleague consulted hears of its own part (`agent` names it).
  if (push.agent === ui.subject) {
    const peer = ui.consult?.side === 'guest' ? ui.consult.peer : ui.consultPeer || 'votre collègue';
    if (push.status === 'joined') {
      clearConsult();
      ui.consult = { side: 'guest', peer, call: push.call, status: 'joined', busy: null, cancelled: false, error: '' };
    } else if (push.status === 'completed') {
      clearConsult();
      const c = { side: 'guest', peer, call: push.call, status: 'completed', busy: null, cancelled: false, error: '' };
      ui.consult = c;
      lingerConsult(c);
    } else if (push.status === 'ended') {
      clearConsult();
      showIdleNote(`Consultation avec ${peer} terminée.`);
    }
    render();
    return;
  }
  if (push.call !== (ui.callId ?? ui.state?.call)) return;
  // Handed over: `call_transferred` closes the call view.
  if (push.status === 'completed') {
    clearConsult();
    render();
    return;
  }
  const current = consultActive();
  const same = current?.side === 'host' && current.peer === push.agent;
  const c = same ? current : { side: 'host', peer: push.agent, call: push.call, status: null, busy: null, cancelled: false, error: '' };
  if (!same) clearConsult();
  c.status = push.status;
  if (push.status === 'joined') c.joinedOnce = true;
  c.call = push.call;
  ui.consult = c;
  const hadFocus = $('#consult').contains(document.activeElement);
  if (push.status === 'declined' || push.status === 'ended') {
    c.busy = null;
    c.error = '';
    lingerConsult(c);
  }
  render();
  if (push.status === 'joined' && (hadFocus || document.activeElement === document.body)) $('#consult-complete').focus();
  // The buttons are gone: the focus stays on the banner, whose status says what happened.
  if ((push.status === 'declined' || push.status === 'ended') && hadFocus) $('#h-consult').focus();
}

async function completeConsult() {
  const c = consultActive();
  if (!c || c.side !== 'host' || c.status !== 'joined' || c.busy) return;
  c.busy = 'complete';
  c.error = '';
  renderConsult();
  try {
    await connection.request({ type: 'complete_transfer' });
  } catch (err) {
    if (ui.consult !== c) return;
    c.busy = null;
    c.error =
      err.code === 'wrong_state'
        ? `Transfert impossible : ${c.peer} n'est pas (ou plus) en ligne avec vous.`
        : err.code === 'disconnected'
          ? 'Pas de connexion au serveur : le transfert n’a pas été fait.'
          : `Transfert impossible : ${err.message}`;
    renderConsult();
    $('#consult-complete').focus();
  }
  // Done: `call_transferred` ends this agent's part of the call.
}

async function cancelConsult() {
  const c = consultActive();
  if (!c || c.side !== 'host' || c.busy) return;
  c.busy = 'cancel';
  c.cancelled = true;
  c.error = '';
  renderConsult();
  try {
    await connection.request({ type: 'cancel_consult' });
  } catch (err) {
    if (ui.consult !== c) return;
    c.busy = null;
    // wrong_state: the consultation ended meanwhile; its `consult_status` says how.
    if (err.code !== 'wrong_state') {
      c.cancelled = false;
      c.error = err.code === 'disconnected' ? 'Pas de connexion au serveur.' : `Action impossible : ${err.message}`;
    }
    renderConsult();
  }
}

async function changeState() {
  const select = $('#state-select');
  const chosen = select.selectedOptions[0];
  const value = select.value;
  // Only the changes offered now (a disabled choice cannot be taken).
  if (!chosen || chosen.disabled || !value) {
    render();
    return;
  }
  const body = value === 'ready' ? { type: 'set_state', state: 'ready' } : { type: 'set_state', state: 'not_ready', reason: value };
  await act(body);
  render();
}

async function finishWrapUp(event) {
  event.preventDefault();
  const submitter = event.submitter;
  // The case is saved first: the call closes to notes when its wrap-up ends.
  if (ui.caseDirty && !(await saveCase())) return;
  const disposition = $('#disposition').value.trim();
  if (submitter) submitter.disabled = true;
  try {
    await connection.request({ type: 'wrap_up_done', disposition: disposition || null });
  } catch (err) {
    if (err.code === 'bad_request' && disposition) {
      // A code the service does not list: the agent picks one of its codes.
      const codes = ui.services[ui.callService]?.dispositions || [];
      $('#case-status').textContent = `Code de clôture inconnu : « ${disposition} ». Choisissez : ${codes.join(', ')}.`;
      $('#disposition').focus();
    } else {
      showNet(messageFor(err));
      setTimeout(() => showNet(''), 5000);
    }
  } finally {
    if (submitter) submitter.disabled = !connection?.online || ui.replaced;
  }
}

// ---- devices: microphone, camera and loudspeaker, chosen and tried ---------------------------

const devices = { preview: null, stopMeter: () => {} };

async function openDevices() {
  $('#devices-panel').hidden = false;
  $('#devices-open').setAttribute('aria-expanded', 'true');
  $('#devices-error').hidden = true;
  await previewDevices();
  await fillDeviceLists();
  $('#mic-select').focus();
}

function closeDevices() {
  devices.stopMeter();
  devices.stopMeter = () => {};
  stopMedia(devices.preview);
  devices.preview = null;
  $('#device-preview').srcObject = null;
  $('#devices-panel').hidden = true;
  $('#devices-open').setAttribute('aria-expanded', 'false');
  $('#devices-open').focus();
}

/// The chosen camera and microphone in the preview and the level meter (the call's own stream
/// when a call is in progress: the browser may not open a camera twice).
async function previewDevices() {
  devices.stopMeter();
  stopMedia(devices.preview);
  devices.preview = null;
  let stream = ui.stream;
  if (!stream) {
    try {
      stream = devices.preview = await getLocalMedia(chosenDevices());
    } catch (err) {
      $('#devices-error').textContent =
        err?.name === 'InsecureContextError'
          ? 'HTTPS requis — contactez votre administrateur. Sans adresse https://, le navigateur refuse la caméra et le micro.'
          : "La caméra ou le micro n'est pas disponible. Vérifiez qu'ils sont branchés et autorisés pour ce site.";
      $('#devices-error').hidden = false;
      console.error('agent: devices', err);
      return;
    }
  }
  $('#device-preview').srcObject = stream;
  devices.stopMeter = levelMeter(stream, (level) => {
    $('#device-level').style.width = `${Math.round(level * 100)}%`;
    $('#device-level').dataset.level = level.toFixed(2);
  });
}

async function fillDeviceLists() {
  let found;
  try {
    found = await listDevices();
  } catch {
    return;
  }
  const chosen = chosenDevices();
  const inUse = (kind) => (devices.preview || ui.stream)?.getTracks().find((t) => t.kind === kind)?.getSettings().deviceId;
  const fill = (select, list, current, fallback) => {
    select.replaceChildren(
      ...list.map((d, i) => Object.assign(document.createElement('option'), { value: d.deviceId, textContent: d.label || `${fallback} ${i + 1}` })),
    );
    if (current && list.some((d) => d.deviceId === current)) select.value = current;
  };
  fill($('#mic-select'), found.audioinput, inUse('audio') || chosen.audioInput, 'Micro');
  fill($('#camera-select'), found.videoinput, inUse('video') || chosen.videoInput, 'Caméra');
  const canChoose = 'setSinkId' in HTMLMediaElement.prototype && found.audiooutput.length > 0;
  $('#speaker-select').hidden = !canChoose;
  $('label[for="speaker-select"]').hidden = !canChoose;
  $('#speaker-note').hidden = canChoose;
  if (canChoose) fill($('#speaker-select'), found.audiooutput, chosen.audioOutput, 'Haut-parleur');
}

/// A device chosen: kept, shown in the preview, and sent in the call in progress at once.
async function deviceChosen() {
  const choice = {
    ...chosenDevices(),
    audioInput: $('#mic-select').value || undefined,
    videoInput: $('#camera-select').value || undefined,
    audioOutput: $('#speaker-select').hidden ? undefined : $('#speaker-select').value || undefined,
  };
  chooseDevices(choice);
  applySpeaker();
  if (ui.stream && ui.media) {
    try {
      const fresh = await getLocalMedia(choice);
      const old = ui.stream;
      await ui.media.useStream(fresh);
      ui.stream = fresh;
      ui.media.setAudio(!ui.muted);
      ui.media.setVideo(!ui.cameraOff);
      $('#self-video').srcObject = fresh;
      stopMedia(old);
    } catch (err) {
      console.error('agent: device change', err);
      $('#devices-error').textContent = "Cet appareil n'a pas pu être utilisé pour l'appel.";
      $('#devices-error').hidden = false;
    }
  }
  await previewDevices();
}

/// The call's sound on the chosen loudspeaker, where the browser can choose one.
function applySpeaker() {
  const sink = chosenDevices().audioOutput;
  if (!sink) return;
  for (const video of document.querySelectorAll('#call-panel video:not([muted])')) {
    if (video.setSinkId && video.sinkId !== sink) video.setSinkId(sink).catch((err) => console.error('agent: loudspeaker', err));
  }
}

async function testSpeaker() {
  try {
    await playTestTone(chosenDevices().audioOutput);
  } catch (err) {
    console.error('agent: loudspeaker test', err);
    $('#devices-error').textContent = "Le son d'essai n'a pas pu être joué.";
    $('#devices-error').hidden = false;
  }
}

// ---- the case of the call: reference and notes, saved as the agent types -------------------

/// A new call to wrap up: an empty form, and the codes of its service.
function prepareCase(call) {
  if (ui.caseCall === call) return;
  ui.caseCall = call;
  ui.caseDirty = false;
  clearTimeout(ui.caseTimer);
  $('#disposition').value = '';
  $('#case-ref').value = '';
  $('#case-notes').value = '';
  $('#case-status').textContent = '';
  const codes = ui.services[ui.callService]?.dispositions || [];
  $('#dispositions').replaceChildren(...codes.map((code) => Object.assign(document.createElement('option'), { value: code })));
}

function caseEdited() {
  ui.caseDirty = true;
  $('#case-status').textContent = '';
  clearTimeout(ui.caseTimer);
  ui.caseTimer = setTimeout(() => saveCase(), 800);
}

/// Sends the case reference and notes of the call in wrap-up; true when they are stored.
async function saveCase() {
  clearTimeout(ui.caseTimer);
  const call = ui.caseCall;
  if (call == null || !connection?.online) return false;
  const body = { type: 'case_note', call, case_ref: $('#case-ref').value.trim() || null, notes: $('#case-notes').value.trim() || null };
  ui.caseDirty = false;
  try {
    await connection.request(body);
    if (ui.caseCall === call) $('#case-status').textContent = 'Dossier et notes enregistrés.';
    return true;
  } catch (err) {
    if (ui.caseCall === call) {
      ui.caseDirty = true;
      $('#case-status').textContent =
        err.code === 'wrong_state' ? "La fin d'appel est terminée : ces notes n'ont pas pu être enregistrées." : "Les notes n'ont pas pu être enregistrées. Réessayez.";
    }
    return false;
  }
}

// ---- the agent's calls: today, or a search of its history ------------------------------------

/// The search of the history form, or null for today's calls.
function historySearch() {
  const day = (value, next = false) => {
    if (!value) return null;
    const at = new Date(`${value}T00:00:00`);
    if (next) at.setDate(at.getDate() + 1);
    return at.getTime();
  };
  const search = {
    from_ms: day($('#history-from').value),
    to_ms: day($('#history-to').value, true),
    service: $('#history-service').value || null,
    case_ref: $('#history-case').value.trim() || null,
  };
  return Object.values(search).some((v) => v != null) ? search : null;
}

function searchHistory(event) {
  event.preventDefault();
  ui.history = historySearch();
  refreshCalls();
}

function historyToday() {
  $('#history-form').reset();
  ui.history = null;
  refreshCalls();
}

/// The services (names, wrap-up codes) for the forms.
async function loadServices() {
  try {
    const services = (await connection.request({ type: 'list_services' })).services || [];
    ui.services = Object.fromEntries(services.map((s) => [s.id, s]));
    const select = $('#history-service');
    const chosen = select.value;
    select.replaceChildren(
      Object.assign(document.createElement('option'), { value: '', textContent: 'Tous' }),
      ...services.filter((s) => !s.interpreter).map((s) => Object.assign(document.createElement('option'), { value: s.id, textContent: s.name })),
    );
    select.value = chosen;
  } catch {
    // The forms keep what they had; the next sign-in tries again.
  }
}

function toggle(button, value) {
  button.setAttribute('aria-pressed', String(value));
}

async function refreshCalls() {
  if (!connection?.online) return;
  let result;
  const search = ui.history;
  try {
    result = await connection.request({ type: 'my_calls', ...(search || {}) });
  } catch (err) {
    if (search) {
      $('#history-error').textContent = err.code === 'bad_request' ? err.message : 'La recherche est indisponible pour le moment.';
      $('#history-error').hidden = false;
    }
    return;
  }
  if (search !== ui.history) return;
  $('#history-error').hidden = true;
  $('#history-today').hidden = !search;
  $('#h-today').firstChild.textContent = search ? 'Mes appels — recherche ' : 'Mes appels du jour ';
  // Today's calls come oldest first, a search newest first: the newest is on top either way.
  const calls = search ? result.calls.slice() : result.calls.slice().reverse();
  const rows = calls.map((call) => {
      const tr = document.createElement('tr');
      const ended = new Date(call.ended_at_ms);
      const cells = [
        search
          ? ended.toLocaleString('fr-FR', { day: '2-digit', month: '2-digit', year: 'numeric', hour: '2-digit', minute: '2-digit' })
          : ended.toLocaleTimeString('fr-FR', { hour: '2-digit', minute: '2-digit' }),
        call.service_name || call.service,
        call.site || '—',
        OUTCOME_LABEL[call.outcome] || call.outcome,
        duration(call.wait_secs),
        call.talk_secs != null ? duration(call.talk_secs) : '—',
        call.disposition || '—',
        call.case_ref || '—',
        call.notes || '',
      ];
      cells.forEach((text, i) => {
        const td = document.createElement('td');
        td.textContent = text;
        if (i === 4 || i === 5) td.className = 'num';
        if (i === 8) td.className = 'notes';
        tr.append(td);
      });
      const kept = document.createElement('td');
      kept.className = 'docs-cell';
      for (const doc of call.documents || []) {
        const button = document.createElement('button');
        button.type = 'button';
        button.className = 'secondary';
        button.dataset.testid = 'history-doc';
        button.textContent = doc.name;
        button.title = docMeta(doc);
        button.addEventListener('click', () => openViewer(doc, { history: true }));
        kept.append(button);
      }
      tr.append(kept);
      tr.dataset.call = String(call.call);
      tr.dataset.outcome = call.outcome;
      return tr;
    });
  if (rows.length === 0) {
    const td = document.createElement('td');
    td.colSpan = 10;
    td.className = 'muted';
    td.textContent = search ? 'Aucun appel ne correspond à cette recherche.' : "Aucun appel aujourd'hui.";
    rows.push(document.createElement('tr'));
    rows[0].append(td);
  }
  $('#today-rows').replaceChildren(...rows);
  const answered = result.calls.filter((c) => c.outcome === 'answered').length;
  if (search) {
    $('#today-count').textContent = `(${result.calls.length} — ${answered} répondu${answered > 1 ? 's' : ''}${result.calls.length >= 200 ? ', les 200 plus récents' : ''})`;
    return;
  }
  $('#today-count').textContent = `(${result.calls.length} — ${answered} répondu${answered > 1 ? 's' : ''})`;
}

// ---- documents across the call ---------------------------------------------------------------
// The agent sends a file or a link to the kiosk (shown large there, printable), asks the kiosk
// for a still of its camera at full resolution (a paper the citizen shows), gets the files the
// kiosk sends, and keeps those it needs with the call's record (the rest is gone after the
// wrap-up).

// Seconds the agent waits for the kiosk's still before saying it did not come.
const STILL_WAIT_SECS = 20;

const docs = {
  call: null, // the call whose documents these are (through its wrap-up)
  list: [],
  urls: new Map(), // id -> object URL of a file already fetched
  viewing: null, // {doc, history, url}
  asking: false,
  askTimer: 0,
};

const token = () => connection?.token || takeToken();

function docsFor(call) {
  if (docs.call === call) return;
  clearDocs();
  docs.call = call;
}

function clearDocs() {
  if (docs.viewing && !docs.viewing.history) closeViewer();
  for (const url of docs.urls.values()) URL.revokeObjectURL(url);
  docs.urls.clear();
  docs.list = [];
  docs.call = null;
  docs.asking = false;
  clearTimeout(docs.askTimer);
  $('#doc-status').textContent = '';
  $('#doc-link-form').hidden = true;
  $('#doc-link-open').setAttribute('aria-expanded', 'false');
  renderDocs();
}

function docMeta(doc) {
  const parts = [doc.from === 'kiosk' ? "reçu de l'usager" : "envoyé à l'usager"];
  if (doc.url) parts.push('lien');
  else if (doc.snapshot) parts.push('photo de la caméra de la borne');
  else parts.push(doc.media_type === 'application/pdf' ? 'PDF' : 'image');
  if (doc.width && doc.height) parts.push(`${doc.width} × ${doc.height} px`);
  if (doc.size != null) parts.push(formatSize(doc.size));
  return parts.join(' · ');
}

function docItem(doc) {
  const li = document.createElement('li');
  li.dataset.doc = doc.id;
  const name = document.createElement('span');
  name.className = 'doc-name';
  name.textContent = doc.url && doc.name !== doc.url ? `${doc.name} — ${doc.url}` : doc.name;
  const meta = document.createElement('span');
  meta.className = 'doc-meta';
  meta.textContent = docMeta(doc);
  li.append(name);
  if (!doc.url) {
    const open = document.createElement('button');
    open.type = 'button';
    open.className = 'secondary';
    open.dataset.testid = 'doc-view';
    open.textContent = 'Ouvrir';
    open.addEventListener('click', () => openViewer(doc));
    li.append(open);
    if (doc.attached) {
      const kept = document.createElement('span');
      kept.className = 'doc-kept';
      kept.dataset.testid = 'doc-kept';
      kept.textContent = "Gardé avec l'appel";
      li.append(kept);
    } else {
      const keep = document.createElement('button');
      keep.type = 'button';
      keep.className = 'secondary';
      keep.dataset.testid = 'doc-keep';
      keep.textContent = "Garder avec l'appel";
      keep.addEventListener('click', () => keepDoc(doc));
      li.append(keep);
    }
  }
  li.append(meta);
  return li;
}

function renderDocs() {
  $('#doc-list').replaceChildren(...docs.list.map(docItem));
  const files = docs.list.filter((d) => !d.url);
  $('#wrapup-doc-list').replaceChildren(...files.map(docItem));
  $('#wrapup-docs').hidden = files.length === 0;
  const canSend = Boolean(connection?.online) && !ui.replaced && ui.state?.state === 'on_call' && docs.call != null && !consultActive();
  $('#doc-send').disabled = !canSend;
  $('#doc-link-open').disabled = !canSend;
  $('#doc-snapshot').disabled = !canSend || docs.asking;
  const viewing = docs.viewing;
  if (viewing) renderViewerKeep();
}

function docStatus(text) {
  $('#doc-status').textContent = text;
}

const UPLOAD_ERROR = {
  413: 'Ce fichier est trop gros : il n’est pas envoyé.',
  415: 'Ce fichier n’est ni un PDF ni une image JPEG ou PNG (d’après son contenu) : il n’est pas envoyé.',
  409: 'Le fichier n’est pas envoyé : l’appel n’est plus en cours ou en garde.',
};

async function sendFile() {
  const input = $('#doc-file');
  const file = input.files?.[0];
  input.value = '';
  if (!file || docs.call == null) return;
  const max = connection?.welcome?.documents?.max_bytes;
  if (max && file.size > max) {
    docStatus(`Ce fichier est trop gros (${formatSize(file.size)}) : ${formatSize(max)} au plus.`);
    return;
  }
  const call = docs.call;
  docStatus(`Envoi de ${file.name}…`);
  try {
    const doc = await uploadDocument(token(), call, file, { name: file.name });
    if (docs.call !== call) return;
    docs.list.push(doc);
    renderDocs();
    docStatus(`Envoyé à l'usager : ${doc.name}`);
  } catch (err) {
    console.error('agent: document', err);
    docStatus(UPLOAD_ERROR[err.status] || `Le fichier n’est pas envoyé : ${err.message}`);
  }
}

function toggleLinkForm() {
  const form = $('#doc-link-form');
  form.hidden = !form.hidden;
  $('#doc-link-open').setAttribute('aria-expanded', String(!form.hidden));
  if (!form.hidden) $('#doc-url').focus();
}

async function sendLink(event) {
  event.preventDefault();
  const url = $('#doc-url').value.trim();
  const title = $('#doc-link-title').value.trim();
  if (!url) return;
  const call = docs.call;
  try {
    const result = await connection.request({ type: 'share_link', url, ...(title ? { title } : {}) });
    if (docs.call !== call) return;
    docs.list.push(result.document);
    renderDocs();
    docStatus(`Lien montré à l'usager : ${result.document.name}`);
    $('#doc-url').value = '';
    $('#doc-link-title').value = '';
    toggleLinkForm();
  } catch (err) {
    docStatus(err.code === 'wrong_state' ? `Lien non envoyé : ${err.message}` : 'Le lien n’est pas envoyé. Réessayez.');
  }
}

async function askStill() {
  if (docs.asking) return;
  docs.asking = true;
  renderDocs();
  try {
    await connection.request({ type: 'request_snapshot' });
    docStatus("Photo demandée : l'usager montre son papier à la caméra (compte à rebours de 3 s sur la borne)…");
    clearTimeout(docs.askTimer);
    docs.askTimer = setTimeout(() => {
      docs.asking = false;
      docStatus("La borne n'a pas envoyé de photo. Vous pouvez la redemander.");
      renderDocs();
    }, STILL_WAIT_SECS * 1000);
  } catch (err) {
    docs.asking = false;
    docStatus(`Photo impossible : ${err.message}`);
    renderDocs();
  }
}

function onDocument(push) {
  const call = ui.callId ?? ui.state?.call;
  if (push.call !== call || !push.document) return;
  docsFor(call);
  const doc = push.document;
  docs.list.push(doc);
  if (doc.snapshot && docs.asking) {
    docs.asking = false;
    clearTimeout(docs.askTimer);
    docStatus('Photo reçue.');
    renderDocs();
    openViewer(doc);
    return;
  }
  renderDocs();
  const text = `${doc.snapshot ? 'Photo' : 'Fichier'} reçu de l'usager : ${doc.name}`;
  docStatus(text);
  announce(text);
}

async function keepDoc(doc) {
  try {
    const kept = await keepDocument(token(), doc.id);
    doc.attached = kept.attached;
    $('#viewer-status').textContent = '';
    docStatus(`Gardé avec l'appel : ${doc.name}`);
  } catch (err) {
    const text = err.status === 404 ? 'Ce fichier n’est plus disponible.' : err.status === 503 ? 'Le fichier n’est pas gardé : les enregistrements sont indisponibles. Réessayez.' : 'Le fichier n’est pas gardé. Réessayez.';
    docStatus(text);
    if (docs.viewing?.doc === doc) $('#viewer-status').textContent = text;
  }
  renderDocs();
}

function renderViewerKeep() {
  const viewing = docs.viewing;
  const keep = $('#viewer-keep');
  keep.hidden = !viewing || viewing.history;
  if (!viewing) return;
  keep.disabled = Boolean(viewing.doc.attached);
  keep.textContent = viewing.doc.attached ? "Gardé avec l'appel" : "Garder avec l'appel";
}

async function openViewer(doc, { history = false } = {}) {
  closeViewer();
  const viewing = { doc, history, url: null, shown: null };
  docs.viewing = viewing;
  $('#viewer-title').textContent = doc.name;
  $('#viewer-meta').textContent = docMeta(doc);
  $('#viewer-status').textContent = '';
  const save = $('#viewer-save');
  save.removeAttribute('href');
  save.hidden = true;
  renderViewerKeep();
  const body = $('#viewer-body');
  body.replaceChildren(Object.assign(document.createElement('p'), { textContent: 'Chargement…' }));
  const dialog = $('#doc-viewer');
  if (!dialog.open) dialog.showModal();
  $('#viewer-close').focus();
  try {
    let url = history ? null : docs.urls.get(doc.id);
    if (!url) {
      const blob = await fetchDocument(token(), doc.id);
      url = URL.createObjectURL(blob);
      if (history) viewing.url = url;
      else docs.urls.set(doc.id, url);
    }
    if (docs.viewing !== viewing) return;
    let view;
    if (doc.media_type === 'application/pdf') {
      view = document.createElement('iframe');
      view.title = doc.name;
      view.src = `${url}#navpanes=0&pagemode=none&view=FitH&zoom=page-width`;
      viewing.shown = { kind: 'pdf' };
    } else {
      view = document.createElement('img');
      view.alt = doc.name;
      view.dataset.testid = 'viewer-image';
      view.src = url;
      await view.decode().catch(() => {});
      viewing.shown = { kind: 'image', width: view.naturalWidth, height: view.naturalHeight };
    }
    body.replaceChildren(view);
    save.href = url;
    save.download = doc.name;
    save.hidden = false;
  } catch (err) {
    console.error('agent: document', err);
    if (docs.viewing === viewing) body.replaceChildren(Object.assign(document.createElement('p'), { textContent: err.status === 404 ? 'Ce fichier n’est plus disponible.' : 'Le fichier ne peut pas être affiché.' }));
  }
}

function closeViewer() {
  const viewing = docs.viewing;
  docs.viewing = null;
  if (viewing?.url) URL.revokeObjectURL(viewing.url);
  $('#viewer-body').replaceChildren();
  const dialog = $('#doc-viewer');
  if (dialog.open) dialog.close();
}

function connect(token) {
  connection?.stop();
  ui.replaced = false;
  connection = new Connection(token, { role: 'agent' });
  connection.on('status', (status) => {
    // A session taken over elsewhere stays so until the agent takes it back.
    if (ui.replaced) return;
    document.body.dataset.conn = status;
    $('#conn-text').textContent = { online: 'En ligne', connecting: 'Connexion…', offline: 'Hors ligne', closed: 'Déconnecté' }[status];
    if (status === 'offline') {
      showNet('Connexion au serveur perdue. Nouvelle tentative…');
      clearOffer();
      // The call's media goes on without the websocket: the server keeps the call for a
      // while, and the state pushed after the next welcome says whether it still is ours.
      ui.state = null;
    }
    if (ui.screen === 'console') render();
  });
  connection.on('welcome', (welcome) => {
    showNet('');
    // The first state pushed after it may give back a call in progress (a reload, a blink).
    ui.restoring = true;
    $('#signin-note').hidden = true;
    $('#who').textContent = welcome.subject;
    ui.subject = welcome.subject;
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
    loadServices();
  });
  connection.on('fatal', ({ code }) => {
    clearOffer();
    endMedia();
    if (code === 'session_replaced') {
      ui.replaced = true;
      ui.state = null;
      ui.endNote = null;
      document.body.dataset.conn = 'replaced';
      $('#conn-text').textContent = 'Session ouverte dans un autre onglet';
      showNet('Votre session a été ouverte ailleurs (un autre onglet ou un autre poste).');
      render();
      return;
    }
    forgetToken();
    if (!connection?.token) signinError('Votre session a pris fin. Reconnectez-vous.');
    else signinError(code === 'token_expired' ? 'Ce jeton a expiré. Demandez-en un nouveau.' : 'Ce jeton est refusé.');
  });
  connection.on('push:agent_state', onAgentState);
  connection.on('push:offered', onOffered);
  connection.on('push:offer_withdrawn', onOfferWithdrawn);
  connection.on('push:media_ready', onMediaReady);
  connection.on('push:call_ended', onCallEnded);
  connection.on('push:call_transferred', onCallTransferred);
  connection.on('push:interpreter_status', (push) => {
    const name = ui.interpreterServices?.[push.service] || push.service;
    showInterpreterStatus(INTERPRETER_STATUS[push.status]?.(name) || null);
  });
  connection.on('push:peer_media_lost', onPeerMediaLost);
  connection.on('push:sdp_offer', (push) => {
    if (ui.callId === push.call) ui.media?.answerOffer(push.sdp).catch((err) => console.error('agent: renegotiation', err));
  });
  connection.on('push:peer_media_restored', onPeerMediaRestored);
  connection.on('push:peer_signalling', onPeerSignalling);
  connection.on('push:participants', onParticipants);
  connection.on('push:chat', onChat);
  connection.on('push:consult_status', onConsultStatus);
  connection.on('push:document', onDocument);
  connection.on('push:peer_audio_only', onPeerAudioOnly);
  connection.start();
}

/// Ends the shift: the server logs the agent out (no more calls, off the wallboard), then the
/// console forgets its token. Refused on a call: the agent hangs up or transfers it first.
async function signOut() {
  const button = $('#signout');
  if (ui.state?.state === 'on_call') {
    showNet("Terminez ou transférez l'appel avant de vous déconnecter.");
    return;
  }
  button.disabled = true;
  try {
    if (connection?.online && !ui.replaced) await connection.request({ type: 'logout' });
  } catch (err) {
    if (err.code === 'wrong_state') {
      showNet("Terminez ou transférez l'appel avant de vous déconnecter.");
      return;
    }
    // Offline or gone: the server marks the agent disconnected; the token is forgotten anyway.
    console.error('agent: logout', err);
  } finally {
    button.disabled = false;
  }
  const browser = connection && !connection.token;
  connection?.stop();
  connection = null;
  clearOffer();
  endMedia();
  forgetToken();
  // Signed in in the browser: the session ends too (and at the identity provider).
  if (browser) return browserSignOut();
  ui.state = null;
  $('#who').textContent = '';
  button.hidden = true;
  showNet('');
  $('#signin-note').hidden = false;
  setScreen('signin');
}

function signinError(text) {
  $('#signin-error').textContent = text;
  $('#signin-error').hidden = false;
  $('#signout').hidden = true;
  setScreen('signin');
}

/// What the agent reads when the camera or the microphone cannot be opened.
function mediaError(err) {
  return err?.name === 'InsecureContextError' ? 'HTTPS requis — contactez votre administrateur' : 'Caméra ou micro indisponible';
}

function init() {
  $('#insecure').hidden = secureContext();
  bindSigninForm((token) => {
    setScreen('loading');
    connect(token);
  });
  $('#signout').addEventListener('click', signOut);
  $('#state-select').addEventListener('change', changeState);
  $('#accept').addEventListener('click', accept);
  $('#callback-panel').addEventListener('click', (event) => {
    const button = event.target.closest('button[data-result]');
    if (button) callbackDone(button.dataset.result, button);
  });
  $('#reject').addEventListener('click', reject);
  $('#hangup').addEventListener('click', (event) => act({ type: 'hangup' }, event.currentTarget));
  $('#mute').addEventListener('click', () => {
    ui.muted = !ui.muted;
    ui.media?.setAudio(!ui.muted);
    renderMediaButtons();
  });
  $('#camera').addEventListener('click', () => {
    ui.cameraOff = !ui.cameraOff;
    ui.media?.setVideo(!ui.cameraOff);
    renderMediaButtons();
  });
  // Takes the session back from the other tab or post (which is told so in its turn).
  $('#reclaim').addEventListener('click', () => {
    const token = connection?.token || takeToken() || '';
    if (!token && !connection) return;
    showNet('');
    setScreen('loading');
    connect(token);
  });
  $('#wrapup-form').addEventListener('submit', finishWrapUp);
  $('#devices-open').addEventListener('click', () => ($('#devices-panel').hidden ? openDevices() : closeDevices()));
  $('#devices-close').addEventListener('click', closeDevices);
  for (const id of ['#mic-select', '#camera-select', '#speaker-select']) $(id).addEventListener('change', deviceChosen);
  $('#speaker-test').addEventListener('click', testSpeaker);
  $('#case-ref').addEventListener('input', caseEdited);
  $('#case-notes').addEventListener('input', caseEdited);
  $('#history-form').addEventListener('submit', searchHistory);
  $('#history-today').addEventListener('click', historyToday);
  $('#transfer-open').addEventListener('click', () => (ui.transfer ? closeTransfer() : openTransfer('transfer')));
  $('#interpreter-open').addEventListener('click', () => (ui.transfer ? closeTransfer() : openTransfer('interpreter')));
  $('#transfer-cancel').addEventListener('click', () => closeTransfer());
  $('#transfer-form').addEventListener('submit', confirmTransfer);
  for (const input of document.querySelectorAll('#transfer-mode input')) {
    input.addEventListener('change', () => {
      if (!ui.transfer || !input.checked) return;
      ui.transfer.mode = input.value;
      renderTransferButton();
    });
  }
  $('#consult-complete').addEventListener('click', completeConsult);
  $('#doc-send').addEventListener('click', () => $('#doc-file').click());
  $('#doc-file').addEventListener('change', sendFile);
  $('#doc-link-open').addEventListener('click', toggleLinkForm);
  $('#doc-link-form').addEventListener('submit', sendLink);
  $('#doc-snapshot').addEventListener('click', askStill);
  $('#viewer-close').addEventListener('click', closeViewer);
  $('#viewer-keep').addEventListener('click', () => docs.viewing && keepDoc(docs.viewing.doc));
  $('#doc-viewer').addEventListener('close', () => {
    if (docs.viewing) closeViewer();
  });
  $('#consult-cancel').addEventListener('click', cancelConsult);
  // Keyboard shortcuts while ringing: Enter is the focused "Décrocher"; Escape rejects. Escape
  // also closes the transfer box.
  document.addEventListener('keydown', (event) => {
    if (event.key !== 'Escape') return;
    if (ui.offer) reject();
    else if (ui.transfer && !ui.transfer.busy) closeTransfer();
  });
  setInterval(tick, 1000);
  exposeTestHooks(pageState, () => ui.media, {
    quality: () => (ui.quality ? { ...ui.quality } : null),
    // The devices the call sends now.
    sendingDevices: () =>
      Object.fromEntries((ui.media?.pc?.getSenders() || []).filter((s) => s.track).map((s) => [s.track.kind, s.track.getSettings().deviceId ?? null])),
    ringing: () => ringer.ringing,
    chat: () => chat.messages.map((m) => ({ ...m })),
    participants: () => others().map((p) => ({ ...p })),
    transferred: () => (ui.transferred ? { ...ui.transferred } : null),
    consult: () => (ui.consult ? { side: ui.consult.side, peer: ui.consult.peer, call: ui.consult.call, status: ui.consult.status } : null),
    audioOnly: () => ({ self: fallback.on, peer: Boolean(ui.peerAudioOnly), still: !$('#remote-still').hidden, note: $('#audio-only').hidden ? null : $('#audio-only').textContent }),
    documents: () => ({
      call: docs.call,
      list: docs.list.map((d) => ({ ...d })),
      viewer: docs.viewing ? { id: docs.viewing.doc.id, history: docs.viewing.history, shown: docs.viewing.shown } : null,
    }),
    // The local tracks the call's peer connection sends, and whether each is enabled.
    senders: () =>
      (ui.media?.pc?.getSenders() || []).filter((s) => s.track).map((s) => ({ kind: s.track.kind, enabled: s.track.enabled, readyState: s.track.readyState })),
  });

  const token = takeToken();
  if (token) connect(token);
  else signInWithBrowser();
}

/// Without a token: the browser's sign-in, if it has one with the agent role.
async function signInWithBrowser() {
  const session = await browserSession();
  if (session?.roles?.includes('agent')) {
    connect('');
    return;
  }
  if (session) signinError("Votre compte n'a pas le rôle de conseiller. Demandez-le à votre administrateur.");
  else setScreen('signin');
}

init();
