//! Identifiers of the things the signalling, the dispatcher and the media core talk about.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// A call: one kiosk's request for one service, from enqueue to end. Allocated by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CallId(pub u64);

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// Shared text: a clone is a reference count, not a copy, so ids can travel in every
        /// event, command and record without allocating.
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(Arc<str>);

        impl $name {
            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(Arc::from(value))
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self(Arc::from(value))
            }
        }

        impl From<&String> for $name {
            fn from(value: &String) -> Self {
                Self(Arc::from(value.as_str()))
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                Ok(Self(Arc::from(text.as_ref())))
            }
        }
    };
}

string_id!(
    /// An agent, named by the subject of its token (for example `alice`).
    AgentId
);
string_id!(
    /// A service queue (for example `caf`), as configured.
    QueueId
);
string_id!(
    /// A kiosk device, named by the subject of its token.
    KioskId
);
string_id!(
    /// The site (town hall, télécentre) a kiosk stands in.
    SiteId
);

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_serialize_as_bare_values() {
        assert_eq!(serde_json::to_string(&CallId(42)).unwrap(), "42");
        assert_eq!(
            serde_json::to_string(&AgentId::from("alice")).unwrap(),
            "\"alice\""
        );
        let q: QueueId = serde_json::from_str("\"caf\"").unwrap();
        assert_eq!(q.as_str(), "caf");
    }
}
