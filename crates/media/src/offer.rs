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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_and_an_offer_without_media_are_refused() {
        assert!(check_offer("v=0\r\nnot an offer").is_err());
        let no_media = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n";
        assert!(check_offer(no_media).is_err());
        let audio = format!("{no_media}m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n");
        assert_eq!(check_offer(&audio).map_err(|e| e.to_string()), Ok(()));
    }
}
