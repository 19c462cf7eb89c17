//! The landing page at `/`: what this server is and links to the three consoles.

use axum::extract::State;
use axum::response::Html;

use crate::state::AppState;

pub(super) async fn page(State(state): State<AppState>) -> Html<String> {
    let config = state.config();
    let mut services = String::new();
    for service in state.services().iter() {
        let hours = if service.hours.is_some() {
            "horaires d'ouverture"
        } else {
            "ouvert en continu"
        };
        services.push_str(&format!(
            "<li><strong>{}</strong> <code>{}</code> — {}</li>\n",
            escape(&service.name),
            escape(&service.id),
            hours
        ));
    }
    // In development the page hands out ready-made demo links (the server listens on
    // 127.0.0.1 by default); in production it never shows a token.
    let mode = if config.development() {
        let mut links = String::from(
            "<div class=\"dev\"><p>Mode développement : liens de démonstration (jetons valables quelques heures).</p><ul>\n",
        );
        for (label, path, token) in crate::auth::demo_tokens(config, state.tokens()) {
            links.push_str(&format!(
                "<li><a href=\"{path}#token={token}\">{}</a></li>\n",
                escape(&label)
            ));
        }
        links.push_str("</ul></div>");
        links
    } else {
        String::new()
    };
    Html(format!(
        r#"<!doctype html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Relais</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 44rem; margin: 2rem auto; padding: 0 1rem; color: #111; }}
a.console {{ display: block; margin: .6rem 0; padding: 1rem 1.2rem; border: 2px solid #1d4ed8; border-radius: .6rem; color: #1d4ed8; text-decoration: none; font-size: 1.2rem; }}
a.console:hover, a.console:focus {{ background: #1d4ed8; color: #fff; }}
.dev {{ background: #fef3c7; padding: .6rem; border-radius: .4rem; }}
footer {{ margin-top: 2rem; color: #555; font-size: .9rem; }}
</style>
</head>
<body>
<h1>Relais</h1>
<p>Serveur de visio-accueil des services publics : bornes, conseillers et superviseurs.</p>
{mode}
<nav>
<a class="console" href="/kiosk">Borne visio-accueil (kiosk)</a>
<a class="console" href="/agent">Console conseiller (agent)</a>
<a class="console" href="/supervisor">Supervision (wallboard)</a>
<a class="console" href="/admin">Administration</a>
</nav>
<h2>Services</h2>
<ul>
{services}</ul>
<footer>Relais {version} · <a href="/metrics">/metrics</a> · <a href="/healthz">/healthz</a> · <a href="/readyz">/readyz</a></footer>
</body>
</html>
"#,
        version = crate::VERSION
    ))
}

/// Escapes text for HTML element content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}
