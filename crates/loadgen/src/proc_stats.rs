//! The server's CPU time and memory from `/proc/<pid>` (Linux).

/// CPU seconds (user + system) a process has used so far.
pub fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name is in parentheses and may contain spaces: fields follow the last ')'.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| anyhow::anyhow!("unexpected /proc/{pid}/stat"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ')': state is field 3 of the man page, utime 14 and stime 15 → indexes 11 and 12.
    let utime: f64 = fields
        .get(11)
        .ok_or_else(|| anyhow::anyhow!("no utime"))?
        .parse()?;
    let stime: f64 = fields
        .get(12)
        .ok_or_else(|| anyhow::anyhow!("no stime"))?
        .parse()?;
    let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)?.unwrap_or(100) as f64;
    Ok((utime + stime) / ticks)
}

/// Resident memory in bytes.
pub fn rss_bytes(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .ok_or_else(|| anyhow::anyhow!("no VmRSS for {pid}"))?;
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("bad VmRSS line"))?
        .parse()?;
    Ok(kib * 1024)
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_its_own_cpu_and_memory() {
        let pid = std::process::id();
        let before = super::cpu_seconds(pid).expect("cpu");
        // Burn CPU until the kernel's counter moves (ticks are 10 ms); bounded at 5 s.
        let started = std::time::Instant::now();
        let mut x = 0u64;
        while super::cpu_seconds(pid).expect("cpu") <= before {
            for i in 0..1_000_000u64 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
            }
            assert!(started.elapsed().as_secs() < 5, "CPU time never moved");
        }
        assert!(super::cpu_seconds(pid).expect("cpu") > before);
        assert!(super::rss_bytes(pid).expect("rss") > 1024 * 1024);
    }
}
