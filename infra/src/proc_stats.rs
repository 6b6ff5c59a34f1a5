//! The process's memory as Linux reports it in `/proc/self/status`.

/// Resident and peak resident set size, in bytes; zero where unknown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Memory {
    pub rss_bytes: u64,
    pub peak_rss_bytes: u64,
}

/// Reads `VmRSS` and `VmHWM`.
pub fn memory() -> Memory {
    match std::fs::read_to_string("/proc/self/status") {
        Ok(status) => parse(&status),
        Err(_) => Memory::default(),
    }
}

fn parse(status: &str) -> Memory {
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .map_or(0, |kb| kb * 1024)
    };
    Memory {
        rss_bytes: field("VmRSS:"),
        peak_rss_bytes: field("VmHWM:"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_proc_status() {
        let m = super::parse("Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n");
        assert_eq!(m.rss_bytes, 1024 * 1024);
        assert_eq!(m.peak_rss_bytes, 2048 * 1024);
        assert!(super::memory().rss_bytes > 0);
    }
}
