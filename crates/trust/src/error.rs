//! `Error`: everything that can go wrong while reading keys, signatures, pin files and modules,
//! signing, or applying a load policy.
//!
//! A refused load is an error too ([`Error::Refused`]); it carries the full [`Decision`] so
//! callers can report signers and reasons.

use crate::Decision;

/// An error from `kiln-trust`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The signature data does not follow the format; `offset` is within the signature data.
    #[error("malformed signature data: {message} (at offset {offset:#x})")]
    Malformed {
        /// What is wrong.
        message: String,
        /// Offset in the signature data (the payload of the `signature` section).
        offset: usize,
    },
    /// Well-formed signature data of a version, content type or hash function we do not know.
    #[error("unsupported signature data: {0}")]
    Unsupported(String),
    /// The input does not start with a WebAssembly module or component header.
    #[error("not a WebAssembly binary: {0}")]
    NotWasm(String),
    /// The section framing of the module is broken.
    #[error("malformed module: {message} (at offset {offset:#x})")]
    MalformedModule {
        /// What is wrong.
        message: String,
        /// Offset in the module.
        offset: usize,
    },
    /// The module has no `signature` section first and no detached signature was given.
    #[error("module is not signed: no `signature` section and no detached signature")]
    NotSigned,
    /// A key, pin or signature file could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A key file could not be read as any supported format.
    #[error("invalid key: {0}")]
    Key(String),
    /// A pin file line is not `SHA256HEX  NAME`.
    #[error("invalid pin file: line {line}: {message}")]
    Pin {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The policy itself is inconsistent (for example a threshold above the number of keys).
    #[error("invalid load policy: {0}")]
    Policy(String),
    /// Signing failed (duplicate signature, too many hashes or signatures, …).
    #[error("cannot sign: {0}")]
    Signing(String),
    /// The operating system's random number generator failed.
    #[error("random number generator failed: {0}")]
    Random(String),
    /// Writing an audit record failed; the load is refused rather than left unrecorded.
    #[error("failed to write the audit log")]
    Audit(#[source] std::io::Error),
    /// The module does not satisfy the load policy.
    #[error("{} refused by the load policy: {}", .0.subject(), .0.reason)]
    Refused(Box<Decision>),
}
