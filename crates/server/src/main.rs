//! The `relais` binary: parses the command line and runs the server or a tool command.

use std::process::ExitCode;

use clap::Parser;
use relais::cli::{Cli, Command};
use relais::config::Config;

/// mimalloc instead of the system allocator: the media engine allocates and frees a buffer or
/// two per packet, and glibc's heap trimming turned that into page faults (≈ 7 % of a shard's
/// time under load).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(cli.config),
        Command::CheckConfig { file } => check_config(&file),
        Command::Token {
            role,
            sub,
            skills,
            site,
            ttl,
        } => token(cli.config, &role, &sub, &skills, site, ttl),
    }
}

fn serve(config_path: Option<std::path::PathBuf>) -> ExitCode {
    let config = match Config::load(config_path.as_deref()) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("relais: {err}");
            return ExitCode::from(2);
        }
    };
    if let Err(err) = relais::telemetry::init(&config.log) {
        eprintln!("relais: cannot start logging: {err}");
        return ExitCode::from(2);
    }
    match relais::conn_limits::raise_descriptor_limit() {
        Ok((before, after)) => tracing::info!(before, after, "open-descriptor limit"),
        Err(err) => tracing::warn!(error = %err, "cannot raise the open-descriptor limit"),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("relais: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = format!("{err:#}"), "server stopped on an error");
            eprintln!("relais: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> anyhow::Result<()> {
    let server = relais::Server::bind(config).await?;
    server.print_banner();
    server.run(relais::serve::shutdown_signal()).await
}

fn check_config(file: &std::path::Path) -> ExitCode {
    match Config::load(Some(file)) {
        Ok(config) => {
            for warning in config.warnings() {
                eprintln!("relais: warning: {warning}");
            }
            println!("# {}: valid. Effective configuration:", file.display());
            print!("{}", config.to_toml_redacted());
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("relais: {err}");
            ExitCode::from(2)
        }
    }
}

fn token(
    config_path: Option<std::path::PathBuf>,
    role: &str,
    sub: &str,
    skills: &str,
    site: Option<String>,
    ttl: Option<i64>,
) -> ExitCode {
    let config = match Config::load(config_path.as_deref()) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("relais: {err}");
            return ExitCode::from(2);
        }
    };
    let role: relais_proto::Role =
        match serde_json::from_value(serde_json::Value::String(role.to_owned())) {
            Ok(role) => role,
            Err(_) => {
                eprintln!("relais: --role must be kiosk, agent, supervisor or admin");
                return ExitCode::from(2);
            }
        };
    let skills = match relais::auth::parse_skills(skills) {
        Ok(skills) => skills,
        Err(err) => {
            eprintln!("relais: --skills: {err}");
            return ExitCode::from(2);
        }
    };
    let secret = match relais::auth::load_secret(&config) {
        Ok(secret) => secret,
        Err(err) => {
            eprintln!("relais: {err:#}");
            return ExitCode::FAILURE;
        }
    };
    let ttl = ttl.unwrap_or(config.auth.token_ttl_secs as i64);
    let claims = relais::auth::Claims {
        role,
        sub: sub.to_owned(),
        exp: relais::auth::now_secs() + ttl,
        site,
        skills,
    };
    println!("{}", relais::auth::TokenKey::new(&secret).sign(&claims));
    ExitCode::SUCCESS
}
