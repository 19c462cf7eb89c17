//! Sign-in through the organisation's OpenID Connect provider: the authorization-code flow with
//! PKCE, done by the server as a confidential client (the `openidconnect` crate checks the ID
//! token: signature against the provider's keys, issuer, audience, expiry, nonce). The
//! provider's metadata is read at the first sign-in and again after an hour, so the server
//! starts while the provider is down. Roles and a supervisor's services come from configured
//! claims; the HTTP requests to the provider go through a small client of our own over hyper.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreIdToken};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, LogoutRequest, Nonce,
    PkceCodeChallenge, PkceCodeVerifier, PostLogoutRedirectUrl, ProviderMetadataWithLogout,
    RedirectUrl, Scope,
};
use relais_proto::Role;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};

use super::Person;
use crate::config::{Config, OidcConfig};

/// How long a browser has between leaving for the provider and coming back.
const PENDING_FOR: Duration = Duration::from_secs(10 * 60);
/// Sign-ins in progress at most (a flood of `/auth/login` cannot grow memory without end).
const MAX_PENDING: usize = 10_000;
/// Metadata (and keys) older than this are read again.
const METADATA_FOR: Duration = Duration::from_secs(3600);
/// Each request to the provider: connect, answer and body.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest answer read from the provider.
const MAX_BODY: usize = 1024 * 1024;

/// Why a sign-in did not go through (logged; the browser gets a plain message).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct OidcError(pub String);

fn fail(what: &str, err: impl std::fmt::Display) -> OidcError {
    OidcError(format!("{what}: {err}"))
}

struct Pending {
    verifier: String,
    nonce: String,
    return_to: String,
    at: Instant,
}

/// The relying party.
pub struct Oidc {
    config: OidcConfig,
    secret: Option<String>,
    redirect: String,
    after_logout: String,
    tls: Option<Arc<rustls::ClientConfig>>,
    metadata: tokio::sync::Mutex<Option<(Instant, ProviderMetadataWithLogout)>>,
    pending: std::sync::Mutex<HashMap<String, Pending>>,
}

impl Oidc {
    pub fn new(server: &Config, config: &OidcConfig) -> Self {
        let public = server
            .http
            .public_url
            .as_deref()
            .unwrap_or_default()
            .trim_end_matches('/')
            .to_owned();
        let secret = match (&config.client_secret, &config.client_secret_file) {
            (Some(secret), _) => Some(secret.clone()),
            (None, Some(path)) => match std::fs::read_to_string(path) {
                Ok(text) => Some(text.trim().to_owned()),
                Err(err) => {
                    tracing::error!(path = %path.display(), error = %err, "cannot read oidc.client_secret_file; sign-in will fail");
                    None
                }
            },
            (None, None) => None,
        };
        let tls = match client_tls(config) {
            Ok(tls) => Some(tls),
            Err(err) => {
                tracing::error!(error = %err, "no TLS for the identity provider");
                None
            }
        };
        Self {
            config: config.clone(),
            secret,
            redirect: format!("{public}/auth/callback"),
            after_logout: format!("{public}/signin?signed_out=1"),
            tls,
            metadata: tokio::sync::Mutex::new(None),
            pending: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The sign-in button's text.
    pub fn button(&self) -> &str {
        &self.config.button
    }

    async fn metadata(&self) -> Result<ProviderMetadataWithLogout, OidcError> {
        self.read_metadata(false).await
    }

    /// The provider's metadata and keys: cached for [`METADATA_FOR`], or read again now
    /// (`fresh`: its keys may have changed since).
    async fn read_metadata(&self, fresh: bool) -> Result<ProviderMetadataWithLogout, OidcError> {
        let mut cached = self.metadata.lock().await;
        if let Some((at, metadata)) = cached.as_ref()
            && at.elapsed() < METADATA_FOR
            && !fresh
        {
            return Ok(metadata.clone());
        }
        let issuer =
            IssuerUrl::new(self.config.issuer.clone()).map_err(|e| fail("oidc.issuer", e))?;
        let metadata = ProviderMetadataWithLogout::discover_async(issuer, &self.http())
            .await
            .map_err(|e| fail("cannot read the provider's metadata", error_chain(&e)))?;
        *cached = Some((Instant::now(), metadata.clone()));
        Ok(metadata)
    }

    fn client(
        &self,
        metadata: ProviderMetadataWithLogout,
    ) -> Result<
        CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        OidcError,
    > {
        let redirect =
            RedirectUrl::new(self.redirect.clone()).map_err(|e| fail("redirect URI", e))?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.config.client_id.clone()),
            self.secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(redirect))
    }

    /// Where to send a browser to sign in; it comes back to `/auth/callback`, then goes to
    /// `return_to`.
    pub async fn begin(&self, return_to: String) -> Result<String, OidcError> {
        let client = self.client(self.metadata().await?)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for scope in &self.config.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        let mut pending = self
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        pending.retain(|_, p| p.at.elapsed() < PENDING_FOR);
        if pending.len() >= MAX_PENDING {
            return Err(OidcError("too many sign-ins in progress".into()));
        }
        pending.insert(
            state.secret().clone(),
            Pending {
                verifier: verifier.secret().clone(),
                nonce: nonce.secret().clone(),
                return_to,
                at: Instant::now(),
            },
        );
        Ok(url.to_string())
    }

    /// The browser came back with `code` for `state`: the person it signed in as, the ID token
    /// and where to go now. A `state` works once.
    pub async fn finish(
        &self,
        code: String,
        state: &str,
    ) -> Result<(Person, String, String), OidcError> {
        let pending = self
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(state)
            .filter(|p| p.at.elapsed() < PENDING_FOR)
            .ok_or_else(|| OidcError("unknown or expired sign-in state".into()))?;
        let client = self.client(self.metadata().await?)?;
        let http = self.http();
        let response = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| fail("the provider has no token endpoint", e))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier))
            .request_async(&http)
            .await
            .map_err(|e| fail("the code exchange failed", error_chain(&e)))?;
        let id_token = openidconnect::TokenResponse::id_token(&response)
            .ok_or_else(|| OidcError("the provider sent no ID token".into()))?;
        let nonce = Nonce::new(pending.nonce);
        let sub = match id_token.claims(&client.id_token_verifier(), &nonce) {
            Ok(claims) => claims.subject().as_str().to_owned(),
            Err(first) => {
                // The provider may have rotated its signing keys since they were read: read
                // them again, once, before refusing.
                tracing::info!(error = %first, "ID token refused with the cached keys; reading the provider's keys again");
                let fresh = self.client(self.read_metadata(true).await?)?;
                id_token
                    .claims(&fresh.id_token_verifier(), &nonce)
                    .map_err(|e| fail("the ID token was refused", e))?
                    .subject()
                    .as_str()
                    .to_owned()
            }
        };
        let compact = id_token.to_string();
        let payload = compact
            .split('.')
            .nth(1)
            .and_then(|part| URL_SAFE_NO_PAD.decode(part).ok())
            .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
            .ok_or_else(|| OidcError("the ID token's claims cannot be read".into()))?;
        let person = self.person(&payload, &sub)?;
        Ok((person, compact, pending.return_to))
    }

    /// Who the claims say this is; refused without any role.
    fn person(&self, claims: &serde_json::Value, sub: &str) -> Result<Person, OidcError> {
        let text = |path: &str| {
            values(claims, path)
                .into_iter()
                .next()
                .filter(|s| !s.trim().is_empty())
        };
        let subject = text(&self.config.subject_claim).unwrap_or_else(|| sub.to_owned());
        if subject.len() > 128 {
            return Err(OidcError("the subject is longer than 128 bytes".into()));
        }
        let name = text(&self.config.name_claim).unwrap_or_else(|| subject.clone());
        let held = values(claims, &self.config.roles_claim);
        let gives = |wanted: &[String]| wanted.iter().any(|w| held.contains(w));
        let roles: Vec<Role> = [
            (Role::Agent, &self.config.roles.agent),
            (Role::Supervisor, &self.config.roles.supervisor),
            (Role::Admin, &self.config.roles.admin),
        ]
        .into_iter()
        .filter(|(_, wanted)| gives(wanted))
        .map(|(role, _)| role)
        .collect();
        if roles.is_empty() {
            return Err(OidcError(format!(
                "`{subject}` has none of the roles configured in [oidc.roles] (its `{}`: {held:?})",
                self.config.roles_claim
            )));
        }
        let services = self
            .config
            .services_claim
            .as_deref()
            .map(|path| values(claims, path));
        Ok(Person {
            subject,
            name,
            roles,
            services,
        })
    }

    /// The provider's log-out address for a session opened with `id_token`, if it has one.
    pub async fn logout_url(&self, id_token: Option<&str>) -> Option<String> {
        let metadata = self.metadata().await.ok()?;
        let endpoint = metadata
            .additional_metadata()
            .end_session_endpoint
            .clone()?;
        let mut request = LogoutRequest::from(endpoint)
            .set_client_id(ClientId::new(self.config.client_id.clone()));
        if let Ok(url) = PostLogoutRedirectUrl::new(self.after_logout.clone()) {
            request = request.set_post_logout_redirect_uri(url);
        }
        if let Some(token) = id_token.and_then(|t| t.parse::<CoreIdToken>().ok()) {
            request = request.set_id_token_hint(&token);
        }
        Some(request.http_get_url().to_string())
    }

    fn http(&self) -> Http {
        Http {
            tls: self.tls.clone(),
        }
    }
}

/// The HTTP client the `openidconnect` crate sends its requests with: one connection per
/// request (sign-ins are rare), plain HTTP or TLS with [`client_tls`]'s roots.
struct Http {
    tls: Option<Arc<rustls::ClientConfig>>,
}

type Answer = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<openidconnect::HttpResponse, OidcError>> + Send>,
>;

impl<'c> openidconnect::AsyncHttpClient<'c> for Http {
    type Error = OidcError;
    type Future = Answer;

    fn call(&'c self, request: openidconnect::HttpRequest) -> Self::Future {
        let tls = self.tls.clone();
        Box::pin(async move {
            tokio::time::timeout(REQUEST_TIMEOUT, exchange(tls, request))
                .await
                .map_err(|_| OidcError("the identity provider did not answer in time".into()))?
        })
    }
}

async fn exchange(
    tls: Option<Arc<rustls::ClientConfig>>,
    request: openidconnect::HttpRequest,
) -> Result<openidconnect::HttpResponse, OidcError> {
    {
        let uri = request.uri().clone();
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            other => return Err(OidcError(format!("unsupported URL scheme {other:?}"))),
        };
        let host = uri
            .host()
            .ok_or_else(|| OidcError("a URL without a host".into()))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| fail(&format!("cannot connect to {host}:{port}"), e))?;
        let (mut parts, body) = request.into_parts();
        parts.uri = uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .parse()
            .map_err(|e| fail("request path", e))?;
        let authority = uri.authority().map_or(host.clone(), |a| a.to_string());
        parts.headers.insert(
            axum::http::header::HOST,
            authority.parse().map_err(|e| fail("host header", e))?,
        );
        let request = axum::http::Request::from_parts(parts, Full::new(Bytes::from(body)));
        if https {
            let tls = tls.ok_or_else(|| OidcError("no TLS configuration".into()))?;
            let name = ServerName::try_from(host.clone()).map_err(|e| fail("server name", e))?;
            let stream = tokio_rustls::TlsConnector::from(tls)
                .connect(name, tcp)
                .await
                .map_err(|e| fail(&format!("TLS with {host}"), e))?;
            over(stream, request).await
        } else {
            over(tcp, request).await
        }
    }
}

async fn over<T>(
    io: T,
    request: axum::http::Request<Full<Bytes>>,
) -> Result<openidconnect::HttpResponse, OidcError>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| fail("HTTP handshake", e))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| fail("HTTP request", e))?;
    let (parts, body) = response.into_parts();
    let body = Limited::new(body, MAX_BODY)
        .collect()
        .await
        .map_err(|e| fail("HTTP body", e))?
        .to_bytes()
        .to_vec();
    Ok(axum::http::Response::from_parts(parts, body))
}

/// The TLS client for the provider: the system's CAs and `ca_file`'s.
fn client_tls(config: &OidcConfig) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        let _ = roots.add(cert);
    }
    if let Some(path) = &config.ca_file {
        for cert in CertificateDer::pem_file_iter(path)
            .map_err(|err| anyhow::anyhow!("oidc.ca_file {}: {err}", path.display()))?
        {
            let cert =
                cert.map_err(|err| anyhow::anyhow!("oidc.ca_file {}: {err}", path.display()))?;
            roots
                .add(cert)
                .map_err(|err| anyhow::anyhow!("oidc.ca_file {}: {err}", path.display()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ))
}

/// The strings at a dotted `path` of the claims: a string, or the strings of a list.
pub fn values(claims: &serde_json::Value, path: &str) -> Vec<String> {
    let mut at = claims;
    for part in path.split('.') {
        match at.get(part) {
            Some(next) => at = next,
            None => return Vec::new(),
        }
    }
    match at {
        serde_json::Value::String(s) => vec![s.clone()],
        serde_json::Value::Array(items) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_are_read_at_a_dotted_path_as_a_string_or_a_list() {
        let claims = serde_json::json!({
            "groups": ["relais-agents", 3, "x"],
            "realm_access": {"roles": ["relais-admins"]},
            "dept": "caf",
        });
        assert_eq!(values(&claims, "groups"), ["relais-agents", "x"]);
        assert_eq!(values(&claims, "realm_access.roles"), ["relais-admins"]);
        assert_eq!(values(&claims, "dept"), ["caf"]);
        assert!(values(&claims, "realm_access.missing").is_empty());
        assert!(values(&claims, "realm_access").is_empty());
    }

    fn relying_party() -> Oidc {
        let toml = r#"
            [http]
            public_url = "https://relais.example.fr/"
            [oidc]
            issuer = "https://idp.example.fr/realms/caf"
            client_id = "relais"
            client_secret = "s3cret"
            services_claim = "services"
            [oidc.roles]
            agent = ["relais-agents"]
            admin = ["relais-admins"]
        "#;
        let config = Config::from_toml_with_env(toml, "test", std::iter::empty()).unwrap();
        Oidc::new(&config, config.oidc.as_ref().unwrap())
    }

    #[test]
    fn roles_and_services_come_from_the_configured_claims() {
        let rp = relying_party();
        assert_eq!(rp.redirect, "https://relais.example.fr/auth/callback");
        let person = rp
            .person(
                &serde_json::json!({
                    "preferred_username": "marie.curie",
                    "name": "Marie Curie",
                    "groups": ["relais-agents", "relais-admins", "other"],
                    "services": ["caf"],
                }),
                "f81d4fae",
            )
            .unwrap();
        assert_eq!(person.subject, "marie.curie");
        assert_eq!(person.name, "Marie Curie");
        assert_eq!(person.roles, [Role::Agent, Role::Admin]);
        assert_eq!(person.services, Some(vec!["caf".to_owned()]));

        let bare = rp
            .person(&serde_json::json!({"groups": "relais-agents"}), "f81d4fae")
            .unwrap();
        assert_eq!(
            (bare.subject.as_str(), bare.name.as_str()),
            ("f81d4fae", "f81d4fae")
        );
        let err = rp
            .person(&serde_json::json!({"groups": ["visitors"]}), "x")
            .unwrap_err();
        assert!(err.0.contains("none of the roles"), "{err}");
    }
}
