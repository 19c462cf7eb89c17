//! Browser sign-in pages and endpoints: `GET /signin` (the page: the identity provider's button
//! and the local account form), `POST /auth/local`, `GET /auth/login` and `/auth/callback` (the
//! OpenID Connect round trip), `POST /auth/logout` and `GET /auth/session` (who the cookie is).

use std::sync::Arc;
use std::time::Instant;

use axum::Form;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use relais_proto::Role;
use serde::Deserialize;

use super::ApiError;
use super::landing::escape;
use crate::signin::{Person, local};
use crate::state::AppState;

/// Where a sign-in may send the browser afterwards: a path of this server only.
fn safe_return(path: Option<&str>) -> String {
    match path {
        Some(p)
            if p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') && p.len() < 512 =>
        {
            p.to_owned()
        }
        _ => "/".to_owned(),
    }
}

fn url_encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(char::from(byte));
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[derive(Debug, Deserialize)]
pub(super) struct PageQuery {
    #[serde(rename = "return")]
    return_to: Option<String>,
    error: Option<String>,
    signed_out: Option<String>,
}

/// `GET /signin`.
pub(super) async fn page(
    State(state): State<AppState>,
    Query(query): Query<PageQuery>,
) -> Html<String> {
    let return_to = safe_return(query.return_to.as_deref());
    let note = match (query.error.as_deref(), query.signed_out.is_some()) {
        (Some("password"), _) => "<p class=\"error\" role=\"alert\" data-testid=\"signin-error\">Identifiant ou mot de passe incorrect.</p>".to_owned(),
        (Some("locked"), _) => "<p class=\"error\" role=\"alert\" data-testid=\"signin-error\">Trop d'essais : réessayez dans un quart d'heure.</p>".to_owned(),
        (Some("provider"), _) => "<p class=\"error\" role=\"alert\" data-testid=\"signin-error\">La connexion par le compte de l'organisation n'a pas abouti. Réessayez ; si cela continue, contactez votre administrateur.</p>".to_owned(),
        (Some("role"), _) => "<p class=\"error\" role=\"alert\" data-testid=\"signin-error\">Votre compte n'a pas accès à Relais. Demandez l'accès à votre administrateur.</p>".to_owned(),
        (Some(_), _) => "<p class=\"error\" role=\"alert\" data-testid=\"signin-error\">La connexion n'a pas abouti.</p>".to_owned(),
        (None, true) => "<p class=\"note\" data-testid=\"signed-out\">Vous êtes déconnecté.</p>".to_owned(),
        (None, false) => String::new(),
    };
    let provider = state.signin().oidc.as_ref().map_or(String::new(), |oidc| {
        format!(
            "<a class=\"button\" data-testid=\"signin-oidc\" href=\"/auth/login?return={}\">{}</a>\n<p class=\"or\">ou avec un compte local</p>",
            escape(&url_encode(&return_to)),
            escape(oidc.button())
        )
    });
    Html(format!(
        r#"<!doctype html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Connexion — Relais</title>
<link rel="icon" href="data:,">
<style>
body {{ font-family: system-ui, sans-serif; max-width: 26rem; margin: 3rem auto; padding: 0 1rem; color: #111; }}
.button, button {{ display: block; width: 100%; box-sizing: border-box; margin: .8rem 0; padding: .9rem 1rem; border: 0; border-radius: .5rem; background: #1d4ed8; color: #fff; font-size: 1.1rem; text-align: center; text-decoration: none; cursor: pointer; }}
label {{ display: block; margin-top: .8rem; font-weight: 600; }}
input {{ width: 100%; box-sizing: border-box; padding: .6rem; font-size: 1rem; border: 1px solid #777; border-radius: .4rem; }}
.error {{ background: #fee2e2; color: #7f1d1d; padding: .6rem; border-radius: .4rem; }}
.note {{ background: #e0f2fe; padding: .6rem; border-radius: .4rem; }}
.or {{ text-align: center; color: #555; }}
</style>
</head>
<body>
<h1>Connexion à Relais</h1>
{note}
{provider}
<form method="post" action="/auth/local" data-testid="signin-local">
<input type="hidden" name="return" value="{return_to}">
<label for="username">Identifiant</label>
<input id="username" name="username" autocomplete="username" required maxlength="128">
<label for="password">Mot de passe</label>
<input id="password" name="password" type="password" autocomplete="current-password" required maxlength="1024">
<button type="submit">Se connecter</button>
</form>
</body>
</html>
"#,
        return_to = escape(&return_to),
    ))
}

#[derive(Debug, Deserialize)]
pub(super) struct LocalForm {
    username: String,
    password: String,
    #[serde(rename = "return")]
    return_to: Option<String>,
}

fn count(state: &AppState, method: &str, result: &str) {
    state
        .metrics()
        .signins
        .with_label_values(&[method, result])
        .inc();
}

fn to_signin(return_to: &str, error: &str) -> Response {
    Redirect::to(&format!(
        "/signin?error={error}&return={}",
        url_encode(return_to)
    ))
    .into_response()
}

fn with_session(state: &AppState, token: &str, to: &str, method: &str) -> Response {
    count(state, method, "ok");
    let mut response = Redirect::to(to).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, state.signin().set_cookie(token));
    response
}

/// `POST /auth/local`: a local account's name and password.
pub(super) async fn local(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<LocalForm>,
) -> Response {
    let return_to = safe_return(form.return_to.as_deref());
    if !crate::signin::same_origin(&headers, state.config().http.public_url.as_deref()) {
        return ApiError::Forbidden("sign in from this server's own page").into_response();
    }
    let username = form.username.trim().to_owned();
    if username.is_empty() || username.len() > 128 || form.password.len() > 1024 {
        return to_signin(&return_to, "password");
    }
    let signin = state.signin();
    if signin
        .local
        .refused_for(&username, Instant::now())
        .is_some()
    {
        tracing::warn!(username = %username, "local sign-in refused: too many failures");
        count(&state, "local", "locked");
        return to_signin(&return_to, "locked");
    }
    let store = Arc::clone(state.store());
    let name = username.clone();
    let password = form.password;
    let checked = tokio::task::spawn_blocking(move || {
        let user = store.user(&name)?;
        let hash = user
            .as_ref()
            .filter(|u| u.disabled_at_ms.is_none())
            .map_or(local::decoy_hash(), |u| u.password_hash.as_str());
        let ok = local::verify_password(&password, hash);
        Ok::<_, relais_store::StoreError>(user.filter(|u| ok && u.disabled_at_ms.is_none()))
    })
    .await;
    let user = match checked {
        Ok(Ok(Some(user))) => user,
        Ok(Ok(None)) => {
            signin.local.failed(&username, Instant::now());
            tracing::warn!(username = %username, "local sign-in refused: wrong name or password");
            count(&state, "local", "refused");
            return to_signin(&return_to, "password");
        }
        Ok(Err(err)) => return ApiError::Internal(anyhow::anyhow!("{err}")).into_response(),
        Err(err) => return ApiError::Internal(anyhow::anyhow!("{err}")).into_response(),
    };
    signin.local.succeeded(&username);
    let roles: Vec<Role> = user
        .roles
        .iter()
        .filter_map(|r| crate::signin::role_of(r))
        .collect();
    if roles.is_empty() {
        count(&state, "local", "no_role");
        return to_signin(&return_to, "role");
    }
    let person = Person {
        subject: user.username,
        name: user.name,
        roles,
        services: user.services,
    };
    match signin.open(state.store(), person, "local", None).await {
        Ok(token) => with_session(&state, &token, &return_to, "local"),
        Err(err) => ApiError::Internal(err).into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct LoginQuery {
    #[serde(rename = "return")]
    return_to: Option<String>,
}

/// `GET /auth/login`: off to the identity provider.
pub(super) async fn login(
    State(state): State<AppState>,
    Query(query): Query<LoginQuery>,
) -> Response {
    let return_to = safe_return(query.return_to.as_deref());
    let Some(oidc) = state.signin().oidc.as_ref() else {
        return Redirect::to(&format!("/signin?return={}", url_encode(&return_to))).into_response();
    };
    match oidc.begin(return_to.clone()).await {
        Ok(url) => Redirect::to(&url).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "cannot start a sign-in with the identity provider");
            count(&state, "oidc", "error");
            to_signin(&return_to, "provider")
        }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /auth/callback`: back from the identity provider.
pub(super) async fn callback(
    State(state): State<AppState>,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let Some(oidc) = state.signin().oidc.as_ref() else {
        return ApiError::NotFound.into_response();
    };
    if let Some(error) = &query.error {
        tracing::warn!(error = %error, description = ?query.error_description, "the identity provider refused the sign-in");
        count(&state, "oidc", "refused");
        return to_signin("/", "provider");
    }
    let (Some(code), Some(csrf)) = (query.code, query.state) else {
        return ApiError::BadRequest("`code` and `state` are required".into()).into_response();
    };
    match oidc.finish(code, &csrf).await {
        Ok((person, id_token, return_to)) => {
            match state
                .signin()
                .open(state.store(), person, "oidc", Some(id_token))
                .await
            {
                Ok(token) => with_session(&state, &token, &return_to, "oidc"),
                Err(err) => ApiError::Internal(err).into_response(),
            }
        }
        Err(err) if err.0.contains("none of the roles") => {
            tracing::warn!(error = %err, "sign-in refused");
            count(&state, "oidc", "no_role");
            to_signin("/", "role")
        }
        Err(err) => {
            tracing::error!(error = %err, "sign-in with the identity provider failed");
            count(&state, "oidc", "error");
            to_signin("/", "provider")
        }
    }
}

/// `POST /auth/logout`: ends the session (and the availability of the agent it signed in), and
/// says where the browser goes: the provider's log-out, or the sign-in page.
pub(super) async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if !crate::signin::same_origin(&headers, state.config().http.public_url.as_deref()) {
        return ApiError::Forbidden("sign out from this server's own page").into_response();
    }
    let signin = state.signin();
    let mut redirect = "/signin?signed_out=1".to_owned();
    if let Some(session) = signin.of_headers(&headers) {
        if session.roles.iter().any(|r| r == "agent") {
            // Off the queues, unless on a call (which the closing connection then leaves to
            // the usual recovery).
            let agent = relais_proto::AgentId::from(session.subject.clone());
            let _ = state
                .calls()
                .run(move |cores, now| {
                    cores.dispatch(now, relais_dispatch::Event::AgentLogout { agent })
                })
                .await;
        }
        let id_token = signin
            .end(state.store(), state.hub(), &session.session_hash)
            .await;
        if session.method == "oidc"
            && let Some(oidc) = signin.oidc.as_ref()
            && let Some(url) = oidc.logout_url(id_token.as_deref()).await
        {
            redirect = url;
        }
    }
    let mut response = Json(serde_json::json!({ "redirect": redirect })).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, signin.clear_cookie());
    response
}

/// `GET /auth/session`: who the cookie signs in, or 401.
pub(super) async fn session(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match state.signin().of_headers(&headers) {
        Some(session) => Json(serde_json::json!({
            "subject": session.subject,
            "name": session.name,
            "roles": session.roles,
            "services": session.services,
            "method": session.method,
            "expires_ms": session.expires_ms,
        }))
        .into_response(),
        None => (
            StatusCode::UNAUTHORIZED,
            Json(serde_json::json!({"error": "unauthorized", "message": "not signed in"})),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_path_of_this_server_is_a_return_address() {
        assert_eq!(safe_return(Some("/agent")), "/agent");
        assert_eq!(safe_return(Some("//evil.example/x")), "/");
        assert_eq!(safe_return(Some("https://evil.example")), "/");
        assert_eq!(safe_return(Some("/\\evil.example")), "/");
        assert_eq!(safe_return(None), "/");
        assert_eq!(url_encode("/agent?x=1&y"), "/agent%3Fx%3D1%26y");
    }
}
