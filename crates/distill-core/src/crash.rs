//! Crashes on purpose, for tests, and telling a crashed process's leftovers from a live
//! one's.
//!
//! With `DISTILL_TEST_KILL_AT=NAME` in the environment, [`point`]`(NAME)` kills the process
//! with SIGKILL right there: no destructor, no signal handler, as an OOM kill or a power cut
//! would end it. Tests reach each named point that way instead of racing a timer. Without
//! the variable a point costs one cached lookup.

use std::sync::OnceLock;

/// Kills this process with SIGKILL if `DISTILL_TEST_KILL_AT` names this point.
pub fn point(name: &str) {
    static AT: OnceLock<Option<String>> = OnceLock::new();
    let at = AT.get_or_init(|| std::env::var("DISTILL_TEST_KILL_AT").ok());
    if at.as_deref() == Some(name) {
        let _ =
            rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::KILL);
    }
}

/// Whether a process `pid` runs (it may be another program that reused the number; callers
/// then keep what they would have removed, which is the safe side).
pub fn alive(pid: u32) -> bool {
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return false;
    };
    match rustix::process::test_kill_process(pid) {
        Ok(()) => true,
        Err(e) => e != rustix::io::Errno::SRCH,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_reaped_child_is_not() {
        assert!(alive(std::process::id()));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(!alive(pid));
        point("not-set-in-tests");
    }
}
