// Kiosk page: choose a service, check camera and microphone, call, wait, talk, back to start.
import {
  $, Connection, duration, exposeTestHooks, getLocalMedia, levelMeter, pageCall, showScreen,
  stopMedia, storeToken, takeToken, forgetToken,
} from '/console/relais.js';

const TEXT = {
  fr: {
    brand: 'Visio-accueil des services publics',
    loading: 'Connexion en cours…',
    signin_title: 'Borne non configurée',
    signin_text: "Collez le jeton de la borne fourni par l'administrateur.",
    token_label: 'Jeton',
    signin_button: 'Valider',
    start_title: 'Bonjour ! Quel service voulez-vous appeler ?',
    start_text: 'Touchez le service : un conseiller vous répondra en vidéo.',
    open: 'Ouvert',
    closed: 'Fermé',
    no_services: 'Aucun service disponible pour le moment.',
    check_title: 'Vérifions la caméra et le micro',
    check_see: "Vous voyez-vous à l'écran ?",
    check_hear: 'Parlez : la barre verte doit bouger.',
    call_button: 'Appeler',
    back: 'Retour',
    service: (name) => `Service : ${name}`,
    camera_error: "La caméra ou le micro ne fonctionne pas. Prévenez l'accueil de la mairie.",
    waiting_title: 'Merci de patienter',
    position: 'Votre position :',
    eta: (secs) => `Attente estimée : environ ${minutes(secs, 'fr')}`,
    eta_unknown: 'Un conseiller va bientôt vous répondre.',
    waited: (secs) => `Vous attendez depuis ${duration(secs)}`,
    cancel: "Annuler l'appel",
    call_title: 'En communication',
    connecting: 'Connexion de la vidéo…',
    mute: 'Couper le micro',
    unmute: 'Rétablir le micro',
    hangup: 'Raccrocher',
    ended_title: 'Appel terminé',
    ended_answered: 'Merci de votre visite. Au revoir !',
    ended_cancelled: 'Votre appel est annulé.',
    ended_closed: 'Le service vient de fermer. Merci de revenir pendant les heures d’ouverture.',
    ended_other: 'Aucun conseiller n’a pu répondre. Vous pouvez réessayer plus tard.',
    ended_dropped: 'La connexion a été coupée et l’appel s’est arrêté. Vous pouvez rappeler.',
    peer_lost: 'La liaison avec le conseiller est coupée. Reconnexion en cours…',
    home: "Retour à l'accueil",
    service_closed: 'Ce service est fermé en ce moment. Choisissez un autre service ou revenez plus tard.',
    queue_full: 'Trop de personnes attendent pour ce service. Réessayez dans quelques minutes.',
    call_failed: "L'appel n'a pas pu être lancé. Réessayez.",
    offline: 'Connexion au serveur perdue. Nouvelle tentative en cours…',
    bad_token: 'Ce jeton est refusé. Vérifiez-le ou demandez-en un nouveau.',
    other_lang: 'English',
    other_lang_code: 'en',
  },
  en: {
    brand: 'Public services video desk',
    loading: 'Connecting…',
    signin_title: 'Kiosk not set up',
    signin_text: 'Paste the kiosk token given by your administrator.',
    token_label: 'Token',
    signin_button: 'Save',
    start_title: 'Hello! Which service would you like to call?',
    start_text: 'Touch a service: an adviser will answer you on video.',
    open: 'Open',
    closed: 'Closed',
    no_services: 'No service is available right now.',
    check_title: "Let's check the camera and microphone",
    check_see: 'Can you see yourself on the screen?',
    check_hear: 'Speak: the green bar should move.',
    call_button: 'Call',
    back: 'Back',
    service: (name) => `Service: ${name}`,
    camera_error: 'The camera or microphone does not work. Please tell the front desk.',
    waiting_title: 'Please wait',
    position: 'Your position:',
    eta: (secs) => `Estimated wait: about ${minutes(secs, 'en')}`,
    eta_unknown: 'An adviser will answer you soon.',
    waited: (secs) => `You have been waiting for ${duration(secs)}`,
    cancel: 'Cancel the call',
    call_title: 'In a call',
    connecting: 'Connecting the video…',
    mute: 'Mute the microphone',
    unmute: 'Unmute the microphone',
    hangup: 'Hang up',
    ended_title: 'Call ended',
    ended_answered: 'Thank you for your visit. Goodbye!',
    ended_cancelled: 'Your call is cancelled.',
    ended_closed: 'The service has just closed. Please come back during opening hours.',
    ended_other: 'No adviser could answer. You can try again later.',
    ended_dropped: 'The connection was lost and the call stopped. You can call again.',
    peer_lost: 'The link with the adviser is down. Reconnecting…',
    home: 'Back to the start',
    service_closed: 'This service is closed now. Choose another service or come back later.',
    queue_full: 'Too many people are waiting for this service. Try again in a few minutes.',
    call_failed: 'The call could not be started. Please try again.',
    offline: 'Connection to the server lost. Trying again…',
    bad_token: 'This token is refused. Check it or ask for a new one.',
    other_lang: 'Français',
    other_lang_code: 'fr',
  },
};

function minutes(secs, lang) {
  const m = Math.max(1, Math.round(secs / 60));
  if (lang === 'fr') return m === 1 ? '1 minute' : `${m} minutes`;
  return m === 1 ? '1 minute' : `${m} minutes`;
}

// Seconds the "call ended" screen stays before going back to the start screen.
const ENDED_SECS = 6;
// Seconds without a touch on the check screen before going back to the start screen.
const CHECK_IDLE_SECS = 90;

const ui = {
  lang: 'fr',
  screen: 'loading',
  services: [],
  service: null, // the chosen service
  call: null, // {id, position, eta, since}
  stream: null,
  stopMeter: () => {},
  media: null,
  endedTimer: 0,
  idleTimer: 0,
  muted: false,
  offline: false,
  placing: false, // a `call` request awaits its reply
  early: [], // [handler, push] received meanwhile
};

const t = (key, ...args) => {
  const v = TEXT[ui.lang][key];
  return typeof v === 'function' ? v(...args) : v;
};

let connection = null;

function setScreen(name) {
  ui.screen = name;
  showScreen(name);
}

function applyLanguage() {
  document.documentElement.lang = ui.lang;
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  const lang = $('#lang');
  lang.textContent = t('other_lang');
  lang.lang = t('other_lang_code');
  $('#mute').textContent = ui.muted ? t('unmute') : t('mute');
  renderServices();
  renderWaiting();
  if (ui.service) {
    $('#check-service').textContent = t('service', serviceName(ui.service));
    $('#waiting-service').textContent = t('service', serviceName(ui.service));
  }
  if (ui.offline) showNet(t('offline'));
}

function serviceName(service) {
  return ui.lang === 'en' && service.name_en ? service.name_en : service.name;
}

function renderServices() {
  const list = $('#services');
  list.replaceChildren();
  if (ui.services.length === 0 && ui.screen === 'start') {
    const li = document.createElement('li');
    li.textContent = t('no_services');
    list.append(li);
    return;
  }
  for (const service of ui.services) {
    const li = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    button.dataset.testid = `service-${service.id}`;
    button.dataset.service = service.id;
    button.disabled = !service.open || ui.offline;
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = serviceName(service);
    const state = document.createElement('span');
    state.className = 'state';
    state.textContent = service.open ? t('open') : t('closed');
    button.append(name, state);
    button.addEventListener('click', () => chooseService(service));
    li.append(button);
    list.append(li);
  }
}

function startMessage(text) {
  const el = $('#start-message');
  el.textContent = text || '';
  el.hidden = !text;
}

function showNet(text) {
  const el = $('#net');
  el.textContent = text || '';
  el.hidden = !text;
}

async function refreshServices() {
  if (!connection?.online) return;
  try {
    const result = await connection.request({ type: 'list_services' });
    ui.services = result.services;
    renderServices();
  } catch {
    // Kept as it was; the next refresh or reconnection tries again.
  }
}

async function goStart(message) {
  clearTimeout(ui.endedTimer);
  clearTimeout(ui.idleTimer);
  releaseCall();
  ui.service = null;
  ui.muted = false;
  $('#remote-video').srcObject = null;
  $('#self-video').srcObject = null;
  $('#check-video').srcObject = null;
  if (ui.lang !== 'fr') {
    ui.lang = 'fr';
    applyLanguage();
  }
  setScreen('start');
  startMessage(message);
  renderServices();
  await refreshServices();
}

async function chooseService(service) {
  ui.service = service;
  startMessage('');
  $('#check-service').textContent = t('service', serviceName(service));
  $('#check-error').hidden = true;
  $('#call').disabled = true;
  setScreen('check');
  armIdle();
  try {
    ui.stream = await getLocalMedia();
  } catch (err) {
    console.error('kiosk: camera/microphone', err);
    $('#check-error').textContent = t('camera_error');
    $('#check-error').hidden = false;
    $('#check-back').focus();
    return;
  }
  if (ui.screen !== 'check') {
    stopMedia(ui.stream);
    ui.stream = null;
    return;
  }
  $('#check-video').srcObject = ui.stream;
  const level = $('#mic-level');
  const meter = level.parentElement;
  let shown = -1;
  ui.stopMeter = levelMeter(ui.stream, (v) => {
    const pct = Math.round(v * 100);
    if (pct === shown) return;
    shown = pct;
    level.style.width = `${pct}%`;
    meter.setAttribute('aria-valuenow', String(pct));
  });
  $('#call').disabled = false;
  $('#call').focus();
}

function armIdle() {
  clearTimeout(ui.idleTimer);
  ui.idleTimer = setTimeout(() => {
    if (ui.screen === 'check') goStart();
  }, CHECK_IDLE_SECS * 1000);
}

async function placeCall() {
  clearTimeout(ui.idleTimer);
  const service = ui.service;
  $('#call').disabled = true;
  ui.early = [];
  ui.placing = true;
  try {
    const result = await connection.request({ type: 'call', service: service.id });
    ui.placing = false;
    ui.call = { id: result.call, position: null, eta: null, since: Date.now() };
    ui.stopMeter();
    ui.stopMeter = () => {};
    $('#waiting-service').textContent = t('service', serviceName(service));
    renderWaiting();
    setScreen('waiting');
    // Pushes about the call may come before the reply that names it: play them now.
    const early = ui.early.filter(([, push]) => push.call === result.call);
    ui.early = [];
    for (const [handler, push] of early) await handler(push);
  } catch (err) {
    ui.placing = false;
    ui.early = [];
    $('#call').disabled = false;
    const message = err.code === 'service_closed' ? t('service_closed') : err.code === 'queue_full' ? t('queue_full') : t('call_failed');
    if (err.code === 'service_closed' || err.code === 'queue_full') await goStart(message);
    else {
      $('#check-error').textContent = message;
      $('#check-error').hidden = false;
    }
  }
}

function renderWaiting() {
  const call = ui.call;
  if (!call) return;
  $('#position').textContent = call.position ?? '…';
  $('#eta').textContent = call.eta != null ? t('eta', call.eta) : t('eta_unknown');
  $('#waited').textContent = t('waited', (Date.now() - call.since) / 1000);
}

async function cancelCall() {
  $('#cancel').disabled = true;
  try {
    await connection.request({ type: 'cancel' });
  } catch (err) {
    // wrong_state: the call was answered or ended meanwhile; its push tells what happened.
    if (err.code !== 'wrong_state') await goStart();
  } finally {
    $('#cancel').disabled = false;
  }
}

async function mediaReady(push) {
  if (!ui.call || push.call !== ui.call.id) return;
  setScreen('call');
  $('#call-status').textContent = t('connecting');
  if (!ui.stream) {
    try {
      ui.stream = await getLocalMedia();
    } catch (err) {
      console.error('kiosk: camera/microphone', err);
    }
  }
  ui.media?.close();
  const media = pageCall(connection, ui.stream, (state) => {
    $('#call-status').textContent = state === 'connected' ? '' : state === 'failed' || state === 'disconnected' ? t('offline') : t('connecting');
  });
  ui.media = media;
  media.setAudio(!ui.muted);
  try {
    await media.start();
  } catch (err) {
    console.error('kiosk: media negotiation', err);
  }
}

function callEnded(push) {
  if (!ui.call || push.call !== ui.call.id) return;
  if (push.reason === 'media_lost' || push.reason === 'media_failed') {
    showEnded(t('ended_dropped'));
    return;
  }
  const text = {
    answered: t('ended_answered'),
    abandoned: t('ended_cancelled'),
    abandoned_short: t('ended_cancelled'),
    closed: t('ended_closed'),
  }[push.outcome] || t('ended_other');
  showEnded(text);
}

function peerMediaLost(push) {
  if (!ui.call || push.call !== ui.call.id) return;
  $('#call-status').textContent = t('peer_lost');
}

function peerMediaRestored(push) {
  if (!ui.call || push.call !== ui.call.id) return;
  $('#call-status').textContent = '';
}

/** Lets go of the call: the level meter, the media connection, camera and microphone. */
function releaseCall() {
  ui.stopMeter();
  ui.stopMeter = () => {};
  ui.media?.close();
  ui.media = null;
  stopMedia(ui.stream);
  ui.stream = null;
  ui.call = null;
}

function showEnded(text) {
  releaseCall();
  $('#ended-text').textContent = text;
  setScreen('ended');
  clearTimeout(ui.endedTimer);
  ui.endedTimer = setTimeout(() => goStart(), ENDED_SECS * 1000);
}

async function hangup() {
  try {
    await connection.request({ type: 'hangup' });
  } catch (err) {
    if (err.code === 'wrong_state' || err.code === 'disconnected') showEnded(t('ended_answered'));
  }
}

function toggleMute() {
  ui.muted = !ui.muted;
  ui.media?.setAudio(!ui.muted);
  const button = $('#mute');
  button.setAttribute('aria-pressed', String(ui.muted));
  button.textContent = ui.muted ? t('unmute') : t('mute');
}

function queuePosition(push) {
  if (!ui.call || push.call !== ui.call.id) return;
  ui.call.position = push.position;
  ui.call.eta = push.eta_secs ?? null;
  renderWaiting();
}

/// Runs `handler` for pushes about the current call; keeps those that come while the `call`
/// request awaits its reply (they may overtake it) to run them once the call id is known.
function forCall(handler) {
  return (push) => {
    if (ui.placing && !ui.call) ui.early.push([handler, push]);
    else handler(push);
  };
}

function connect(token) {
  connection?.stop();
  connection = new Connection(token);
  connection.on('status', (status) => {
    document.body.dataset.conn = status;
    ui.offline = status === 'offline' || status === 'connecting';
    if (status === 'offline') {
      showNet(t('offline'));
      renderServices();
      // A kiosk whose connection drops while its call waits or talks loses that call.
      if (ui.call) showEnded(t('ended_dropped'));
    }
  });
  connection.on('welcome', async () => {
    ui.offline = false;
    showNet('');
    if (ui.screen === 'loading' || ui.screen === 'signin') await goStart();
    else await refreshServices();
  });
  connection.on('fatal', ({ code }) => {
    if (code === 'bad_token' || code === 'token_expired' || code === 'forbidden') {
      forgetToken();
      $('#signin-error').textContent = t('bad_token');
      $('#signin-error').hidden = false;
      setScreen('signin');
    }
  });
  connection.on('push:queue_position', forCall(queuePosition));
  connection.on('push:media_ready', forCall(mediaReady));
  connection.on('push:call_ended', forCall(callEnded));
  connection.on('push:peer_media_lost', forCall(peerMediaLost));
  connection.on('push:sdp_offer', forCall((push) => {
    if (ui.call && push.call === ui.call.id) ui.media?.answerOffer(push.sdp).catch((err) => console.error('kiosk: renegotiation', err));
  }));
  connection.on('push:peer_media_restored', forCall(peerMediaRestored));
  connection.start();
}

function init() {
  applyLanguage();
  $('#lang').addEventListener('click', () => {
    ui.lang = ui.lang === 'fr' ? 'en' : 'fr';
    applyLanguage();
  });
  $('#signin-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const token = $('#token-input').value.trim();
    if (!token) return;
    storeToken(token);
    $('#signin-error').hidden = true;
    setScreen('loading');
    connect(token);
  });
  $('#call').addEventListener('click', placeCall);
  $('#check-back').addEventListener('click', () => goStart());
  $('#check-video').closest('section').addEventListener('pointerdown', armIdle);
  $('#cancel').addEventListener('click', cancelCall);
  $('#hangup').addEventListener('click', hangup);
  $('#mute').addEventListener('click', toggleMute);
  $('#ended-ok').addEventListener('click', () => goStart());
  setInterval(() => {
    if (ui.screen === 'waiting') renderWaiting();
  }, 1000);
  // Opening hours change during the day: refresh the open/closed state on the start screen.
  setInterval(() => {
    if (ui.screen === 'start') refreshServices();
  }, 30000);
  exposeTestHooks(() => ui.screen, () => ui.media);

  const token = takeToken();
  if (token) connect(token);
  else setScreen('signin');
}

init();
