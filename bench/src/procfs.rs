//! What the benchmarks read from `/proc` (Linux): CPU time of a process, of this process's threads by name, of a
//! process tree, and peak resident memory (`VmHWM`).

use std::path::Path;
use std::time::Duration;

/// Clock ticks per second of `/proc/<pid>/stat` times (`getconf CLK_TCK`; 100 on every Linux we run on).
const TICKS_PER_SECOND: u64 = 100;

/// `utime + stime` of a `stat` line (fields 14 and 15), read after the command name's closing parenthesis.
fn cpu_of_stat(stat: &str) -> Option<Duration> {
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After ')': state is field 3, so utime (14) is index 11 and stime (15) index 12.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 1000 / TICKS_PER_SECOND))
}

/// CPU time (user + system) a process has used so far, all its threads included; None once it is gone.
#[must_use]
pub fn process_cpu(pid: u32) -> Option<Duration> {
    cpu_of_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// CPU time of this process's threads whose name (`comm`) starts with `prefix` (tokio names its workers after
/// the runtime's `thread_name`).
#[must_use]
pub fn own_threads_cpu(prefix: &str) -> Duration {
    let mut total = Duration::ZERO;
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return total;
    };
    for task in tasks.flatten() {
        let name = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if !name.trim_end().starts_with(prefix) {
            continue;
        }
        if let Some(cpu) = std::fs::read_to_string(task.path().join("stat"))
            .ok()
            .as_deref()
            .and_then(cpu_of_stat)
        {
            total += cpu;
        }
    }
    total
}

/// `root` and every live descendant of it.
pub use e2e::procs::tree;

/// The command name of a process (`comm`).
#[must_use]
pub fn name(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim_end()
        .to_owned()
}

/// Peak resident set size (`VmHWM`) of a live process, in bytes.
#[must_use]
pub fn peak_rss(pid: u32) -> Option<u64> {
    status_kib(pid, "VmHWM:").map(|k| k * 1024)
}

/// Current resident set size (`VmRSS`) of a live process, in bytes.
#[must_use]
pub fn rss(pid: u32) -> Option<u64> {
    status_kib(pid, "VmRSS:").map(|k| k * 1024)
}

fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line[field.len()..].split_whitespace().next()?.parse().ok()
}

/// Whether a process is still there (and not a zombie).
#[must_use]
pub fn alive(pid: u32) -> bool {
    let path = format!("/proc/{pid}/stat");
    Path::new(&path).exists()
        && std::fs::read_to_string(&path)
            .ok()
            .and_then(|s| s.rfind(')').map(|i| s[i + 1..].trim_start().starts_with('Z')))
            == Some(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cpu_past_a_name_with_spaces_and_parentheses() {
        let stat = "123 (tokio (x) y) S 7 123 123 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 1 1 1";
        assert_eq!(cpu_of_stat(stat), Some(Duration::from_millis(3000)));
    }

    #[test]
    fn this_process_is_alive_and_has_memory() {
        let me = std::process::id();
        assert!(alive(me));
        assert!(peak_rss(me).is_some_and(|b| b > 0));
        assert!(tree(me).contains(&me));
    }
}
