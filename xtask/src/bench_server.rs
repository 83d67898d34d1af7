//! The API server's own cost of an apply: the CPU time kube-apiserver and etcd spend while it
//! runs, read from `/proc`. Spread over every core, it is the shortest wall time any client
//! could take for the same writes on this machine: the floor a ratio against kubectl cannot
//! beat, whatever the client does.

use std::{path::Path, time::Duration};

use crate::bench_measure::output;

/// The processes of a cluster that `start.sh DIR` started, which do the work of each request.
pub struct Server {
    pids: Vec<u32>,
    ticks_per_second: f64,
}

impl Server {
    /// kube-apiserver and etcd of the cluster in `dir`, by the pid files `start.sh` writes.
    pub fn of(dir: &Path) -> Result<Server, String> {
        let pids = ["kube-apiserver", "etcd"]
            .iter()
            .map(|name| {
                let file = dir.join(format!("{name}.pid"));
                let text = std::fs::read_to_string(&file)
                    .map_err(|err| format!("cannot read {}: {err}", file.display()))?;
                text.trim().parse().map_err(|_| format!("{}: not a pid: {text}", file.display()))
            })
            .collect::<Result<_, String>>()?;
        let ticks = output("getconf", &["CLK_TCK"])?;
        let ticks_per_second =
            ticks.trim().parse().map_err(|_| format!("getconf CLK_TCK printed {ticks}"))?;
        Ok(Server { pids, ticks_per_second })
    }

    /// The CPU time (user and system) the server's processes have used so far.
    pub fn cpu(&self) -> Result<Duration, String> {
        let mut ticks = 0;
        for pid in &self.pids {
            let file = format!("/proc/{pid}/stat");
            let stat = std::fs::read_to_string(&file)
                .map_err(|err| format!("cannot read {file} (has the cluster stopped?): {err}"))?;
            ticks += cpu_ticks(&stat).ok_or_else(|| format!("{file}: unexpected: {stat}"))?;
        }
        Ok(Duration::from_secs_f64(ticks as f64 / self.ticks_per_second))
    }
}

/// utime + stime of a `/proc/PID/stat` line (fields 14 and 15; the command name, field 2, is
/// in parentheses and may hold spaces, so fields are counted after its closing one).
fn cpu_ticks(stat: &str) -> Option<u64> {
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(user + system)
}

/// The cores the server's CPU time can be spread over.
pub fn cores() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as u32)
}

#[cfg(test)]
mod tests {
    use super::cpu_ticks;

    #[test]
    fn cpu_ticks_are_counted_after_a_command_name_with_spaces() {
        let stat = "4242 (kube apiserver) S 1 4242 4242 0 -1 4194560 900 0 0 0 1234 567 0 0 \
                    20 0 12 0 100 1167412 108938 18446744073709551615";
        assert_eq!(cpu_ticks(stat), Some(1234 + 567));
        assert_eq!(cpu_ticks("4242 (truncated"), None);
    }
}
