//! Files passed across a call, held in memory for that call only: their type found from their
//! content (never from a name or a header), their size and number bounded, readable only by
//! the parties the call core named, and dropped once the call and the agents' wrap-ups are
//! over — unless an agent keeps one with the call's record (the store then holds it until the
//! retention date).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use relais_proto::CallId;
use relais_proto::messages::{Document, DocumentPolicy};

use crate::config::DocumentsConfig;

/// A file held longer than this is dropped whatever its call (no call lasts this long).
const MAX_AGE: Duration = Duration::from_secs(12 * 3600);

/// The types taken.
pub const PDF: &str = "application/pdf";
pub const JPEG: &str = "image/jpeg";
pub const PNG: &str = "image/png";

/// What a file's content is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sniffed {
    pub media_type: &'static str,
    /// A picture's size in pixels.
    pub size: Option<(u32, u32)>,
}

/// Why a file is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("only PDF documents and JPEG or PNG pictures are taken (this content is neither)")]
    Type,
    #[error("the PDF is incomplete (no end-of-file marker)")]
    TruncatedPdf,
    #[error("the picture is damaged (its size cannot be read)")]
    BadPicture,
    #[error("the file is empty")]
    Empty,
    #[error("the file is {size} bytes; at most {max} are taken")]
    TooLarge { size: u64, max: u64 },
    #[error("this call already holds {0} files")]
    TooMany(usize),
    #[error("the server holds too many files now; try again after the call")]
    Full,
}

/// Finds the type of `content` from its first bytes (and a picture's size from its header).
pub fn sniff(content: &[u8]) -> Result<Sniffed, Refused> {
    if content.is_empty() {
        return Err(Refused::Empty);
    }
    if content.starts_with(b"%PDF-") {
        let tail = &content[content.len().saturating_sub(1024)..];
        if !tail.windows(5).any(|w| w == b"%%EOF") {
            return Err(Refused::TruncatedPdf);
        }
        return Ok(Sniffed {
            media_type: PDF,
            size: None,
        });
    }
    if content.starts_with(b"\x89PNG\r\n\x1a\n") {
        let size = png_size(content).ok_or(Refused::BadPicture)?;
        return Ok(Sniffed {
            media_type: PNG,
            size: Some(size),
        });
    }
    if content.starts_with(&[0xFF, 0xD8, 0xFF]) {
        let size = jpeg_size(content).ok_or(Refused::BadPicture)?;
        return Ok(Sniffed {
            media_type: JPEG,
            size: Some(size),
        });
    }
    Err(Refused::Type)
}

fn be16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// Width and height from a PNG's IHDR chunk, which comes first.
fn png_size(content: &[u8]) -> Option<(u32, u32)> {
    if content.get(12..16)? != b"IHDR" {
        return None;
    }
    let (width, height) = (be32(content, 16)?, be32(content, 20)?);
    (width > 0 && height > 0).then_some((width, height))
}

/// Width and height from a JPEG's start-of-frame segment.
fn jpeg_size(content: &[u8]) -> Option<(u32, u32)> {
    let mut at = 2;
    loop {
        if *content.get(at)? != 0xFF {
            return None;
        }
        let marker = *content.get(at + 1)?;
        match marker {
            // Fill bytes before a marker.
            0xFF => at += 1,
            // Markers without a segment.
            0x01 | 0xD0..=0xD7 => at += 2,
            // Start of scan or end of image before any frame header.
            0xD9 | 0xDA => return None,
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                let height = u32::from(be16(content, at + 5)?);
                let width = u32::from(be16(content, at + 7)?);
                return (width > 0 && height > 0).then_some((width, height));
            }
            _ => {
                let length = usize::from(be16(content, at + 2)?);
                if length < 2 {
                    return None;
                }
                at += 2 + length;
            }
        }
    }
}

/// A file's name as shown and as offered for saving: no folders, no control characters, at
/// most 200 characters; `fallback` when nothing is left.
pub fn clean_name(name: Option<&str>, fallback: &str) -> String {
    let name = name.unwrap_or("");
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control())
        .take(relais_proto::limits::MAX_TITLE_CHARS)
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim();
    if cleaned.is_empty() {
        fallback.to_owned()
    } else {
        cleaned.to_owned()
    }
}

/// A file held for a call.
#[derive(Debug, Clone)]
pub struct Held {
    pub call: CallId,
    pub info: Document,
    pub content: Bytes,
    /// Agents who may read it (until their wrap-up of the call ends).
    pub agents: Vec<String>,
    /// Kiosks who may read it (until the call ends).
    pub kiosks: Vec<String>,
    ended: bool,
    since: Instant,
}

#[derive(Debug, Default)]
struct Inner {
    held: HashMap<String, Held>,
    bytes: u64,
}

/// The files of the calls in progress.
#[derive(Debug)]
pub struct Documents {
    limits: DocumentsConfig,
    inner: Mutex<Inner>,
}

impl Documents {
    pub fn new(limits: DocumentsConfig) -> Self {
        Self {
            limits,
            inner: Mutex::default(),
        }
    }

    /// What clients are told.
    pub fn policy(&self) -> DocumentPolicy {
        DocumentPolicy {
            max_bytes: self.limits.max_bytes,
            media_types: vec![PDF.to_owned(), JPEG.to_owned(), PNG.to_owned()],
            kiosk_uploads: self.limits.kiosk_uploads,
        }
    }

    /// Whether kiosks may send files of their own.
    pub fn kiosk_uploads(&self) -> bool {
        self.limits.kiosk_uploads
    }

    /// The largest file.
    pub fn max_bytes(&self) -> u64 {
        self.limits.max_bytes
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Holds a file for `call`, readable by nobody until [`Documents::grant`].
    pub fn hold(
        &self,
        call: CallId,
        info: Document,
        content: Bytes,
        now: Instant,
    ) -> Result<(), Refused> {
        let size = content.len() as u64;
        if size > self.limits.max_bytes {
            return Err(Refused::TooLarge {
                size,
                max: self.limits.max_bytes,
            });
        }
        let mut inner = self.lock();
        let old: Vec<String> = inner
            .held
            .iter()
            .filter(|(_, held)| now.saturating_duration_since(held.since) > MAX_AGE)
            .map(|(id, _)| id.clone())
            .collect();
        for id in old {
            remove(&mut inner, &id);
        }
        let of_call = inner.held.values().filter(|h| h.call == call).count();
        if of_call >= self.limits.max_per_call {
            return Err(Refused::TooMany(of_call));
        }
        if inner.bytes + size > self.limits.memory_bytes {
            return Err(Refused::Full);
        }
        inner.bytes += size;
        inner.held.insert(
            info.id.clone(),
            Held {
                call,
                info,
                content,
                agents: Vec::new(),
                kiosks: Vec::new(),
                ended: false,
                since: now,
            },
        );
        Ok(())
    }

    /// Lets these agents and kiosks read a held file.
    pub fn grant(&self, id: &str, agents: Vec<String>, kiosks: Vec<String>) {
        if let Some(held) = self.lock().held.get_mut(id) {
            held.agents = agents;
            held.kiosks = kiosks;
        }
    }

    /// Drops a held file.
    pub fn drop_file(&self, id: &str) {
        remove(&mut self.lock(), id);
    }

    /// A held file, if `subject` may read it.
    pub fn read(&self, id: &str, subject: &str) -> Option<Held> {
        let inner = self.lock();
        let held = inner.held.get(id)?;
        let reader = held.agents.iter().chain(&held.kiosks).any(|s| s == subject);
        reader.then(|| held.clone())
    }

    /// A held file that agent `subject` may read.
    pub fn read_as_agent(&self, id: &str, subject: &str) -> Option<Held> {
        let inner = self.lock();
        let held = inner.held.get(id)?;
        held.agents
            .iter()
            .any(|s| s == subject)
            .then(|| held.clone())
    }

    /// Marks a held file kept with the call's record.
    pub fn mark_kept(&self, id: &str) {
        if let Some(held) = self.lock().held.get_mut(id) {
            held.info.attached = true;
        }
    }

    /// The call ended: its kiosks read nothing more; files no agent reads any more go.
    pub fn call_ended(&self, call: CallId) {
        let mut inner = self.lock();
        for held in inner.held.values_mut().filter(|h| h.call == call) {
            held.ended = true;
            held.kiosks.clear();
        }
        sweep(&mut inner, call);
    }

    /// `agent`'s wrap-up of `call` ended: it reads the call's files no more (from memory).
    pub fn wrap_up_done(&self, call: CallId, agent: &str) {
        let mut inner = self.lock();
        for held in inner.held.values_mut().filter(|h| h.call == call) {
            held.agents.retain(|a| a != agent);
        }
        sweep(&mut inner, call);
    }

    /// Files held now, and their bytes.
    pub fn held(&self) -> (usize, u64) {
        let inner = self.lock();
        (inner.held.len(), inner.bytes)
    }
}

fn remove(inner: &mut Inner, id: &str) {
    if let Some(held) = inner.held.remove(id) {
        inner.bytes -= held.content.len() as u64;
    }
}

/// Drops the files of an ended call that no agent reads any more.
fn sweep(inner: &mut Inner, call: CallId) {
    let gone: Vec<String> = inner
        .held
        .iter()
        .filter(|(_, h)| h.call == call && h.ended && h.agents.is_empty())
        .map(|(id, _)| id.clone())
        .collect();
    for id in gone {
        remove(inner, &id);
    }
}

/// A file kept with a call, as its agent sees it in the history.
pub fn kept_document(meta: &relais_store::DocumentMeta) -> Document {
    Document {
        id: meta.doc_id.clone(),
        name: meta.name.clone(),
        from: if meta.from_role == "kiosk" {
            relais_proto::LegRole::Kiosk
        } else {
            relais_proto::LegRole::Agent
        },
        media_type: Some(meta.media_type.clone()),
        size: Some(meta.size),
        width: meta.width,
        height: meta.height,
        snapshot: meta.snapshot,
        url: None,
        attached: true,
    }
}

/// What the store keeps of a held file, kept by `agent`.
pub fn meta_of(held: &Held, agent: &str, at_ms: i64) -> relais_store::DocumentMeta {
    relais_store::DocumentMeta {
        doc_id: held.info.id.clone(),
        call_id: held.call.0,
        agent: agent.to_owned(),
        name: held.info.name.clone(),
        media_type: held.info.media_type.clone().unwrap_or_default(),
        size: held.content.len() as u64,
        width: held.info.width,
        height: held.info.height,
        snapshot: held.info.snapshot,
        from_role: match held.info.from {
            relais_proto::LegRole::Kiosk => "kiosk",
            _ => "agent",
        }
        .to_owned(),
        attached_at_ms: at_ms,
    }
}

/// A new document id: 128 random bits, in hex.
pub fn new_id() -> String {
    let mut bytes = [0u8; 16];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pdf() -> Vec<u8> {
        b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n".to_vec()
    }

    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut bytes = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
        bytes.extend(width.to_be_bytes());
        bytes.extend(height.to_be_bytes());
        bytes.extend([8, 2, 0, 0, 0]);
        bytes
    }

    fn jpeg(width: u16, height: u16) -> Vec<u8> {
        let mut bytes = vec![0xFF, 0xD8];
        // An APP0 segment, then fill bytes, then a baseline frame header.
        bytes.extend([0xFF, 0xE0, 0x00, 0x10]);
        bytes.extend(b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
        bytes.extend([0xFF, 0xFF, 0xC0, 0x00, 0x11, 0x08]);
        bytes.extend(height.to_be_bytes());
        bytes.extend(width.to_be_bytes());
        bytes.extend([3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
        bytes.extend([0xFF, 0xD9]);
        bytes
    }

    #[test]
    fn the_type_comes_from_the_content_with_a_pictures_size() {
        assert_eq!(sniff(&pdf()).unwrap().media_type, PDF);
        assert_eq!(
            sniff(&png(1920, 1080)).unwrap(),
            Sniffed {
                media_type: PNG,
                size: Some((1920, 1080))
            }
        );
        assert_eq!(
            sniff(&jpeg(4032, 3024)).unwrap(),
            Sniffed {
                media_type: JPEG,
                size: Some((4032, 3024))
            }
        );
    }

    #[test]
    fn anything_else_is_refused_with_its_reason() {
        assert_eq!(sniff(b""), Err(Refused::Empty));
        assert_eq!(sniff(b"MZ\x90\x00 an executable"), Err(Refused::Type));
        assert_eq!(
            sniff(b"<html><script>alert(1)</script>"),
            Err(Refused::Type)
        );
        assert_eq!(sniff(b"%PDF-1.7 cut short"), Err(Refused::TruncatedPdf));
        assert_eq!(sniff(&png(1, 1)[..20]), Err(Refused::BadPicture));
        assert_eq!(sniff(&png(0, 10)), Err(Refused::BadPicture));
        let mut cut = jpeg(640, 480);
        cut.truncate(12);
        assert_eq!(sniff(&cut), Err(Refused::BadPicture));
        // A segment length that points nowhere.
        assert_eq!(
            sniff(&[0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x01]),
            Err(Refused::BadPicture)
        );
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xDA]), Err(Refused::BadPicture));
    }

    #[test]
    fn a_name_keeps_no_folder_and_no_control_character() {
        assert_eq!(clean_name(Some("C:\\Users\\x\\avis.pdf"), "d"), "avis.pdf");
        assert_eq!(clean_name(Some("../../etc/passwd"), "d"), "passwd");
        assert_eq!(clean_name(Some("a\u{0}b\nc.pdf"), "d"), "abc.pdf");
        assert_eq!(clean_name(Some("..."), "document.pdf"), "document.pdf");
        assert_eq!(clean_name(None, "photo.jpg"), "photo.jpg");
        assert_eq!(clean_name(Some(&"é".repeat(500)), "d").chars().count(), 200);
    }

    fn info(id: &str) -> Document {
        Document {
            id: id.to_owned(),
            name: "a.pdf".to_owned(),
            from: relais_proto::LegRole::Agent,
            media_type: Some(PDF.to_owned()),
            size: Some(4),
            width: None,
            height: None,
            snapshot: false,
            url: None,
            attached: false,
        }
    }

    fn documents() -> Documents {
        Documents::new(DocumentsConfig {
            max_bytes: 10,
            max_per_call: 2,
            memory_bytes: 16,
            kiosk_uploads: true,
        })
    }

    #[allow(clippy::disallowed_methods)] // the tests' clock
    fn now() -> Instant {
        Instant::now()
    }

    #[test]
    fn files_are_bounded_per_call_and_in_all() {
        let docs = documents();
        let now = now();
        let bytes = |n: usize| Bytes::from(vec![0u8; n]);
        assert!(matches!(
            docs.hold(CallId(1), info("big"), bytes(11), now),
            Err(Refused::TooLarge { size: 11, max: 10 })
        ));
        docs.hold(CallId(1), info("a"), bytes(8), now).unwrap();
        docs.hold(CallId(1), info("b"), bytes(1), now).unwrap();
        assert_eq!(
            docs.hold(CallId(1), info("c"), bytes(1), now),
            Err(Refused::TooMany(2))
        );
        assert_eq!(
            docs.hold(CallId(2), info("d"), bytes(8), now),
            Err(Refused::Full)
        );
        docs.drop_file("a");
        docs.hold(CallId(2), info("d"), bytes(8), now).unwrap();
        assert_eq!(docs.held(), (2, 9));
        // Long forgotten files go.
        docs.hold(CallId(3), info("e"), bytes(1), now + MAX_AGE * 2)
            .unwrap();
        assert_eq!(docs.held(), (1, 1));
    }

    #[test]
    fn only_the_parties_read_and_the_file_goes_after_the_call_and_wrap_up() {
        let docs = documents();
        let now = now();
        docs.hold(CallId(1), info("a"), Bytes::from_static(b"%PDF"), now)
            .unwrap();
        assert!(docs.read("a", "ana").is_none(), "nobody before the grant");
        docs.grant("a", vec!["ana".into()], vec!["borne-1".into()]);
        assert!(docs.read("a", "ana").is_some());
        assert!(docs.read("a", "borne-1").is_some());
        assert!(docs.read_as_agent("a", "borne-1").is_none());
        assert!(docs.read("a", "bo").is_none());
        docs.wrap_up_done(CallId(1), "bo");
        docs.call_ended(CallId(2));
        assert!(docs.read("a", "ana").is_some());
        docs.call_ended(CallId(1));
        assert!(
            docs.read("a", "borne-1").is_none(),
            "the kiosk's call ended"
        );
        assert!(docs.read("a", "ana").is_some(), "the agent wraps up");
        docs.wrap_up_done(CallId(1), "ana");
        assert!(docs.read("a", "ana").is_none());
        assert_eq!(docs.held(), (0, 0));
    }

    #[test]
    fn a_transferred_calls_files_stay_while_the_call_goes_on() {
        let docs = documents();
        docs.hold(CallId(1), info("a"), Bytes::from_static(b"%PDF"), now())
            .unwrap();
        docs.grant("a", vec!["ana".into()], vec!["borne-1".into()]);
        docs.wrap_up_done(CallId(1), "ana");
        assert!(docs.read("a", "borne-1").is_some());
        docs.call_ended(CallId(1));
        assert_eq!(docs.held(), (0, 0));
    }
}
