//! The deprivileged child process that parses guest bytes. The only crate with `unsafe`.
//! (Placeholder API; being written.)

/// What the child may keep and how it is limited.
#[derive(Debug, Clone)]
pub struct Policy {
    /// `false` with `--no-sandbox`: run the closure in-process.
    pub enabled: bool,
    /// `--runas` uid; `None` = a fixed unprivileged uid when root, unchanged otherwise.
    pub runas: Option<u32>,
    /// RLIMIT_FSIZE and the cap the parent checks output files against.
    pub max_file_size: u64,
    /// RLIMIT_AS.
    pub max_memory: u64,
    /// Wall-clock limit; the child is killed after it.
    pub timeout: std::time::Duration,
    /// Raw fds the child keeps open (image, outputs, terminal). All others are closed.
    pub keep_fds: Vec<i32>,
}

/// Why the child failed.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The child reported an error (its message).
    #[error("{0}")]
    Child(String),
    /// Setting up the sandbox failed.
    #[error("sandbox: {0}")]
    Setup(String),
    /// Killed or crashed.
    #[error("parser process died: {0}")]
    Died(String),
    /// Took too long.
    #[error("parser process timed out after {0} s")]
    Timeout(u64),
}

/// Run `f` in the sandbox; returns its result bytes.
pub fn run<F>(_policy: &Policy, f: F) -> Result<Vec<u8>, SandboxError>
where
    F: FnOnce() -> Result<Vec<u8>, String>,
{
    f().map_err(SandboxError::Child)
}
