//! The run's report: a table for people and JSON for scripts.

use serde::Serialize;

/// Figures of one run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub server: String,
    pub calls_requested: usize,
    pub calls_established: usize,
    pub media_seconds: f64,
    pub setup_ms_p50: Option<f64>,
    pub setup_ms_p99: Option<f64>,
    pub delay_ms_p50: Option<f64>,
    pub delay_ms_p99: Option<f64>,
    pub delay_ms_max: Option<f64>,
    /// Interarrival jitter (RFC 3550, from the send stamps) at the end of the run: the mean
    /// over every received stream, and the largest.
    pub jitter_ms_mean: Option<f64>,
    pub jitter_ms_max: Option<f64>,
    pub packets_sent: u64,
    pub packets_received: u64,
    /// Packets missing inside the received streams (from each stream's first to last packet).
    pub loss_percent: f64,
    pub server_cpu_seconds: Option<f64>,
    pub server_cpu_us_per_forwarded_packet: Option<f64>,
    pub server_rss_bytes: Option<u64>,
    pub forwarded_packets_per_second: f64,
    /// Packets sent as a share of what the profile asked for: under ~95 % the load generator
    /// itself could not keep up, and the run says little about the server.
    pub offered_percent: f64,
    /// The load generator's own CPU use during the media window, in % of one core.
    pub loadgen_cpu_percent: Option<f64>,
    /// Time datagrams stayed in the server (kernel arrival to the end of their batch's send),
    /// from Relais's own metrics: the delay the SFU adds, without the clients' stacks.
    pub server_residence_ms_p50: Option<f64>,
    pub server_residence_ms_p99: Option<f64>,
    /// Datagrams the server's kernel dropped for a full receive buffer, and refused to send.
    pub server_receive_overflow: Option<u64>,
    pub server_send_dropped: Option<u64>,
}

/// The `q` quantile (0..=1) of sorted values.
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * (sorted.len() - 1) as f64).round() as usize;
    sorted.get(rank.min(sorted.len() - 1)).copied()
}

impl Report {
    /// A human-readable table.
    pub fn table(&self) -> String {
        let opt = |v: Option<f64>, digits: usize| {
            v.map(|v| format!("{v:.digits$}"))
                .unwrap_or_else(|| "-".to_owned())
        };
        let rows = [
            ("server", self.server.clone()),
            (
                "calls established",
                format!("{} / {}", self.calls_established, self.calls_requested),
            ),
            ("media seconds", format!("{:.1}", self.media_seconds)),
            (
                "set-up (accept → first packet) p50 / p99 ms",
                format!(
                    "{} / {}",
                    opt(self.setup_ms_p50, 1),
                    opt(self.setup_ms_p99, 1)
                ),
            ),
            (
                "one-way delay p50 / p99 / max ms",
                format!(
                    "{} / {} / {}",
                    opt(self.delay_ms_p50, 2),
                    opt(self.delay_ms_p99, 2),
                    opt(self.delay_ms_max, 2)
                ),
            ),
            (
                "jitter mean / max ms",
                format!(
                    "{} / {}",
                    opt(self.jitter_ms_mean, 3),
                    opt(self.jitter_ms_max, 3)
                ),
            ),
            (
                "packets sent / received",
                format!("{} / {}", self.packets_sent, self.packets_received),
            ),
            ("loss %", format!("{:.3}", self.loss_percent)),
            (
                "offered load % (load generator CPU %)",
                format!(
                    "{:.1} ({})",
                    self.offered_percent,
                    opt(self.loadgen_cpu_percent, 0)
                ),
            ),
            (
                "server residence p50 / p99 ms",
                format!(
                    "{} / {}",
                    opt(self.server_residence_ms_p50, 3),
                    opt(self.server_residence_ms_p99, 3)
                ),
            ),
            (
                "server receive overflow / send dropped",
                format!(
                    "{} / {}",
                    self.server_receive_overflow
                        .map_or_else(|| "-".to_owned(), |n| n.to_string()),
                    self.server_send_dropped
                        .map_or_else(|| "-".to_owned(), |n| n.to_string())
                ),
            ),
            (
                "forwarded packets/s",
                format!("{:.0}", self.forwarded_packets_per_second),
            ),
            ("server CPU s", opt(self.server_cpu_seconds, 2)),
            (
                "server CPU µs per forwarded packet",
                opt(self.server_cpu_us_per_forwarded_packet, 1),
            ),
            (
                "server RSS MiB",
                self.server_rss_bytes
                    .map(|b| format!("{:.1}", b as f64 / 1048576.0))
                    .unwrap_or_else(|| "-".into()),
            ),
        ];
        let width = rows
            .iter()
            .map(|(k, _)| k.chars().count())
            .max()
            .unwrap_or(0);
        rows.iter()
            .map(|(k, v)| format!("{k:<width$}  {v}\n"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn quantiles_pick_the_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(super::quantile(&values, 0.5), Some(51.0));
        assert_eq!(super::quantile(&values, 0.99), Some(99.0));
        assert_eq!(super::quantile(&[], 0.5), None);
    }
}
