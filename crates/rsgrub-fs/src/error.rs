//! Filesystem errors. Messages are one line and say what is wrong.
use std::io;

/// Result alias.
pub type Result<T> = std::result::Result<T, FsError>;

/// What went wrong reading a filesystem.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    /// The volume could not be read.
    #[error("read error: {0}")]
    Io(#[from] io::Error),
    /// On-disk structures are inconsistent.
    #[error("corrupt {fs}: {what}")]
    Corrupt {
        /// Driver name.
        fs: &'static str,
        /// What is wrong, with the numbers.
        what: String,
    },
    /// A valid feature this driver does not read.
    #[error("unsupported {fs} feature: {what}")]
    Unsupported {
        /// Driver name.
        fs: &'static str,
        /// Which feature.
        what: String,
    },
    /// No driver recognised the volume.
    #[error("no known filesystem")]
    Unrecognised,
    /// Path does not exist.
    #[error("{0}: no such file or directory")]
    NotFound(String),
    /// A path component is not a directory.
    #[error("{0}: not a directory")]
    NotADirectory(String),
    /// Expected a regular file.
    #[error("{0}: not a regular file")]
    NotAFile(String),
    /// Too many symlinks (loop or over-long chain).
    #[error("{0}: too many levels of symbolic links")]
    SymlinkLoop(String),
    /// A limit rsgrub imposes (directory size, path length, ...).
    #[error("{0}")]
    Limit(String),
}

impl FsError {
    /// Shorthand for [`FsError::Corrupt`].
    pub fn corrupt(fs: &'static str, what: impl Into<String>) -> Self {
        FsError::Corrupt {
            fs,
            what: what.into(),
        }
    }
}
