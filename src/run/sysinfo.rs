//! The run process's own resource use and the machine's load, sampled from `/proc` for the
//! dashboard's system line: what users would otherwise open btop for.
//!
//! Linux only; elsewhere (or when `/proc` cannot be read) every field is `None` and the line says
//! "n/a". Sampling reads three small files, on the hub thread, about once a second.

use std::time::Instant;

use crate::schema::msg::SysStats;

/// CPU time is measured over the interval since the previous sample, so the first one has none.
pub struct Sampler {
    last: Option<(u64, Instant)>,
    ticks_per_s: Option<f64>,
}

impl Default for Sampler {
    fn default() -> Self {
        Self::new()
    }
}

impl Sampler {
    pub fn new() -> Self {
        // SAFETY: sysconf has no preconditions; it returns -1 for an unknown name.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        Self {
            last: None,
            ticks_per_s: (ticks > 0).then_some(ticks as f64),
        }
    }

    /// The process's CPU % since the last call (100 = one core busy), its resident memory and
    /// threads, and the machine's 1-minute load average and core count.
    pub fn sample(&mut self) -> SysStats {
        let now = Instant::now();
        let ticks = read("/proc/self/stat").and_then(|s| cpu_ticks(&s));
        let cpu_percent = match (ticks, self.last, self.ticks_per_s) {
            (Some(ticks), Some((before, then)), Some(per_s)) => {
                let wall = now.duration_since(then).as_secs_f64();
                (wall > 0.0).then(|| ticks.saturating_sub(before) as f64 / per_s / wall * 100.0)
            }
            _ => None,
        };
        self.last = ticks.map(|t| (t, now));
        let status = read("/proc/self/status").map(|s| parse_status(&s));
        let (rss_bytes, threads) = status.unwrap_or((None, None));
        SysStats {
            cpu_percent,
            rss_bytes,
            threads,
            load1: read("/proc/loadavg").and_then(|s| load1(&s)),
            cores: std::thread::available_parallelism()
                .ok()
                .map(|n| n.get() as u32),
        }
    }
}

fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// User plus system time in clock ticks from a `/proc/<pid>/stat` line. The process name
/// (field 2, in parentheses) may itself hold spaces and parentheses, so the fields are counted
/// from the last `)`.
pub fn cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // After the name: state (field 3) … utime (14) and stime (15).
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// Resident memory in bytes and the thread count from `/proc/<pid>/status`.
pub fn parse_status(status: &str) -> (Option<u64>, Option<u32>) {
    let (mut rss, mut threads) = (None, None);
    for line in status.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match key {
            "VmRSS" => {
                rss = value
                    .strip_suffix("kB")
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(|kb| kb * 1024);
            }
            "Threads" => threads = value.parse().ok(),
            _ => {}
        }
    }
    (rss, threads)
}

/// The 1-minute load average from `/proc/loadavg`.
pub fn load1(loadavg: &str) -> Option<f64> {
    loadavg.split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real lines, taken from a Linux 6 machine: a process named `we ird) (n` (spaces and
    /// parentheses in the name) and an init process with CPU time.
    const STAT_ODD_NAME: &str = "14915 (we ird) (n) S 14914 14911 10438 0 -1 4194304 129 0 0 0 0 0 0 0 20 0 1 0 3508291 2990080 386 18446744073709551615 94750839058432 94750839076361 140730445005600 0 0 0 0 6 0 1 0 0 17 0 0 0 0 0 0 94750839090448 94750839091712 94751386103808 140730445011674 140730445011693 140730445011693 140730445012968 0\n";
    const STAT_BUSY: &str = "1 (process_api) S 0 0 0 0 -1 4194560 229390 316826835 0 90558 1475 8031 4147706 130307 10 -10 18 0 24 53100544 3322 18446744073709551615 1 1 0 0 0 0 0 4096 1256 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n";
    const STATUS: &str = "Name:\twe ird) (n\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t14915\nVmPeak:\t    2920 kB\nVmSize:\t    2920 kB\nVmHWM:\t    1720 kB\nVmRSS:\t    1720 kB\nRssAnon:\t       0 kB\nThreads:\t1\nSigQ:\t0/7823\n";

    #[test]
    fn cpu_time_is_read_after_the_name_whatever_it_holds() {
        assert_eq!(cpu_ticks(STAT_ODD_NAME), Some(0));
        assert_eq!(cpu_ticks(STAT_BUSY), Some(1475 + 8031));
        assert_eq!(cpu_ticks("garbage"), None);
        assert_eq!(cpu_ticks("1 (x) S 0 0"), None, "a truncated line");
    }

    #[test]
    fn status_gives_resident_bytes_and_threads() {
        assert_eq!(parse_status(STATUS), (Some(1720 * 1024), Some(1)));
        assert_eq!(parse_status("Name:\tx\n"), (None, None));
    }

    #[test]
    fn loadavg_gives_the_one_minute_load() {
        assert_eq!(load1("1.68 1.65 0.94 3/105 14919\n"), Some(1.68));
        assert_eq!(load1(""), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_busy_thread_shows_as_cpu_use() {
        let mut sampler = Sampler::new();
        let first = sampler.sample();
        assert_eq!(first.cpu_percent, None, "no interval yet");
        let until = Instant::now() + std::time::Duration::from_millis(300);
        let mut x = 0u64;
        while Instant::now() < until {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
        let s = sampler.sample();
        let cpu = s.cpu_percent.expect("a second sample has an interval");
        assert!(cpu > 10.0, "a thread spinning for 300 ms used {cpu}% CPU");
        assert!(s.rss_bytes.is_some_and(|b| b > 1 << 20), "{s:?}");
        assert!(s.threads.is_some_and(|n| n >= 1), "{s:?}");
        assert!(s.load1.is_some_and(|l| l >= 0.0), "{s:?}");
        assert!(s.cores.is_some_and(|n| n >= 1), "{s:?}");
    }
}
