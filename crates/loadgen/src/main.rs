//! `relais-loadgen`: synthetic calls through a running Relais server, with a report.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use relais_loadgen::peer::MediaProfile;
use relais_loadgen::run::{RunConfig, run};

/// Drives synthetic kiosk ⇄ agent calls through a Relais server and reports set-up time,
/// one-way delay, loss and the server's CPU per forwarded packet.
#[derive(Debug, Parser)]
#[command(name = "relais-loadgen", version)]
struct Args {
    /// The server's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    server: String,
    /// The server's token secret (`auth.secret`), or a file holding it with `@path`.
    #[arg(long, env = "LOADGEN_SECRET")]
    secret: String,
    /// Service the kiosks call.
    #[arg(long, default_value = "caf")]
    service: String,
    /// Number of concurrent calls.
    #[arg(long, default_value_t = 4)]
    calls: usize,
    /// Calls started per second.
    #[arg(long, default_value_t = 5.0)]
    ramp: f64,
    /// Seconds of media once the calls are up.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Video packets per second per direction.
    #[arg(long, default_value_t = 110)]
    video_pps: u32,
    /// Audio packets per second per direction.
    #[arg(long, default_value_t = 50)]
    audio_pps: u32,
    /// Address the synthetic browsers bind to.
    #[arg(long, default_value = "127.0.0.1")]
    bind: String,
    /// The server's process id, for CPU and memory figures.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Write the report as JSON to this file.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let secret = match args.secret.strip_prefix('@') {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => text.trim().as_bytes().to_vec(),
            Err(err) => {
                eprintln!("relais-loadgen: cannot read {path}: {err}");
                return ExitCode::from(2);
            }
        },
        None => args.secret.as_bytes().to_vec(),
    };
    let config = RunConfig {
        server: args.server.trim_end_matches('/').to_owned(),
        secret,
        service: args.service,
        calls: args.calls,
        ramp_per_sec: args.ramp,
        media: Duration::from_secs_f64(args.seconds),
        profile: MediaProfile {
            video_pps: args.video_pps,
            audio_pps: args.audio_pps,
            ..MediaProfile::default()
        },
        bind_ip: args.bind,
        server_pid: args.server_pid,
        progress: true,
    };
    match run(config).await {
        Ok(report) => {
            print!("{}", report.table());
            if let Some(path) = args.json {
                let text = serde_json::to_string_pretty(&report).unwrap_or_default();
                if let Err(err) = std::fs::write(&path, text) {
                    eprintln!("relais-loadgen: cannot write {}: {err}", path.display());
                    return ExitCode::FAILURE;
                }
            }
            if report.calls_established < report.calls_requested {
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("relais-loadgen: {err:#}");
            ExitCode::FAILURE
        }
    }
}
