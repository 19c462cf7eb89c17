// Kiosk page: choose a service (with the server's notice, e.g. that calls may be listened to),
// check camera and microphone, call, wait, talk (video, written chat, a third person who joins
// shown in large type), stay on the line while the agent transfers the call to another service
// (same media connection: the next agent's video comes on the same picture), wait on hold while
// the agent consults a colleague (who may take the call over, on the same picture), back to
// start.
import {
  $, AudioFallback, ChatPanel, Connection, PictureWatch, QualityMeter, RemoteTiles, captureStill, duration, exposeTestHooks, fetchDocument,
  formatSize, getLocalMedia, holdPicture, levelMeter, pageCall, renderLines, secureContext, showQuality, showScreen, stopMedia, storeToken, takeToken,
  forgetToken, uploadDocument, deviceCredential, forgetDeviceCredential, looksLikePairingCode, pairKiosk, renewDeviceCredential,
} from '/console/relais.js';

/// The call's link quality, in plain words for the citizen; a notice when it stays poor.
const quality = new QualityMeter(
  () => ui.media,
  (sample) => {
    ui.quality = sample;
    showQuality(sample, t(`quality_${sample.quality}`), t('quality_poor_notice'));
    renderWaitNet(sample);
    fallback.sample(sample);
    renderAudioOnly();
  },
);

/// On a link too poor for video, the call goes on in audio only (the agent's last picture
/// stays on screen), and video comes back when the link is better.
const fallback = new AudioFallback({
  connection: () => connection,
  media: () => ui.media,
  onchange: () => renderAudioOnly(),
});

const TEXT = {
  fr: {
    brand: 'Visio-accueil des services publics',
    loading: 'Connexion…',
    insecure_title: 'Borne non sécurisée',
    insecure_text: "Il faut une adresse en https. Contactez l'administrateur de la borne.",
    signin_title: 'Borne à installer',
    signin_text: "Tapez le code d'installation donné par l'administrateur.",
    token_label: "Code d'installation",
    signin_button: 'Installer',
    pair_refused: "Ce code ne marche pas. Demandez un nouveau code à l'administrateur.",
    device_refused: "Cette borne n'est plus reconnue. Demandez un nouveau code à l'administrateur.",
    start_title: 'Bonjour ! Quel service voulez-vous appeler ?',
    start_text: 'Touchez le service que vous voulez. Un conseiller va vous parler en vidéo.',
    open: 'Ouvert',
    closed: 'Fermé',
    no_services: 'Aucun service disponible pour le moment.',
    check_title: 'On vérifie la caméra et le micro',
    check_see: "Vous voyez-vous à l'écran ?",
    check_hear: 'Parlez : la barre verte doit bouger.',
    call_button: 'Appeler',
    back: 'Retour',
    service: (name) => `Service : ${name}`,
    camera_error: "La caméra ou le micro ne marche pas. Parlez-en à l'accueil de la mairie.",
    waiting_title: 'Merci d’attendre',
    position: 'Votre position :',
    eta: (secs) => `Vous allez attendre environ ${minutes(secs, 'fr')}.`,
    eta_unknown: 'Un conseiller va vous répondre.',
    quality_good: 'Connexion : bonne',
    quality_fair: 'Connexion : moyenne',
    quality_poor: 'Connexion : faible',
    quality_unknown: 'Connexion…',
    quality_poor_notice: "La connexion est faible. L'image peut s'arrêter. Continuez à parler : le conseiller vous entend.",
    eta_now: 'Un conseiller va vous répondre très bientôt.',
    wait_net: (ms, kbps) => `Connexion au serveur : ${ms} ms, ${kbps >= 1000 ? `${(kbps / 1000).toFixed(1).replace('.', ',')} Mbit/s` : `${Math.round(kbps)} kbit/s`} envoyés`,
    mic_silent: "Nous ne vous entendons pas. Vérifiez que le micro n'est pas couvert, puis parlez : le conseiller doit vous entendre.",
    camera_dark: "Nous ne recevons pas l'image de la caméra. Vérifiez qu'elle n'est pas couverte ou débranchée.",
    no_agent: "Aucun conseiller n'est disponible pour le moment.",
    no_agent_options: "Vous pouvez attendre : votre place est gardée. Vous pouvez aussi arrêter l'appel et revenir plus tard.",
    waited: (secs) => `Vous attendez depuis ${duration(secs)}`,
    cancel: "Arrêter l'appel",
    call_title: 'En communication',
    connecting: 'La vidéo arrive…',
    mute: 'Couper le micro',
    unmute: 'Réactiver le micro',
    camera_off: 'Le conseiller a coupé sa caméra',
    camera_none: "Pas d'image du conseiller pour le moment",
    camera_hear: 'Vous entendez toujours le conseiller, et il vous entend.',
    camera_hear_muted: 'Vous entendez toujours le conseiller.',
    hangup: 'Raccrocher',
    volume: 'Volume du son',
    volume_down: 'Moins fort',
    volume_up: 'Plus fort',
    ended_title: 'Appel terminé',
    ended_answered: 'Merci de votre visite. Au revoir !',
    ended_cancelled: 'Vous avez arrêté l’appel.',
    callback_offer: 'Vous pouvez aussi partir. Un conseiller vous rappelle.',
    callback_open: 'Être rappelé',
    callback_title: 'Être rappelé',
    callback_text: 'Tapez votre numéro de téléphone.',
    callback_erase: 'Effacer',
    callback_when: 'Quand ?',
    callback_asap: 'Dès que possible',
    callback_after: (hour) => `Après ${hour} h`,
    callback_confirm: 'Valider',
    callback_bad_number: 'Ce numéro ne marche pas. Il faut 10 chiffres.',
    callback_failed: 'Le rappel ne marche pas. Vous restez dans la file.',
    callback_done: (phone) => `C’est noté. Un conseiller va vous appeler au ${phone}.`,
    callback_done_at: (phone, hour) => `C’est noté. Un conseiller va vous appeler au ${phone}, après ${hour} h.`,
    callback_done_plain: 'C’est noté. Un conseiller va vous appeler.',
    ended_closed: 'Le service est fermé maintenant. Revenez quand il est ouvert.',
    ended_other: 'Aucun conseiller n’a pu vous répondre. Vous pouvez appeler plus tard.',
    ended_dropped: 'La connexion est coupée. L’appel est arrêté. Vous pouvez appeler de nouveau.',
    peer_lost: 'La connexion avec le conseiller est coupée. Attendez un moment.',
    agent_reconnecting: 'Le conseiller se reconnecte. Restez en ligne.',
    home: "Retour à l'accueil",
    service_closed: 'Ce service est fermé en ce moment. Choisissez un autre service ou revenez plus tard.',
    queue_full: 'Beaucoup de personnes attendent pour ce service. Essayez de nouveau dans quelques minutes.',
    call_failed: "L'appel ne marche pas. Essayez encore.",
    offline: 'La borne n’a plus de connexion. Elle essaie de se reconnecter.',
    bad_token: 'Ce jeton est refusé. Vérifiez-le ou demandez-en un nouveau.',
    chat_title: 'Messages écrits',
    chat_hint: 'Vous pouvez aussi écrire au conseiller.',
    chat_label: 'Votre message',
    chat_send: 'Envoyer',
    chat_you: 'Vous',
    chat_too_long: 'Votre message est trop long. Écrivez moins de 1 000 signes.',
    chat_failed: "Le message n’est pas parti. Essayez encore.",
    role_kiosk: 'usager',
    role_agent: 'conseiller',
    role_supervisor: 'responsable',
    role_interpreter: 'interprète',
    person: (name, role) => `${name} (${role})`,
    joined: (who) => `${who} a rejoint l’appel`,
    joined_sub: (count) => (count > 1 ? 'Ces personnes vous voient et vous entendent.' : 'Cette personne vous voit et vous entend.'),
    left: (who) => `${who} a quitté la conversation`,
    agent_video: 'Le conseiller',
    transfer_title: (name) => `Le conseiller vous passe au service ${name}…`,
    transfer_stay: 'Restez en ligne.',
    transfer_wait: 'En attente du prochain conseiller',
    transfer_back: (who) => `${who} vous répond.`,
    chat_hint_transfer: 'Vous pourrez écrire au prochain conseiller dès qu’il vous répondra.',
    hold_title: 'Votre conseiller consulte un collègue.',
    hold_stay: 'Attendez, s’il vous plaît. Ne raccrochez pas.',
    hold_wait: 'Vous êtes en attente.',
    hold_back: 'Votre conseiller est de nouveau avec vous.',
    chat_hint_hold: 'Vous pourrez de nouveau écrire dès que votre conseiller reviendra.',
    docs_title: 'Documents',
    doc_open: (name) => `Revoir : ${name}`,
    doc_from: 'Le conseiller vous envoie ce document.',
    doc_link_hint: 'Adresse à taper sur votre téléphone ou votre ordinateur :',
    doc_print: 'Imprimer',
    doc_close: 'Fermer',
    doc_loading: 'Le document arrive…',
    doc_failed: "Le document ne s'affiche pas. Demandez au conseiller de le renvoyer.",
    still_countdown: (n) => `Le conseiller veut voir votre papier. Montrez-le à la caméra. Photo dans ${n}…`,
    still_taking: 'Photo…',
    still_sent: 'La photo est envoyée au conseiller.',
    still_failed: "La photo n'a pas marché. Le conseiller peut la redemander.",
    upload: 'Envoyer un fichier au conseiller',
    upload_sending: 'Envoi du fichier…',
    upload_sent: (name) => `Le fichier est envoyé au conseiller : ${name}`,
    upload_type: 'Ce fichier ne peut pas être envoyé. Envoyez un PDF ou une photo (JPEG ou PNG).',
    upload_too_big: (max) => `Ce fichier est trop gros : ${max} au plus.`,
    upload_failed: "Le fichier n'est pas envoyé. Essayez encore.",
    audio_only_self: 'La connexion est trop faible pour la vidéo. Le son continue. L’image du conseiller est arrêtée.',
    audio_only_peer: 'La connexion du conseiller est faible. Le son continue. Son image est arrêtée.',
    lang_name: 'Français',
  },
  en: {
    brand: 'Public services video desk',
    loading: 'Connecting…',
    insecure_title: 'Kiosk not secure',
    insecure_text: 'HTTPS required. Contact the kiosk administrator.',
    signin_title: 'Kiosk to set up',
    signin_text: 'Type the set-up code given by your administrator.',
    token_label: 'Set-up code',
    signin_button: 'Set up',
    pair_refused: 'This code does not work. Ask the administrator for a new one.',
    device_refused: 'This kiosk is no longer recognised. Ask the administrator for a new code.',
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
    eta_unknown: 'An adviser is about to answer you.',
    quality_good: 'Connection: good',
    quality_fair: 'Connection: fair',
    quality_poor: 'Connection: poor',
    quality_unknown: 'Connecting…',
    quality_poor_notice: 'The connection is poor. The picture may stop. Keep talking: the adviser can hear you.',
    eta_now: 'An adviser will answer you in a moment.',
    wait_net: (ms, kbps) => `Connection to the server: ${ms} ms, ${kbps >= 1000 ? `${(kbps / 1000).toFixed(1)} Mbit/s` : `${Math.round(kbps)} kbit/s`} sent`,
    mic_silent: 'We cannot hear you. Check that the microphone is not covered, then speak: the adviser must hear you.',
    camera_dark: 'We receive no picture from the camera. Check that it is not covered or unplugged.',
    no_agent: 'No adviser is available right now.',
    no_agent_options: 'You may wait: your place is kept. You may also cancel the call and come back later.',
    waited: (secs) => `You have been waiting for ${duration(secs)}`,
    cancel: 'Cancel the call',
    call_title: 'In a call',
    connecting: 'Connecting the video…',
    mute: 'Mute the microphone',
    unmute: 'Unmute the microphone',
    camera_off: 'The adviser turned their camera off',
    camera_none: 'No picture from the adviser for now',
    camera_hear: 'You can still hear the adviser, and they can hear you.',
    camera_hear_muted: 'You can still hear the adviser.',
    hangup: 'Hang up',
    volume: 'Sound volume',
    volume_down: 'Quieter',
    volume_up: 'Louder',
    ended_title: 'Call ended',
    ended_answered: 'Thank you for your visit. Goodbye!',
    ended_cancelled: 'Your call is cancelled.',
    callback_offer: 'You can also leave. An adviser will call you back.',
    callback_open: 'Call me back',
    callback_title: 'Call me back',
    callback_text: 'Type your phone number.',
    callback_erase: 'Erase',
    callback_when: 'When?',
    callback_asap: 'As soon as possible',
    callback_after: (hour) => `After ${hour}:00`,
    callback_confirm: 'Confirm',
    callback_bad_number: 'This number does not work. It needs 10 digits, or + and the country code.',
    callback_failed: 'The callback did not work. You keep your place in the queue.',
    callback_done: (phone) => `Done. An adviser will call you on ${phone}.`,
    callback_done_at: (phone, hour) => `Done. An adviser will call you on ${phone} after ${hour}:00.`,
    callback_done_plain: 'Done. An adviser will call you back.',
    ended_closed: 'The service has just closed. Please come back during opening hours.',
    ended_other: 'No adviser could answer. You can try again later.',
    ended_dropped: 'The connection was lost and the call stopped. You can call again.',
    peer_lost: 'The link with the adviser is down. Reconnecting…',
    agent_reconnecting: 'The adviser is reconnecting. Please stay on the line.',
    home: 'Back to the start',
    service_closed: 'This service is closed now. Choose another service or come back later.',
    queue_full: 'Too many people are waiting for this service. Try again in a few minutes.',
    call_failed: 'The call could not be started. Please try again.',
    offline: 'Connection to the server lost. Trying again…',
    bad_token: 'This token is refused. Check it or ask for a new one.',
    chat_title: 'Written messages',
    chat_hint: 'You can also write to the adviser.',
    chat_label: 'Your message',
    chat_send: 'Send',
    chat_you: 'You',
    chat_too_long: 'Message too long: 1,000 characters at most.',
    chat_failed: 'The message could not be sent. Please try again.',
    role_kiosk: 'visitor',
    role_agent: 'adviser',
    role_supervisor: 'manager',
    role_interpreter: 'interpreter',
    person: (name, role) => `${name} (${role})`,
    joined: (who) => `${who} joined the call`,
    joined_sub: (count) => (count > 1 ? 'These people can see and hear you.' : 'This person can see and hear you.'),
    left: (who) => `${who} no longer takes part in the conversation`,
    agent_video: 'The adviser',
    transfer_title: (name) => `Transferring you to ${name}…`,
    transfer_stay: 'Please stay on the line.',
    transfer_wait: 'Waiting for the next adviser',
    transfer_back: (who) => `${who} is answering you.`,
    chat_hint_transfer: 'You can write to the next adviser as soon as they answer.',
    hold_title: 'Your adviser is consulting a colleague.',
    hold_stay: 'Please wait, do not hang up.',
    hold_wait: 'You are on hold.',
    hold_back: 'Your adviser is back with you.',
    chat_hint_hold: 'You can write again as soon as your adviser is back.',
    docs_title: 'Documents',
    doc_open: (name) => `See again: ${name}`,
    doc_from: 'The adviser sends you this document.',
    doc_link_hint: 'Address to type on your phone or computer:',
    doc_print: 'Print',
    doc_close: 'Close',
    doc_loading: 'The document is coming…',
    doc_failed: 'The document cannot be shown. Ask the adviser to send it again.',
    still_countdown: (n) => `The adviser wants to see your paper. Hold it up to the camera. Photo in ${n}…`,
    still_taking: 'Photo…',
    still_sent: 'The photo is sent to the adviser.',
    still_failed: 'The photo did not work. The adviser can ask for it again.',
    upload: 'Send a file to the adviser',
    upload_sending: 'Sending the file…',
    upload_sent: (name) => `The file is sent to the adviser: ${name}`,
    upload_type: 'This file cannot be sent. Send a PDF or a photo (JPEG or PNG).',
    upload_too_big: (max) => `This file is too big: ${max} at most.`,
    upload_failed: 'The file was not sent. Try again.',
    audio_only_self: 'The connection is too poor for video. The sound goes on. The adviser’s picture is stopped.',
    audio_only_peer: 'The adviser’s connection is poor. The sound goes on. Their picture is stopped.',
    lang_name: 'English',
  },
  ar: {
    brand: 'الاستقبال بالفيديو للخدمات العامة',
    loading: 'جارٍ الاتصال…',
    insecure_title: 'الجهاز غير آمن',
    insecure_text: 'يلزم عنوان HTTPS. اتصل بمسؤول الجهاز.',
    signin_title: 'الجهاز بحاجة إلى إعداد',
    signin_text: 'اكتب رمز الإعداد الذي قدّمه المسؤول.',
    token_label: 'رمز الإعداد',
    signin_button: 'إعداد',
    pair_refused: 'هذا الرمز لا يعمل. اطلب رمزًا جديدًا من المسؤول.',
    device_refused: 'لم يعد هذا الجهاز معروفًا. اطلب رمزًا جديدًا من المسؤول.',
    start_title: 'مرحبًا! بأي خدمة تريد الاتصال؟',
    start_text: 'المس اسم الخدمة. سيتحدث إليك مستشار بالفيديو.',
    open: 'مفتوح',
    closed: 'مغلق',
    no_services: 'لا توجد خدمة متاحة الآن.',
    check_title: 'نتحقق من الكاميرا والميكروفون',
    check_see: 'هل ترى نفسك على الشاشة؟',
    check_hear: 'تكلّم: يجب أن يتحرك الشريط الأخضر.',
    call_button: 'اتصال',
    back: 'رجوع',
    service: (name) => `الخدمة: ${name}`,
    camera_error: 'الكاميرا أو الميكروفون لا يعمل. أخبر موظفي الاستقبال في البلدية.',
    waiting_title: 'يرجى الانتظار',
    position: 'دورك:',
    eta: (secs) => `مدة الانتظار المتوقعة: حوالي ${minutes(secs, 'ar')}`,
    eta_unknown: 'سيجيبك مستشار.',
    quality_good: 'الاتصال: جيد',
    quality_fair: 'الاتصال: متوسط',
    quality_poor: 'الاتصال: ضعيف',
    quality_unknown: 'جارٍ الاتصال…',
    quality_poor_notice: 'الاتصال ضعيف. قد تتوقف الصورة. واصل الكلام: المستشار يسمعك.',
    eta_now: 'سيجيبك مستشار بعد لحظات.',
    wait_net: (ms, kbps) => `الاتصال بالخادم: ${ms} ms، ${Math.round(kbps)} kbit/s`,
    mic_silent: 'لا نسمعك. تأكد أن الميكروفون غير مغطى ثم تكلم: يجب أن يسمعك المستشار.',
    camera_dark: 'لا تصلنا صورة الكاميرا. تأكد أنها غير مغطاة أو مفصولة.',
    no_agent: 'لا يوجد مستشار متاح الآن.',
    no_agent_options: 'يمكنك الانتظار: دورك محفوظ. ويمكنك أيضًا إلغاء الاتصال والعودة لاحقًا.',
    waited: (secs) => `أنت تنتظر منذ ${duration(secs)}`,
    cancel: 'إلغاء الاتصال',
    call_title: 'في مكالمة',
    connecting: 'الفيديو في الطريق…',
    mute: 'كتم الميكروفون',
    unmute: 'تشغيل الميكروفون',
    camera_off: 'أوقف المستشار الكاميرا',
    camera_none: 'لا توجد صورة للمستشار الآن',
    camera_hear: 'ما زلت تسمع المستشار، وهو يسمعك.',
    camera_hear_muted: 'ما زلت تسمع المستشار.',
    hangup: 'إنهاء المكالمة',
    volume: 'مستوى الصوت',
    volume_down: 'أخفض',
    volume_up: 'أعلى',
    ended_title: 'انتهت المكالمة',
    ended_answered: 'شكرًا لزيارتك. إلى اللقاء!',
    ended_cancelled: 'ألغيت الاتصال.',
    callback_offer: 'يمكنك أيضًا المغادرة. سيتصل بك مستشار.',
    callback_open: 'اتصلوا بي لاحقًا',
    callback_title: 'اتصلوا بي لاحقًا',
    callback_text: 'اكتب رقم هاتفك.',
    callback_erase: 'امسح',
    callback_when: 'متى؟',
    callback_asap: 'في أقرب وقت',
    callback_after: (hour) => `بعد الساعة ${hour}`,
    callback_confirm: 'تأكيد',
    callback_bad_number: 'هذا الرقم لا يعمل. يلزم 10 أرقام.',
    callback_failed: 'لم ينجح طلب الاتصال. تبقى في مكانك في الانتظار.',
    callback_done: (phone) => `تم. سيتصل بك مستشار على الرقم ${phone}.`,
    callback_done_at: (phone, hour) => `تم. سيتصل بك مستشار على الرقم ${phone} بعد الساعة ${hour}.`,
    callback_done_plain: 'تم. سيتصل بك مستشار.',
    ended_closed: 'الخدمة مغلقة الآن. عُد حين تكون مفتوحة.',
    ended_other: 'لم يتمكن أي مستشار من الرد عليك. يمكنك الاتصال لاحقًا.',
    ended_dropped: 'انقطع الاتصال وتوقفت المكالمة. يمكنك الاتصال مرة أخرى.',
    peer_lost: 'انقطع الاتصال بالمستشار. انتظر قليلًا.',
    agent_reconnecting: 'المستشار يعيد الاتصال. ابقَ على الخط.',
    home: 'العودة إلى البداية',
    service_closed: 'هذه الخدمة مغلقة الآن. اختر خدمة أخرى أو عُد لاحقًا.',
    queue_full: 'ينتظر كثير من الأشخاص لهذه الخدمة. حاول مرة أخرى بعد بضع دقائق.',
    call_failed: 'لم ينجح الاتصال. حاول مرة أخرى.',
    offline: 'انقطع اتصال الجهاز. يحاول الاتصال من جديد.',
    bad_token: 'هذا الرمز مرفوض. تحقق منه أو اطلب رمزًا جديدًا.',
    chat_title: 'رسائل مكتوبة',
    chat_hint: 'يمكنك أيضًا الكتابة إلى المستشار.',
    chat_label: 'رسالتك',
    chat_send: 'إرسال',
    chat_you: 'أنت',
    chat_too_long: 'رسالتك طويلة جدًا. اكتب أقل من 1000 حرف.',
    chat_failed: 'لم تُرسَل الرسالة. حاول مرة أخرى.',
    role_kiosk: 'الزائر',
    role_agent: 'المستشار',
    role_supervisor: 'المسؤول',
    role_interpreter: 'المترجم',
    person: (name, role) => `${name} (${role})`,
    joined: (who) => `انضم ${who} إلى المكالمة`,
    joined_sub: (count) => (count > 1 ? 'هؤلاء الأشخاص يرونك ويسمعونك.' : 'هذا الشخص يراك ويسمعك.'),
    left: (who) => `غادر ${who} المحادثة`,
    agent_video: 'المستشار',
    transfer_title: (name) => `جارٍ تحويلك إلى ${name}…`,
    transfer_stay: 'ابقَ على الخط.',
    transfer_wait: 'في انتظار المستشار التالي',
    transfer_back: (who) => `${who} يجيبك.`,
    chat_hint_transfer: 'يمكنك الكتابة إلى المستشار التالي حين يرد.',
    hold_title: 'مستشارك يستشير زميلًا.',
    hold_stay: 'انتظر من فضلك. لا تُنهِ المكالمة.',
    hold_wait: 'أنت في الانتظار.',
    hold_back: 'عاد مستشارك إليك.',
    chat_hint_hold: 'يمكنك الكتابة من جديد حين يعود مستشارك.',
    docs_title: 'المستندات',
    doc_open: (name) => `عرض من جديد: ${name}`,
    doc_from: 'يرسل إليك المستشار هذا المستند.',
    doc_link_hint: 'العنوان الذي تكتبه على هاتفك أو حاسوبك:',
    doc_print: 'طباعة',
    doc_close: 'إغلاق',
    doc_loading: 'المستند في الطريق…',
    doc_failed: 'لا يمكن عرض المستند. اطلب من المستشار أن يرسله مرة أخرى.',
    still_countdown: (n) => `يريد المستشار رؤية ورقتك. اعرضها أمام الكاميرا. الصورة بعد ${n}…`,
    still_taking: 'جارٍ التصوير…',
    still_sent: 'أُرسلت الصورة إلى المستشار.',
    still_failed: 'لم تنجح الصورة. يمكن للمستشار أن يطلبها مرة أخرى.',
    upload: 'إرسال ملف إلى المستشار',
    upload_sending: 'جارٍ إرسال الملف…',
    upload_sent: (name) => `أُرسل الملف إلى المستشار: ${name}`,
    upload_type: 'لا يمكن إرسال هذا الملف. أرسل ملف PDF أو صورة (JPEG أو PNG).',
    upload_too_big: (max) => `هذا الملف كبير جدًا: ${max} على الأكثر.`,
    upload_failed: 'لم يُرسَل الملف. حاول مرة أخرى.',
    audio_only_self: 'الاتصال ضعيف جدًا للفيديو. الصوت مستمر. صورة المستشار متوقفة.',
    audio_only_peer: 'اتصال المستشار ضعيف. الصوت مستمر. صورته متوقفة.',
    lang_name: 'العربية',
  },
};

function minutes(secs, lang) {
  const m = Math.max(1, Math.round(secs / 60));
  // Arabic counts one, two, three to ten and more differently.
  if (lang === 'ar') return m === 1 ? 'دقيقة واحدة' : m === 2 ? 'دقيقتين' : m <= 10 ? `${m} دقائق` : `${m} دقيقة`;
  return m === 1 ? '1 minute' : `${m} minutes`;
}

/// The languages of the kiosk, in the order of its buttons; right-to-left ones are marked.
const LANGUAGES = ['fr', 'en', 'ar'];
const RTL = new Set(['ar']);

// Seconds the "call ended" screen stays before going back to the start screen.
const ENDED_SECS = 6;
// Seconds without a touch on the check screen before going back to the start screen.
const CHECK_IDLE_SECS = 90;
// Seconds a "… no longer takes part" line stays.
const LEFT_SECS = 8;
// Seconds the "… is answering you" line stays after a transfer; at most that long the picture
// waits for the next agent's video before it shows again anyway.
const BACK_SECS = 5;
const VIDEO_WAIT_SECS = 10;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const ui = {
  lang: 'fr',
  // Signed in with the enrolled kiosk's device credential (kept in localStorage).
  device: false,
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
  notice: '', // the server's notice (welcome), shown before a call
  participants: [], // the others in the call, from the last `participants` push
  left: [], // third persons who just left, shown a few seconds
  leftTimer: 0,
  // The call was transferred to another service: {to, name}, until its next agent answers.
  transfer: null,
  // After a transfer, the picture stays covered until the next agent's video arrives.
  videoWait: false,
  backAgent: null, // the agent who answered after the transfer
  backTimer: 0,
  // On hold while the agent consults a colleague; then back with that agent or the colleague.
  hold: false,
  agentName: null, // the agent of the call, when a `participants` push named it
  holdAgent: null, // the agent who put the call on hold, when known
  resumed: false, // off hold, until the picture shows again
  afterHoldUntil: 0, // off hold: until then, a `participants` push naming the agent says who is back
  // What the agent's picture shows (PictureWatch): `picture`, `black`, `none`; null before the
  // media connection is up. `pictureSeen`: a picture came earlier in the call.
  picture: null,
  pictureSeen: false,
};

const t = (key, ...args) => {
  // A text a language lacks is shown in French rather than not at all.
  const v = TEXT[ui.lang][key] ?? TEXT.fr[key];
  return typeof v === 'function' ? v(...args) : v;
};

let connection = null;

// The agent's picture: black frames (camera turned off) or none at all get a notice instead.
const pictureWatch = new PictureWatch($('#remote-video'), (state, { seenPicture }) => {
  ui.picture = state;
  ui.pictureSeen = ui.pictureSeen || seenPicture;
  renderCameraOff();
});

// The remote pictures: the agent in the main video, anyone else (a manager who joined) in tiles.
const tiles = new RemoteTiles({
  main: $('#remote-video'),
  container: $('#remote-extra'),
  label: (index) => {
    if (index === 0) {
      const agent = ui.participants.find((p) => p.role === 'agent');
      return agent ? who(agent) : t('agent_video');
    }
    // Nobody behind a slot once its person left: the tile hides instead of freezing.
    const third = thirdPersons()[index - 1];
    return third ? who(third) : null;
  },
});

const chat = new ChatPanel({
  log: $('#chat-log'),
  form: $('#chat-form'),
  input: $('#chat-input'),
  error: $('#chat-error'),
  send: (text) => connection.request({ type: 'chat', text }),
  text: (key) => ({ you: t('chat_you'), too_long: t('chat_too_long') })[key] || t('chat_failed'),
});

/// A participant as the kiosk names them: "Sophie (responsable)".
function who(person) {
  const role = t(`role_${person.role}`) || person.role;
  return person.name ? t('person', person.name, role) : role;
}

/// People in the call besides the kiosk and its agent (a manager who barged in, an interpreter).
function thirdPersons() {
  return ui.participants.filter((p) => p.role !== 'agent' && p.role !== 'kiosk');
}

function setScreen(name) {
  ui.screen = name;
  showScreen(name);
  if (name !== 'waiting') {
    closeCallback();
    $('#wait-audio').srcObject = null;
    $('#remote-video').muted = false;
  }
}

/// The check of the link while waiting: its round trip and what the kiosk sends, measured on
/// the media connection to the server.
function renderWaitNet(sample) {
  const el = $('#wait-net');
  const known = sample && sample.rtt != null && sample.sendKbps != null;
  el.hidden = !known;
  el.textContent = known ? t('wait_net', Math.round(sample.rtt * 1000), sample.sendKbps) : '';
}

function applyLanguage() {
  document.documentElement.lang = ui.lang;
  document.documentElement.dir = RTL.has(ui.lang) ? 'rtl' : 'ltr';
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  renderLanguages();
  renderMute();
  renderServices();
  renderWaiting();
  if (ui.service) {
    $('#check-service').textContent = t('service', serviceName(ui.service));
    $('#waiting-service').textContent = t('service', serviceName(ui.service));
  }
  if (ui.offline) showNet(t('offline'));
  renderPeople();
  renderTransfer();
  renderCameraOff();
  renderDocs();
  tiles.relabel();
}

/// One button per other language, each named in its own language (the first one is
/// `#lang`: English from French, French from any other).
function renderLanguages() {
  const others = LANGUAGES.filter((code) => code !== ui.lang);
  $('#langs').replaceChildren(
    ...others.map((code, i) => {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'secondary lang';
      button.lang = code;
      button.dir = RTL.has(code) ? 'rtl' : 'ltr';
      button.textContent = TEXT[code].lang_name;
      if (i === 0) button.id = 'lang';
      button.dataset.testid = i === 0 ? 'lang' : `lang-${code}`;
      button.addEventListener('click', () => {
        ui.lang = code;
        applyLanguage();
      });
      return button;
    }),
  );
}

/// The microphone toggle: its label and `aria-pressed` follow the microphone.
function renderMute() {
  const button = $('#mute');
  button.setAttribute('aria-pressed', String(ui.muted));
  const label = ui.muted ? t('unmute') : t('mute');
  if (button.textContent !== label) button.textContent = label;
}

/// Over the agent's picture when it shows nothing (camera turned off, no video): says so, and
/// that the conversation goes on. Not while another notice covers the picture (transfer, hold).
/// The agent's last picture and a line saying why it stands still, while the call goes on in
/// audio only (this kiosk's link, or the agent's, is too poor for video).
function renderAudioOnly() {
  const on = Boolean(ui.call) && ui.screen === 'call' && (fallback.on || ui.peerAudioOnly);
  holdPicture($('#remote-video'), $('#remote-still'), on);
  const note = $('#audio-only');
  const text = !on ? '' : fallback.on ? t('audio_only_self') : t('audio_only_peer');
  if (note.textContent !== text) note.textContent = text;
  note.hidden = !on;
  // The line says more than the notice of a poor link.
  if (on) $('#quality-warning').hidden = true;
  renderCameraOff();
}

function onPeerAudioOnly(push) {
  if (!ui.call || push.call !== ui.call.id || push.role !== 'agent') return;
  ui.peerAudioOnly = push.on;
  renderAudioOnly();
}

function renderCameraOff() {
  const covered = Boolean(ui.transfer) || ui.hold || ui.videoWait || !ui.call || ui.screen !== 'call' || fallback.on || ui.peerAudioOnly;
  const off = !covered && (ui.picture === 'black' || ui.picture === 'none');
  const box = $('#camera-off-box');
  const title = off ? (ui.pictureSeen ? t('camera_off') : t('camera_none')) : '';
  const sub = off ? (ui.muted ? t('camera_hear_muted') : t('camera_hear')) : '';
  if ($('#camera-off-title').textContent !== title) $('#camera-off-title').textContent = title;
  if ($('#camera-off-sub').textContent !== sub) $('#camera-off-sub').textContent = sub;
  box.hidden = !off;
  document.body.dataset.camera = off ? 'off' : 'on';
}

function renderNotice() {
  for (const el of [$('#notice'), $('#check-notice')]) {
    el.textContent = ui.notice;
    el.hidden = !ui.notice;
  }
}

/// The large banner of the call screen: who else sees and hears the caller, who just left.
function renderPeople() {
  const third = thirdPersons();
  const lines = [];
  for (const person of third) lines.push(['person', t('joined', who(person))]);
  if (third.length > 0) lines.push(['sub', t('joined_sub', third.length)]);
  for (const person of ui.left) lines.push(['gone', t('left', who(person))]);
  renderLines($('#joined'), lines);
}

function onParticipants(push) {
  if (!ui.call || push.call !== ui.call.id) return;
  const key = (p) => `${p.role}\u0000${p.name}`;
  const before = thirdPersons();
  ui.participants = (push.participants || []).filter((p) => p.role !== 'kiosk');
  if (ui.participants.some((p) => p.role === 'agent')) answeredWhileWaiting();
  // After a transfer, the next agent answered: back to the conversation.
  const agent = ui.participants.find((p) => p.role === 'agent');
  if (ui.transfer && agent) transferAnswered(agent);
  else if (agent && !ui.hold && Date.now() < ui.afterHoldUntil) holdAnswered(agent);
  if (agent && !ui.hold) ui.agentName = agent.name;
  // On hold the kiosk sees nobody: nobody left for all that.
  if (ui.hold) {
    renderPeople();
    tiles.relabel();
    return;
  }
  const now = new Set(thirdPersons().map(key));
  const gone = before.filter((p) => !now.has(key(p)));
  ui.left = ui.left.filter((p) => !now.has(key(p)));
  if (gone.length > 0) {
    ui.left.push(...gone);
    clearTimeout(ui.leftTimer);
    ui.leftTimer = setTimeout(() => {
      ui.left = [];
      renderPeople();
    }, LEFT_SECS * 1000);
  }
  renderPeople();
  tiles.relabel();
}

function onChat(push) {
  if (!ui.call || push.call !== ui.call.id) return;
  chat.add({ name: who({ role: push.from, name: push.name }), text: push.text, at: push.at_ms || Date.now() });
}

/// The agent handed the call to another service: the media connection and the camera stay, the
/// picture of the agent who left is covered, the caller is told to stay on the line and sees
/// their place in the new queue.
function callTransferred(push) {
  if (!ui.call || push.call !== ui.call.id) return;
  ui.transfer = { to: push.to, name: push.service_name || push.to };
  ui.backAgent = null;
  ui.call.position = null;
  ui.call.eta = null;
  ui.videoWait = true;
  clearTimeout(ui.backTimer);
  $('#call-status').textContent = '';
  // The screen is the call's (its camera preview and hang-up button) whatever came before.
  if (ui.screen !== 'call') setScreen('call');
  renderTransfer();
  $('#h-transfer').focus({ preventScroll: true });
}

/// The next agent answered the transferred call: the conversation view comes back, its picture
/// as soon as that agent's video arrives on the same media connection.
function transferAnswered(agent) {
  const hadFocus = $('#transfer').contains(document.activeElement);
  ui.transfer = null;
  ui.backAgent = agent;
  renderTransfer();
  if (hadFocus) $('#hangup').focus({ preventScroll: true });
  revealWhenVideo();
}

/// The agent consults a colleague (`on`: the kiosk receives nobody and nobody receives it; the
/// chat pauses) or the consultation is over (`on` false): the agent is back, or the colleague
/// took the call over, on the same media connection.
function onHold(push) {
  if (!ui.call || push.call !== ui.call.id) return;
  if (push.on) {
    if (ui.hold) return;
    ui.hold = true;
    ui.holdAgent = ui.participants.find((p) => p.role === 'agent')?.name || ui.agentName;
    ui.resumed = false;
    ui.afterHoldUntil = 0;
    ui.backAgent = null;
    clearTimeout(ui.backTimer);
    $('#call-status').textContent = '';
    if (ui.screen !== 'call') setScreen('call');
    renderTransfer();
    $('#h-hold').focus({ preventScroll: true });
    return;
  }
  if (!ui.hold) return;
  const hadFocus = $('#hold').contains(document.activeElement);
  ui.hold = false;
  ui.resumed = true;
  // The server names the agent right after the hold ends.
  ui.afterHoldUntil = Date.now() + VIDEO_WAIT_SECS * 1000;
  ui.videoWait = true;
  renderTransfer();
  if (hadFocus) $('#hangup').focus({ preventScroll: true });
  revealWhenVideo();
}

/// Off hold, the server names the agent: the colleague who took the call over (or one this
/// kiosk cannot tell from its agent, never named before) is announced.
function holdAnswered(agent) {
  ui.afterHoldUntil = 0;
  if (ui.holdAgent && agent.name === ui.holdAgent) return;
  ui.backAgent = agent;
  if (ui.videoWait) renderTransfer();
  else showBack(t('transfer_back', who(agent)));
}

/// A line over the picture for a few seconds: who answers.
function showBack(text) {
  $('#call-status').textContent = text;
  clearTimeout(ui.backTimer);
  ui.backTimer = setTimeout(() => {
    if ($('#call-status').textContent === text) $('#call-status').textContent = '';
  }, BACK_SECS * 1000);
}

/// Uncovers the picture once frames are decoded again (or after `VIDEO_WAIT_SECS` anyway).
async function revealWhenVideo() {
  const call = ui.call;
  const still = () => ui.call === call && !ui.transfer && !ui.hold && ui.videoWait;
  const decoded = async () => (ui.media ? (await ui.media.stats()).framesDecoded : 0);
  let media = ui.media;
  let base = await decoded();
  const until = Date.now() + VIDEO_WAIT_SECS * 1000;
  while (still() && Date.now() < until) {
    await sleep(150);
    if (!still()) return;
    // A new media connection (not expected after a transfer) counts its frames from zero.
    if (ui.media !== media) {
      media = ui.media;
      base = 0;
    }
    if ((await decoded()) > base) break;
  }
  if (!still()) return;
  ui.videoWait = false;
  renderTransfer();
  // Who answers, over the picture for a few seconds.
  const back = ui.backAgent ? t('transfer_back', who(ui.backAgent)) : ui.resumed ? t('hold_back') : '';
  ui.resumed = false;
  showBack(back);
}

function renderTransfer() {
  const transfer = ui.transfer;
  const box = $('#transfer');
  box.hidden = !transfer;
  if (transfer) {
    const title = t('transfer_title', serviceNameOf(transfer.to, transfer.name));
    if ($('#h-transfer').textContent !== title) $('#h-transfer').textContent = title;
    $('#transfer-position').textContent = ui.call?.position ?? '…';
    $('#transfer-eta').textContent = etaText(ui.call);
  }
  // On hold: a calm notice, the picture covered (nothing comes), the hang-up button in reach.
  const hold = ui.hold && Boolean(ui.call);
  $('#hold').hidden = !hold;
  const wait = (ui.videoWait || hold) && Boolean(ui.call);
  $('#remote-wait').hidden = !wait;
  const back = ui.backAgent ? `${t('transfer_back', who(ui.backAgent))} ` : '';
  $('#remote-wait-text').textContent = transfer ? t('transfer_wait') : hold ? t('hold_wait') : wait ? `${back}${t('connecting')}` : '';
  $('#remote-video').closest('.stage').dataset.wait = wait ? 'on' : 'off';
  document.body.dataset.transfer = transfer ? 'on' : 'off';
  document.body.dataset.hold = hold ? 'on' : 'off';
  // Nobody to write to until the next agent answers, or while on hold.
  const paused = Boolean(transfer) || hold;
  $('#chat-input').disabled = paused;
  $('#chat-form button[type="submit"]').disabled = paused;
  $('#chat-hint').textContent = transfer ? t('chat_hint_transfer') : hold ? t('chat_hint_hold') : t('chat_hint');
  renderCameraOff();
}

function resetCallView() {
  ui.participants = [];
  ui.left = [];
  clearTimeout(ui.leftTimer);
  ui.transfer = null;
  ui.videoWait = false;
  ui.backAgent = null;
  clearTimeout(ui.backTimer);
  ui.hold = false;
  ui.agentName = null;
  ui.holdAgent = null;
  ui.resumed = false;
  ui.afterHoldUntil = 0;
  pictureWatch.stop();
  ui.picture = null;
  ui.pictureSeen = false;
  resetDocs();
  fallback.reset();
  ui.peerAudioOnly = false;
  renderAudioOnly();
  renderTransfer();
  renderPeople();
  renderCameraOff();
  tiles.clear();
  chat.clear();
}

function serviceName(service) {
  return ui.lang === 'en' && service.name_en ? service.name_en : service.name;
}

/// The name of service `id` in the page's language, `fallback` (the server's French name) when
/// the kiosk does not list it.
function serviceNameOf(id, fallback) {
  const service = ui.services.find((s) => s.id === id);
  return service ? serviceName(service) : fallback || id;
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
    // A service's French name keeps its own reading order on an Arabic page.
    name.dir = 'auto';
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
    // Interpreter services are for agents, who add an interpreter to a call.
    ui.services = result.services.filter((s) => !s.interpreter);
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
  renderMute();
  resetCallView();
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

/// Tells the server how the camera and the microphone are, for the administrators: from a
/// stream just opened, from the error that prevented it, or (before any) from the devices the
/// browser lists.
async function reportDevices({ stream = null, error = null } = {}) {
  if (!connection?.online) return;
  let camera = 'unknown';
  let microphone = 'unknown';
  if (stream) {
    camera = stream.getVideoTracks().some((t) => t.readyState === 'live') ? 'ok' : 'missing';
    microphone = stream.getAudioTracks().some((t) => t.readyState === 'live') ? 'ok' : 'missing';
  } else if (error) {
    const state = { NotAllowedError: 'refused', SecurityError: 'refused', InsecureContextError: 'refused', NotFoundError: 'missing', OverconstrainedError: 'missing' }[error.name] || 'failed';
    camera = state;
    microphone = state;
  }
  if (!stream) {
    try {
      const kinds = new Set((await navigator.mediaDevices.enumerateDevices()).map((d) => d.kind));
      if (!kinds.has('videoinput')) camera = 'missing';
      if (!kinds.has('audioinput')) microphone = 'missing';
    } catch {
      // No device list (an insecure page): what the error said stands.
    }
  }
  connection.request({ type: 'kiosk_status', camera, microphone, browser: navigator.userAgent.slice(0, 512) }).catch((err) => console.error('kiosk: status', err));
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
    reportDevices({ stream: ui.stream });
  } catch (err) {
    console.error('kiosk: camera/microphone', err);
    reportDevices({ error: err });
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

/// What the caller is told of the wait: the estimate, that an agent is about to answer, or
/// that nobody can answer now.
function etaText(call) {
  if (!call || call.position == null) return t('eta_unknown');
  if (call.eta == null) return t('no_agent');
  if (call.eta < 30) return t('eta_now');
  return t('eta', call.eta);
}

function renderWaiting() {
  const call = ui.call;
  if (!call) return;
  // No position: the call rings an agent (offered at once). A position with no estimate: no
  // agent serving the service is signed in and ready.
  $('#position-line').hidden = call.position == null;
  $('#position').textContent = call.position ?? '';
  $('#eta').textContent = etaText(call);
  const nobody = call.position != null && call.eta == null;
  $('#no-agent').hidden = !nobody;
  $('#no-agent').textContent = nobody ? t('no_agent_options') : '';
  $('#waited').textContent = t('waited', (Date.now() - call.since) / 1000);
  renderCallbackOffer();
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

/// Whether the peer connection of the same call went on without the websocket.
function mediaAlive(same) {
  const pc = ui.media?.pc;
  return Boolean(same && pc && !['failed', 'closed'].includes(pc.connectionState));
}

/// The call the server kept while this kiosk's connection was down (or its page reloaded):
/// the waiting screen at its place, or the call with media negotiated again if it was lost.
async function resumeCall(resumed) {
  await refreshServices();
  const same = ui.call && ui.call.id === resumed.call;
  if (!same) {
    releaseCall();
    ui.service = ui.services.find((s) => s.id === resumed.service) || { id: resumed.service, name: resumed.service };
    ui.call = { id: resumed.call, position: null, eta: null, since: Date.now() };
  }
  if (!resumed.connected) {
    if (resumed.position != null) {
      ui.call.position = resumed.position;
      ui.call.eta = resumed.eta_secs ?? null;
    }
    $('#waiting-service').textContent = t('service', serviceName(ui.service));
    renderWaiting();
    if (ui.screen !== 'waiting') setScreen('waiting');
    // It waits with its media: a reloaded page (or a peer that did not survive) connects it
    // again, to hear the wait and to be answered on it.
    if (resumed.media && !mediaAlive(same)) await mediaReady({ call: resumed.call, waiting: true });
    return;
  }
  const pc = ui.media?.pc;
  if (mediaAlive(same)) {
    // The media went on without the websocket.
    $('#call-status').textContent = pc.connectionState === 'connected' ? '' : t('connecting');
    return;
  }
  await mediaReady({ call: resumed.call });
}

/// While the call waits in its queue, the kiosk's media is already connected: the voice of
/// the wait (hold audio, the spoken position) plays in `#wait-audio`; the agent's picture and
/// voice arrive on the same connection when they answer.
function playWaitAudio(streams) {
  const audio = $('#wait-audio');
  const waiting = ui.screen === 'waiting';
  // On the waiting screen the voice plays apart (a <video> that never got a frame stays
  // silent); on the call screen the agent's picture plays it.
  $('#remote-video').muted = waiting;
  const tracks = waiting ? (streams[0]?.getAudioTracks() || []) : [];
  const current = audio.srcObject?.getAudioTracks() || [];
  if (tracks.length === current.length && tracks.every((track, i) => track === current[i])) return;
  audio.srcObject = tracks.length ? new MediaStream(tracks) : null;
  if (tracks.length) audio.play().catch(() => {});
  applyVolume();
}

/// The agent answered a call whose media connected while it waited: the call screen, at once.
function answeredWhileWaiting() {
  if (ui.screen !== 'waiting') return;
  setScreen('call');
  const pc = ui.media?.pc;
  $('#call-status').textContent = pc && pc.connectionState === 'connected' ? '' : t('connecting');
  playWaitAudio(tiles.streams);
}

async function mediaReady(push) {
  if (!ui.call || push.call !== ui.call.id) return;
  ui.waitMedia = Boolean(push.waiting);
  if (!push.waiting) setScreen('call');
  $('#call-status').textContent = t('connecting');
  if (!ui.stream) {
    try {
      ui.stream = await getLocalMedia();
    } catch (err) {
      console.error('kiosk: camera/microphone', err);
    }
  }
  ui.media?.close();
  const media = pageCall(
    connection,
    ui.stream,
    (state) => {
      $('#call-status').textContent = state === 'connected' ? '' : state === 'failed' || state === 'disconnected' ? t('offline') : t('connecting');
      // The agent's picture is watched once the media flows; a lost connection says so itself.
      if (state === 'connected') {
        if (!pictureWatch.timer) pictureWatch.start();
      } else {
        pictureWatch.stop();
        ui.picture = null;
        renderCameraOff();
      }
    },
    {
      tiles: {
        render: (streams) => {
          tiles.render(streams);
          playWaitAudio(streams);
        },
      },
    },
  );
  ui.media = media;
  quality.start();
  media.setAudio(!ui.muted);
  try {
    await media.start();
    // A new connection in a call gone audio only sends no video either.
    if (fallback.on) await media.pauseVideo(true);
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
  if (push.outcome === 'callback_requested') {
    showEnded(callbackEndedText());
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

/// The agent's connection to the server dropped (its media may go on) or came back.
function peerSignalling(push) {
  if (!ui.call || push.call !== ui.call.id || push.role !== 'agent') return;
  $('#call-status').textContent = push.online ? '' : t('agent_reconnecting');
}

function peerMediaRestored(push) {
  if (!ui.call || push.call !== ui.call.id) return;
  $('#call-status').textContent = '';
}

/** Lets go of the call: the level meter, the media connection, camera and microphone. */
function releaseCall() {
  ui.stopMeter();
  ui.stopMeter = () => {};
  // The next citizen starts at full volume.
  setVolume(1);
  ui.media?.close();
  ui.media = null;
  quality.stop();
  ui.quality = null;
  showQuality(null);
  stopMedia(ui.stream);
  ui.stream = null;
  ui.call = null;
  resetCallView();
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

/// The loudness of the agent's voice (and of anyone else in the call), in steps of 20 %; it
/// starts at full volume for each citizen.
const VOLUME_STEP = 0.2;

function setVolume(volume) {
  ui.volume = Math.round(Math.min(1, Math.max(0.2, volume)) * 10) / 10;
  applyVolume();
  $('#volume-level').textContent = `${Math.round(ui.volume * 100)} %`;
  $('#volume-down').disabled = ui.volume <= 0.2;
  $('#volume-up').disabled = ui.volume >= 1;
}

function applyVolume() {
  for (const video of document.querySelectorAll('#remote-video, #remote-extra video, #wait-audio')) video.volume = ui.volume ?? 1;
}

function toggleMute() {
  ui.muted = !ui.muted;
  ui.media?.setAudio(!ui.muted);
  renderMute();
  renderCameraOff();
}

/// What the server receives of the kiosk's microphone and camera while the call waits: a
/// clear instruction on the waiting screen when either is silent or dark.
function inputCheck(push) {
  if (!ui.call || push.call !== ui.call.id) return;
  const problems = [];
  if (push.microphone === 'missing') problems.push(t('mic_silent'));
  if (push.camera === 'missing') problems.push(t('camera_dark'));
  const el = $('#device-warning');
  el.textContent = problems.join(' ');
  el.hidden = problems.length === 0;
}

function queuePosition(push) {
  if (!ui.call || push.call !== ui.call.id) return;
  ui.call.position = push.position;
  ui.call.eta = push.eta_secs ?? null;
  ui.call.callback = Boolean(push.callback);
  renderWaiting();
  renderTransfer();
}

// ---------------------------------------------------------------------------------------------
// Being called back: when the wait is long the service may offer it; the citizen types a
// number on the screen's keypad (a kiosk has no keyboard), picks "as soon as possible" or an
// hour later today, and may leave. The call ends `callback_requested`.

const callback = {
  digits: '',
  /// What was asked, for the closing screen: the number as shown, and the hour if any.
  asked: null,
};

/// The hours a citizen may choose, later today: the next four whole hours up to 18 h.
function callbackHours(now = new Date()) {
  const hours = [];
  for (let h = now.getHours() + 1; h <= 18 && hours.length < 4; h += 1) hours.push(h);
  return hours;
}

/// A French number in pairs as it is typed (06 12 34 56 78); an international one as typed.
function showNumber(digits) {
  if (digits.startsWith('+')) return digits;
  return digits.replace(/(\d{2})(?=\d)/g, '$1 ');
}

function renderCallbackOffer() {
  const open = !$('#callback-form').hidden;
  $('#callback-offer').hidden = open || !ui.call?.callback;
}

function renderCallbackNumber() {
  $('#callback-number').textContent = showNumber(callback.digits);
}

function openCallback() {
  callback.digits = '';
  renderCallbackNumber();
  $('#callback-error').hidden = true;
  const when = $('#callback-when');
  for (const label of when.querySelectorAll('label')) label.remove();
  const choices = [{ value: '', text: t('callback_asap') }, ...callbackHours().map((h) => ({ value: String(h), text: t('callback_after', h) }))];
  choices.forEach((choice, i) => {
    const label = document.createElement('label');
    const input = document.createElement('input');
    input.type = 'radio';
    input.name = 'callback-when';
    input.value = choice.value;
    input.checked = i === 0;
    label.append(input, document.createTextNode(choice.text));
    when.append(label);
  });
  $('#callback-form').hidden = false;
  $('#cancel').hidden = true;
  document.querySelector('[data-screen="waiting"] .waiting-box').hidden = true;
  renderCallbackOffer();
  $('#h-callback').focus?.();
}

function closeCallback() {
  $('#callback-form').hidden = true;
  $('#cancel').hidden = false;
  document.querySelector('[data-screen="waiting"] .waiting-box').hidden = false;
  renderCallbackOffer();
}

function callbackKey(key) {
  if (key === 'back') callback.digits = callback.digits.slice(0, -1);
  else if (key === '+') callback.digits = callback.digits ? callback.digits : '+';
  else if (callback.digits.length < 16) callback.digits += key;
  $('#callback-error').hidden = true;
  renderCallbackNumber();
}

async function confirmCallback(event) {
  event.preventDefault();
  if (!ui.call) return;
  const hour = document.querySelector('input[name="callback-when"]:checked')?.value || '';
  let notBefore = null;
  if (hour) {
    const at = new Date();
    at.setHours(Number(hour), 0, 0, 0);
    notBefore = at.getTime();
  }
  const phone = showNumber(callback.digits);
  $('#callback-confirm').disabled = true;
  try {
    const request = { type: 'request_callback', call: ui.call.id, phone: callback.digits };
    if (notBefore) request.not_before_ms = notBefore;
    callback.asked = { phone, hour };
    await connection.request(request);
  } catch (err) {
    callback.asked = null;
    const error = $('#callback-error');
    error.textContent = err.code === 'bad_request' ? t('callback_bad_number') : t('callback_failed');
    error.hidden = false;
  } finally {
    $('#callback-confirm').disabled = false;
  }
}

function callbackEndedText() {
  const asked = callback.asked;
  callback.asked = null;
  if (!asked) return t('callback_done_plain');
  return asked.hour ? t('callback_done_at', asked.phone, asked.hour) : t('callback_done', asked.phone);
}

// ---------------------------------------------------------------------------------------------
// Documents across the call: what the agent sends is shown large and can be printed on the
// kiosk's printer; a still of the camera when the agent asks (the citizen is told and counted
// down); a file from a USB key where this kiosk allows it.

const docs = {
  list: [], // documents the agent sent, in order
  urls: new Map(), // id -> object URL of its file
  shown: null, // {id, kind, size, type} of what the viewer shows
  open: null,
  printed: 0,
  still: false, // a still is being taken
  stills: [], // {width, height} of the stills sent
};

/// Files from a USB key: where the server takes them and this kiosk's page allows it
/// (`/kiosk?upload=1`, set by whoever installs the kiosk).
function uploadAllowed() {
  return Boolean(ui.documents?.kiosk_uploads) && new URLSearchParams(location.search).get('upload') === '1';
}

function renderDocs() {
  $('#doc-list').replaceChildren(
    ...docs.list.map((doc) => {
      const li = document.createElement('li');
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'secondary';
      button.dataset.testid = 'doc-open';
      button.textContent = t('doc_open', doc.name);
      button.addEventListener('click', () => openDoc(doc));
      li.append(button);
      return li;
    }),
  );
  const upload = uploadAllowed();
  $('#upload').hidden = !upload;
  $('#docs').hidden = docs.list.length === 0 && !upload;
}

function docMessage(text) {
  const p = document.createElement('p');
  p.className = 'doc-message';
  p.setAttribute('role', 'status');
  p.textContent = text;
  return p;
}

async function openDoc(doc) {
  docs.open = doc;
  docs.shown = null;
  $('#doc-title').textContent = doc.name;
  const body = $('#doc-body');
  $('#doc-view').hidden = false;
  $('#doc-close').focus();
  if (doc.url) {
    const box = document.createElement('div');
    box.className = 'doc-link';
    const hint = document.createElement('p');
    hint.className = 'doc-link-hint';
    hint.textContent = t('doc_link_hint');
    const url = document.createElement('p');
    url.className = 'doc-url';
    url.dataset.testid = 'doc-url';
    url.textContent = doc.url;
    box.append(hint, url);
    body.replaceChildren(box);
    docs.shown = { id: doc.id, kind: 'link' };
    return;
  }
  body.replaceChildren(docMessage(t('doc_loading')));
  try {
    let url = docs.urls.get(doc.id);
    let blob = null;
    if (!url) {
      blob = await fetchDocument(connection.token, doc.id);
      url = URL.createObjectURL(blob);
      docs.urls.set(doc.id, url);
    }
    if (docs.open !== doc) return;
    let view;
    if (doc.media_type === 'application/pdf') {
      view = document.createElement('iframe');
      view.title = doc.name;
    } else {
      view = document.createElement('img');
      view.alt = doc.name;
    }
    // PDF viewers: no side panel of pages, the page as wide as the frame.
    view.src = doc.media_type === 'application/pdf' ? `${url}#navpanes=0&pagemode=none&view=FitH&zoom=page-width` : url;
    body.replaceChildren(view);
    docs.shown = {
      id: doc.id,
      kind: doc.media_type === 'application/pdf' ? 'pdf' : 'image',
      size: blob?.size ?? docs.shown?.size ?? null,
      type: blob?.type ?? null,
    };
  } catch (err) {
    console.error('kiosk: document', err);
    if (docs.open === doc) body.replaceChildren(docMessage(t('doc_failed')));
  }
}

function closeDoc() {
  docs.open = null;
  docs.shown = null;
  $('#doc-view').hidden = true;
  $('#doc-body').replaceChildren();
  if (ui.screen === 'call') $('#hangup').focus();
}

/// Prints what the viewer shows: a PDF through its own viewer, a picture or a link through
/// the page (its print style keeps the document only).
function printDoc() {
  docs.printed += 1;
  const frame = $('#doc-body iframe');
  if (frame) {
    try {
      frame.contentWindow.focus();
      frame.contentWindow.print();
      return;
    } catch (err) {
      console.warn('kiosk: the PDF viewer does not print; printing the page', err);
    }
  }
  window.print();
}

function resetDocs() {
  closeDoc();
  for (const url of docs.urls.values()) URL.revokeObjectURL(url);
  docs.urls.clear();
  docs.list = [];
  docs.still = false;
  $('#still').hidden = true;
  $('#upload-status').textContent = '';
  renderDocs();
}

async function onDocument(push) {
  if (!ui.call || push.call !== ui.call.id || !push.document) return;
  docs.list.push(push.document);
  renderDocs();
  await openDoc(push.document);
}

/// The agent asks for a still: the citizen is told and counted down, then the camera's
/// picture at its full resolution goes to the agent.
async function onSnapshotRequested(push) {
  if (!ui.call || push.call !== ui.call.id || docs.still) return;
  const call = ui.call.id;
  docs.still = true;
  const show = (text) => {
    $('#still-text').textContent = text;
    $('#still').hidden = !text;
  };
  try {
    for (let n = 3; n > 0; n -= 1) {
      show(t('still_countdown', n));
      await sleep(1000);
      if (ui.call?.id !== call) return;
    }
    show(t('still_taking'));
    const still = await captureStill(ui.stream);
    if (ui.call?.id !== call) return;
    await uploadDocument(connection.token, call, still.blob, { name: 'photo.jpg', snapshot: true });
    docs.stills.push({ width: still.width, height: still.height });
    show(t('still_sent'));
  } catch (err) {
    console.error('kiosk: still', err);
    show(t('still_failed'));
  } finally {
    if (ui.call?.id === call) {
      await sleep(2500);
      if (ui.call?.id === call) show('');
    }
    docs.still = false;
  }
}

async function sendFile() {
  const input = $('#upload-input');
  const file = input.files?.[0];
  input.value = '';
  if (!file || !ui.call) return;
  const status = $('#upload-status');
  const max = ui.documents?.max_bytes;
  if (max && file.size > max) {
    status.textContent = t('upload_too_big', formatSize(max, ui.lang));
    return;
  }
  status.textContent = t('upload_sending');
  try {
    await uploadDocument(connection.token, ui.call.id, file, { name: file.name });
    status.textContent = t('upload_sent', file.name);
  } catch (err) {
    console.error('kiosk: upload', err);
    status.textContent = err.status === 415 ? t('upload_type') : err.status === 413 ? t('upload_too_big', formatSize(max, ui.lang)) : t('upload_failed');
  }
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
      // The call waits for the kiosk a while (the server's resume period): the welcome of the
      // next connection says whether it got it back.
      if (ui.call) $('#call-status').textContent = t('offline');
    }
  });
  connection.on('welcome', async (welcome) => {
    ui.notice = typeof welcome?.notice === 'string' ? welcome.notice.trim() : '';
    ui.documents = welcome?.documents || null;
    renderDocs();
    renderNotice();
    ui.offline = false;
    showNet('');
    renewCredential();
    reportDevices({ stream: ui.stream });
    if (welcome?.resumed) {
      await resumeCall(welcome.resumed);
      return;
    }
    if (ui.call) {
      // Away longer than the server kept the call, or the server restarted.
      showEnded(t('ended_dropped'));
      await refreshServices();
      return;
    }
    if (ui.screen === 'loading' || ui.screen === 'signin') await goStart();
    else await refreshServices();
  });
  connection.on('fatal', ({ code }) => {
    if (code === 'bad_token' || code === 'token_expired' || code === 'forbidden') {
      forgetToken();
      const wasEnrolled = ui.device;
      if (wasEnrolled) {
        // Revoked, or enrolled again elsewhere: only a new code brings this kiosk back.
        forgetDeviceCredential();
        ui.device = false;
      }
      $('#signin-error').textContent = t(wasEnrolled ? 'device_refused' : 'bad_token');
      $('#signin-error').hidden = false;
      setScreen('signin');
    }
  });
  connection.on('push:queue_position', forCall(queuePosition));
  connection.on('push:media_ready', forCall(mediaReady));
  connection.on('push:input_check', forCall(inputCheck));
  connection.on('push:call_ended', forCall(callEnded));
  connection.on('push:peer_media_lost', forCall(peerMediaLost));
  connection.on('push:sdp_offer', forCall((push) => {
    if (ui.call && push.call === ui.call.id) ui.media?.answerOffer(push.sdp).catch((err) => console.error('kiosk: renegotiation', err));
  }));
  connection.on('push:peer_media_restored', forCall(peerMediaRestored));
  connection.on('push:peer_signalling', forCall(peerSignalling));
  connection.on('push:participants', forCall(onParticipants));
  connection.on('push:chat', forCall(onChat));
  connection.on('push:call_transferred', forCall(callTransferred));
  connection.on('push:hold', forCall(onHold));
  connection.on('push:document', forCall(onDocument));
  connection.on('push:snapshot_requested', forCall(onSnapshotRequested));
  connection.on('push:peer_audio_only', forCall(onPeerAudioOnly));
  connection.start();
}

function init() {
  applyLanguage();
  $('#signin-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const typed = $('#token-input').value.trim();
    if (!typed) return;
    $('#signin-error').hidden = true;
    if (looksLikePairingCode(typed)) {
      // Enrolment: the code is exchanged once for a credential the kiosk keeps.
      try {
        const given = await pairKiosk(typed);
        $('#token-input').value = '';
        ui.device = true;
        setScreen('loading');
        connect(given.credential);
      } catch (err) {
        console.error('kiosk: pairing', err.message);
        $('#signin-error').textContent = t('pair_refused');
        $('#signin-error').hidden = false;
      }
      return;
    }
    storeToken(typed);
    setScreen('loading');
    connect(typed);
  });
  $('#call').addEventListener('click', placeCall);
  $('#check-back').addEventListener('click', () => goStart());
  $('#check-video').closest('section').addEventListener('pointerdown', armIdle);
  $('#cancel').addEventListener('click', cancelCall);
  $('#callback-open').addEventListener('click', openCallback);
  $('#callback-back').addEventListener('click', closeCallback);
  $('#callback-form').addEventListener('submit', confirmCallback);
  $('#callback-keypad').addEventListener('click', (event) => {
    const key = event.target.closest('button')?.dataset.key;
    if (key) callbackKey(key);
  });
  $('#hangup').addEventListener('click', hangup);
  $('#mute').addEventListener('click', toggleMute);
  $('#volume-down').addEventListener('click', () => setVolume((ui.volume ?? 1) - VOLUME_STEP));
  $('#volume-up').addEventListener('click', () => setVolume((ui.volume ?? 1) + VOLUME_STEP));
  setVolume(1);
  // Tiles of people who join later play at the chosen volume too.
  new MutationObserver(applyVolume).observe($('#remote-extra'), { childList: true, subtree: true });
  $('#ended-ok').addEventListener('click', () => goStart());
  $('#doc-close').addEventListener('click', closeDoc);
  $('#doc-print').addEventListener('click', printDoc);
  $('#upload').addEventListener('click', () => $('#upload-input').click());
  $('#upload-input').addEventListener('change', sendFile);
  setInterval(() => {
    if (ui.screen === 'waiting') renderWaiting();
  }, 1000);
  // Opening hours change during the day: refresh the open/closed state on the start screen.
  setInterval(() => {
    if (ui.screen === 'start') refreshServices();
  }, 30000);
  exposeTestHooks(() => (ui.transfer ? 'transferring' : ui.hold ? 'hold' : ui.screen), () => ui.media, {
    quality: () => (ui.quality ? { ...ui.quality } : null),
    call: () => (ui.call ? { id: ui.call.id, position: ui.call.position, service: ui.service?.id ?? null } : null),
    chat: () => chat.messages.map((m) => ({ ...m })),
    participants: () => ui.participants.map((p) => ({ ...p })),
    notice: () => ui.notice,
    transfer: () => (ui.transfer ? { ...ui.transfer, position: ui.call?.position ?? null } : null),
    videoWait: () => ui.videoWait,
    hold: () => ui.hold,
    picture: () => ui.picture,
    audioOnly: () => ({ self: fallback.on, peer: Boolean(ui.peerAudioOnly), still: !$('#remote-still').hidden, note: $('#audio-only').hidden ? null : $('#audio-only').textContent }),
    // Every text of a language, those with arguments written with samples.
    texts: (code) => Object.fromEntries(Object.entries(TEXT[code]).map(([key, v]) => [key, typeof v === 'function' ? v(3, 'Marie') : v])),
    // Texts a language lacks (shown in French instead).
    missingTexts: () => Object.fromEntries(LANGUAGES.map((code) => [code, Object.keys(TEXT.fr).filter((key) => !(key in TEXT[code]))])),
    documents: () => ({
      list: docs.list.map((d) => ({ ...d })),
      open: docs.open?.id ?? null,
      shown: docs.shown ? { ...docs.shown } : null,
      printed: docs.printed,
      stills: docs.stills.map((s) => ({ ...s })),
      camera: ui.stream?.getVideoTracks()[0]?.getSettings() ?? null,
    }),
    senders: () =>
      (ui.media?.pc?.getSenders() || []).filter((s) => s.track).map((s) => ({ kind: s.track.kind, enabled: s.track.enabled, readyState: s.track.readyState })),
  });

  // Without https the browser gives no camera: say so to whoever installs the kiosk, instead of
  // letting a citizen choose a service and then blaming the camera.
  if (!secureContext()) {
    setScreen('insecure');
    return;
  }
  const token = takeToken();
  const device = token ? null : deviceCredential();
  if (token) connect(token);
  else if (device) {
    ui.device = true;
    connect(device.credential);
  } else setScreen('signin');
  // An enrolled kiosk renews its credential long before it expires (checked every 6 hours).
  setInterval(renewCredential, 6 * 3600 * 1000);
}

/// Renews an enrolled kiosk's credential when half its lifetime has gone; the connection uses
/// the new one when it next signs in.
async function renewCredential() {
  if (!ui.device || !connection) return;
  try {
    const fresh = await renewDeviceCredential();
    if (fresh) connection.token = fresh;
  } catch (err) {
    console.error('kiosk: credential renewal', err.message);
  }
}

init();
