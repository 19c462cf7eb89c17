//! Checks of a client's SDP offer that need no shard: run in the session task before an offer
//! reaches the shard thread, so a malformed one costs the shard nothing and replaces nothing.

use rtc::peer_connection::sdp::RTCSessionDescription;

use crate::MediaError;

/// Parses `sdp` as an offer; the error says why it cannot be used.
pub fn check_offer(sdp: &str) -> Result<(), MediaError> {
    let offer = RTCSessionDescription::offer(sdp.to_owned())
        .map_err(|err| MediaError::Sdp(err.to_string()))?;
    let parsed = offer
        .unmarshal()
        .map_err(|err| MediaError::Sdp(err.to_string()))?;
    if parsed.media_descriptions.is_empty() {
        return Err(MediaError::Sdp("the offer has no media section".to_owned()));
    }
    Ok(())
}

/// How many receive slots (one audio and one video section each that may carry media to the
/// client: `sendrecv` or `recvonly`, port not 0) an offer can take. A join answers at most
/// that many; more come by a server offer.
pub fn receive_capacity(sdp: &str) -> usize {
    let (mut audio, mut video) = (0, 0);
    let mut section: Option<(&str, bool, bool)> = None;
    let mut close = |section: Option<(&str, bool, bool)>| {
        if let Some((kind, open, receives)) = section
            && open
            && receives
        {
            match kind {
                "audio" => audio += 1,
                "video" => video += 1,
                _ => {}
            }
        }
    };
    for line in sdp.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(media) = line.strip_prefix("m=") {
            close(section.take());
            let mut fields = media.split(' ');
            let kind = fields.next().unwrap_or("");
            let open = fields.next().is_some_and(|port| port != "0");
            section = Some((kind, open, true));
        } else if let Some((_, _, receives)) = section.as_mut() {
            match line {
                "a=sendonly" | "a=inactive" => *receives = false,
                "a=sendrecv" | "a=recvonly" => *receives = true,
                _ => {}
            }
        }
    }
    close(section);
    audio.min(video)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_receive_capacity_counts_pairs_of_sections_that_may_receive() {
        let head = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n";
        let section = |kind: &str, port: u16, direction: &str| {
            format!("m={kind} {port} UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na={direction}\r\n")
        };
        let browser = format!(
            "{head}{}{}",
            section("audio", 9, "sendrecv"),
            section("video", 9, "sendrecv")
        );
        assert_eq!(receive_capacity(&browser), 1);
        let listener = format!(
            "{browser}{}{}",
            section("audio", 9, "recvonly"),
            section("video", 9, "recvonly")
        );
        assert_eq!(receive_capacity(&listener), 2);
        let sending_only = format!(
            "{head}{}{}{}",
            section("audio", 9, "sendonly"),
            section("video", 0, "sendrecv"),
            section("audio", 9, "recvonly")
        );
        assert_eq!(
            receive_capacity(&sending_only),
            0,
            "no video section may receive"
        );
        assert_eq!(receive_capacity("garbage"), 0);
    }

    #[test]
    fn garbage_and_an_offer_without_media_are_refused() {
        assert!(check_offer("v=0\r\nnot an offer").is_err());
        let no_media = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n";
        assert!(check_offer(no_media).is_err());
        let audio = format!("{no_media}m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n");
        assert_eq!(check_offer(&audio).map_err(|e| e.to_string()), Ok(()));
    }
}
