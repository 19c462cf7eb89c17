//! Relais's own view of a run, from its Prometheus `/metrics` read before and after the media
//! window: how long datagrams stayed in the server (kernel arrival to the end of their batch's
//! send, `relais_media_residence_seconds`) and what the kernel dropped for full buffers.

use crate::http;

const RESIDENCE: &str = "relais_media_residence_seconds";
const OVERFLOW: &str = "relais_media_receive_overflow_total";
const SEND_DROPPED: &str = "relais_media_send_dropped_total";

/// One reading of the server's metrics.
#[derive(Debug, Clone, Default)]
pub struct Scrape {
    /// Cumulative residence buckets summed over shards: (upper bound in seconds, count).
    buckets: Vec<(f64, f64)>,
    overflow: f64,
    send_dropped: f64,
}

/// What the server measured between two scrapes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Delta {
    pub residence_ms_p50: Option<f64>,
    pub residence_ms_p99: Option<f64>,
    /// Datagrams timed.
    pub residence_count: u64,
    pub receive_overflow: u64,
    pub send_dropped: u64,
}

/// Reads `<server>/metrics`.
pub async fn scrape(server: &str) -> anyhow::Result<Scrape> {
    let text = http::text("GET", &format!("{server}/metrics"), None).await?;
    Ok(parse(&text))
}

/// The value and labels of a sample line `name{labels} value` of metric `name`.
fn sample<'a>(line: &'a str, name: &str) -> Option<(&'a str, f64)> {
    let rest = line.strip_prefix(name)?;
    let (labels, value) = match rest.strip_prefix('{') {
        Some(rest) => rest.split_once("} ")?,
        None => ("", rest.strip_prefix(' ')?),
    };
    Some((labels, value.trim().parse().ok()?))
}

/// The metrics Relais's media shards publish, summed over shards.
pub fn parse(text: &str) -> Scrape {
    let mut scrape = Scrape::default();
    let bucket_name = format!("{RESIDENCE}_bucket");
    for line in text.lines() {
        if let Some((labels, value)) = sample(line, &bucket_name) {
            let Some(le) = labels
                .split(',')
                .find_map(|label| label.strip_prefix("le=\""))
                .and_then(|le| le.strip_suffix('"'))
            else {
                continue;
            };
            let bound = if le == "+Inf" {
                f64::INFINITY
            } else {
                match le.parse() {
                    Ok(bound) => bound,
                    Err(_) => continue,
                }
            };
            match scrape.buckets.iter_mut().find(|(b, _)| *b == bound) {
                Some(entry) => entry.1 += value,
                None => scrape.buckets.push((bound, value)),
            }
        } else if let Some((_, value)) = sample(line, OVERFLOW) {
            scrape.overflow += value;
        } else if let Some((_, value)) = sample(line, SEND_DROPPED) {
            scrape.send_dropped += value;
        }
    }
    scrape.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    scrape
}

/// The quantile `q` of a cumulative histogram, interpolated linearly inside its bucket (the
/// first bucket starts at 0; a quantile in the `+Inf` bucket is its lower bound).
fn quantile(buckets: &[(f64, f64)], q: f64) -> Option<f64> {
    let total = buckets.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let mut lower = (0.0, 0.0);
    for &(bound, count) in buckets {
        if count >= rank {
            if bound.is_infinite() {
                return Some(lower.0);
            }
            let within = count - lower.1;
            let fraction = if within > 0.0 {
                (rank - lower.1) / within
            } else {
                1.0
            };
            return Some(lower.0 + (bound - lower.0) * fraction);
        }
        lower = (bound, count);
    }
    Some(lower.0)
}

impl Scrape {
    /// What happened between `self` (earlier) and `later`.
    pub fn delta(&self, later: &Scrape) -> Delta {
        let buckets: Vec<(f64, f64)> = later
            .buckets
            .iter()
            .map(|&(bound, count)| {
                let before = self
                    .buckets
                    .iter()
                    .find(|(b, _)| *b == bound)
                    .map_or(0.0, |(_, c)| *c);
                (bound, (count - before).max(0.0))
            })
            .collect();
        let ms = |q| quantile(&buckets, q).map(|s| s * 1000.0);
        Delta {
            residence_ms_p50: ms(0.5),
            residence_ms_p99: ms(0.99),
            residence_count: buckets.last().map_or(0, |(_, c)| *c as u64),
            receive_overflow: (later.overflow - self.overflow).max(0.0) as u64,
            send_dropped: (later.send_dropped - self.send_dropped).max(0.0) as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(buckets: &[(&str, u64)], overflow: u64) -> String {
        let mut out = String::from("# TYPE relais_media_residence_seconds histogram\n");
        for shard in ["0", "1"] {
            for (le, count) in buckets {
                out.push_str(&format!(
                    "relais_media_residence_seconds_bucket{{shard=\"{shard}\",le=\"{le}\"}} {count}\n"
                ));
            }
            out.push_str(&format!(
                "relais_media_receive_overflow_total{{shard=\"{shard}\"}} {overflow}\n"
            ));
        }
        out.push_str("relais_media_send_dropped_total{shard=\"0\"} 3\n");
        out
    }

    #[test]
    fn quantiles_come_from_the_difference_of_two_scrapes() {
        let before = parse(&text(
            &[("0.0001", 10), ("0.001", 10), ("0.01", 10), ("+Inf", 10)],
            1,
        ));
        // Per shard, 100 more datagrams: 50 under 100 µs, 49 in (100 µs, 1 ms], 1 in (1, 10] ms.
        let after = parse(&text(
            &[("0.0001", 60), ("0.001", 109), ("0.01", 110), ("+Inf", 110)],
            4,
        ));
        let delta = before.delta(&after);
        assert_eq!(delta.residence_count, 200);
        assert_eq!(delta.receive_overflow, 6);
        assert_eq!(delta.send_dropped, 0);
        // The median is the top of the first bucket; p99 (rank 198 of 200) the top of the second.
        let p50 = delta.residence_ms_p50.unwrap();
        let p99 = delta.residence_ms_p99.unwrap();
        assert!((p50 - 0.1).abs() < 1e-9, "{p50}");
        assert!((p99 - 1.0).abs() < 1e-9, "{p99}");
    }

    #[test]
    fn interpolates_inside_a_bucket_and_stops_at_infinity() {
        let buckets = [(0.001, 0.0), (0.002, 100.0), (f64::INFINITY, 200.0)];
        let median = quantile(&buckets, 0.25).unwrap();
        assert!((median - 0.0015).abs() < 1e-12, "{median}");
        assert_eq!(quantile(&buckets, 0.99), Some(0.002));
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(quantile(&[(0.001, 0.0), (f64::INFINITY, 0.0)], 0.5), None);
    }

    #[test]
    fn no_metrics_means_no_figures() {
        let delta = parse("").delta(&parse(
            "garbage\nrelais_media_residence_seconds_bucket{le=\"x\"} 1\n",
        ));
        assert_eq!(delta, Delta::default());
    }
}
