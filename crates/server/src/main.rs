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

/// Returning freed memory to the system. mimalloc purges freed pages a while later, but only
/// when a thread works in its heap: after a wave of connections closes, the runtime's threads
/// go idle and what the wave used stayed resident (+40 MiB after 3,000 websockets). So a runtime
/// thread about to park collects its heap (at most once a second), and a thread of ours wakes
/// the idle runtime every few seconds, so that its last park after a wave collects too, then
/// purges what all threads gave back.
mod memory {
    use std::cell::Cell;
    use std::time::{Duration, Instant};

    /// The least time between two collections of one runtime thread's heap.
    const COLLECT_EVERY: Duration = Duration::from_secs(1);
    /// How often the purger wakes the runtime and hands freed memory back to the system.
    const PURGE_EVERY: Duration = Duration::from_secs(5);

    thread_local! {
        static LAST_COLLECT: Cell<Option<Instant>> = const { Cell::new(None) };
    }

    /// Called by a runtime thread about to park: frees the empty pages of its heap (also those
    /// emptied by other threads' frees), which a thread does as it allocates but an idle one
    /// never does.
    pub fn on_park() {
        LAST_COLLECT.with(|last| {
            let now = Instant::now();
            if last
                .get()
                .is_none_or(|at| now.duration_since(at) >= COLLECT_EVERY)
            {
                last.set(Some(now));
                collect();
            }
        });
    }

    /// Starts the purger: every few seconds it wakes each idle runtime thread with an empty
    /// task (each then collects as it parks again) and purges the freed memory of all threads.
    pub fn start_purger(runtime: tokio::runtime::Handle, threads: usize) -> std::io::Result<()> {
        std::thread::Builder::new()
            .name("relais-memory".into())
            .spawn(move || {
                // A thread that never allocated has no heap and its collection does nothing.
                let initialised = std::hint::black_box(Box::new(0_u8));
                drop(initialised);
                loop {
                    std::thread::sleep(PURGE_EVERY);
                    for _ in 0..threads {
                        drop(runtime.spawn(async {}));
                    }
                    std::thread::sleep(Duration::from_millis(100));
                    collect();
                }
            })
            .map(drop)
    }

    /// Collects the calling thread's heap and purges free memory in every arena now.
    #[allow(unsafe_code)]
    fn collect() {
        // SAFETY: `mi_collect` takes no pointer and may be called from any thread at any time;
        // it only walks the allocator's own structures.
        unsafe { libmimalloc_sys::mi_collect(true) }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(cli.config),
        Command::CheckConfig { file } => check_config(&file),
        Command::User { action } => user(cli.config, action),
        Command::Doctor => doctor(cli.config),
        Command::Purge { days } => purge(cli.config, days),
        Command::Token {
            role,
            sub,
            skills,
            site,
            ttl,
            services,
            name,
        } => token(
            cli.config,
            TokenArgs {
                role,
                sub,
                skills,
                site,
                ttl,
                services,
                name,
            },
        ),
    }
}

fn purge(config_path: Option<std::path::PathBuf>, days: Option<u32>) -> ExitCode {
    let config = match Config::load(config_path.as_deref()) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("relais: {err}");
            return ExitCode::from(2);
        }
    };
    let days = days.unwrap_or(config.records.retention_days);
    if days == 0 {
        eprintln!("relais: retention is 0 days (keep forever): nothing to purge");
        return ExitCode::SUCCESS;
    }
    match relais::retention::purge(&config, days) {
        Ok((before, purged)) => {
            println!(
                "purged before {before}: {} calls ({} legs, {} chat messages), {} agent state \
                 changes, {} audit entries",
                purged.calls, purged.legs, purged.chat, purged.agent_states, purged.audit
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("relais: {err:#}");
            ExitCode::FAILURE
        }
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
        .on_thread_park(memory::on_park)
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("relais: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let threads = runtime.metrics().num_workers();
    if let Err(err) = memory::start_purger(runtime.handle().clone(), threads) {
        tracing::warn!(error = %err, "cannot start the memory purger; freed memory stays resident");
    }
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

fn user(config_path: Option<std::path::PathBuf>, action: relais::cli::UserAction) -> ExitCode {
    use relais::cli::UserAction;
    let config = match Config::load(config_path.as_deref()) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("relais: {err}");
            return ExitCode::from(2);
        }
    };
    let done = match action {
        UserAction::Add {
            username,
            roles,
            name,
            services,
            skills,
            teams,
        } => relais::accounts::add(
            &config,
            relais::accounts::NewUser {
                username,
                name,
                roles,
                services,
                skills,
                teams,
            },
            std::io::stdin().lock(),
        ),
        UserAction::List => relais::accounts::show(&config),
        UserAction::Disable { username } => relais::accounts::disable(&config, &username),
    };
    match done {
        Ok(text) => {
            println!("{}", text.trim_end());
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("relais: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn doctor(config_path: Option<std::path::PathBuf>) -> ExitCode {
    let config = match Config::load(config_path.as_deref()) {
        Ok(config) => config,
        Err(err) => {
            println!("FAIL configuration   {err}");
            return ExitCode::from(2);
        }
    };
    let findings = relais::doctor::run(&config);
    let (text, healthy) = relais::doctor::report(&findings);
    print!("{text}");
    if healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn check_config(file: &std::path::Path) -> ExitCode {
    match Config::load(Some(file)) {
        Ok(config) => {
            for warning in config.warnings() {
                eprintln!("relais: warning: {warning}");
            }
            match relais::admin::check_stored(&config) {
                Ok(Some(summary)) => println!("# {summary}"),
                Ok(None) => {}
                Err(err) => {
                    eprintln!("relais: {err}");
                    return ExitCode::from(2);
                }
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

/// The claims asked for on `relais token`'s command line.
struct TokenArgs {
    role: String,
    sub: String,
    skills: String,
    site: Option<String>,
    ttl: Option<i64>,
    services: Option<String>,
    name: Option<String>,
}

fn token(config_path: Option<std::path::PathBuf>, args: TokenArgs) -> ExitCode {
    let TokenArgs {
        role,
        sub,
        skills,
        site,
        ttl,
        services,
        name,
    } = args;
    let config = match Config::load(config_path.as_deref()) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("relais: {err}");
            return ExitCode::from(2);
        }
    };
    let role: relais_proto::Role =
        match serde_json::from_value(serde_json::Value::String(role.clone())) {
            Ok(role) => role,
            Err(_) => {
                eprintln!("relais: --role must be kiosk, agent, supervisor or admin");
                return ExitCode::from(2);
            }
        };
    let skills = match relais::auth::parse_skills(&skills) {
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
        dev: None,
        role,
        sub,
        exp: relais::auth::now_secs() + ttl,
        site,
        skills,
        services: services.map(|list| {
            list.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        }),
        name,
    };
    println!("{}", relais::auth::TokenKey::new(&secret).sign(&claims));
    ExitCode::SUCCESS
}
