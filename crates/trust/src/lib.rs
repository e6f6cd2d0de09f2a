//! Module provenance for Kiln: verify what you run, before it is parsed.
//!
//! `kiln-trust` reads and writes WebAssembly signatures in the tool-conventions
//! `Signatures.md` format, byte-compatible with wasmsign2, checks pinned hashes, decides whether
//! a module may be loaded, and records every decision.
//!
//! ```text
//!   key files ──► PublicKey / KeyPair (compact, PEM, DER, OpenSSH)
//!                       │
//!   module bytes ──► wasm::layout ──► format::SignatureData::parse ──► verify ──► Verification
//!   (never parsed      (header, first     (bounded, strict)            (Ed25519 + SHA-256,
//!    as wasm here)      section only)                                   rolling hashes)
//!                                                                         │
//!   PinSet ──────────────────────────────────────────► LoadPolicy::check ─┴─► Decision ─► Audit
//! ```
//!
//! # Core concepts
//!
//! - [`SignatureData`]: the payload of the `signature` custom section (first section of a
//!   module) or of a detached signature file. [`sign`] and [`sign_detached`] produce it.
//! - Rolling hashes: a module may be split into parts by `signature_delimiter` custom sections
//!   ([`wasm::add_delimiters`]); a signature then covers each prefix ending at a delimiter.
//! - [`verify`] reports which keys signed which [`Coverage`] of a module.
//! - [`LoadPolicy`] turns that into a [`Decision`]: `k` of `n` trusted keys, whole coverage
//!   unless partial signatures are allowed, and/or a pinned hash ([`PinSet`]).
//! - [`Audit`]: decisions and denied capability uses as `tracing` events and JSON lines.
//!
//! # Example
//!
//! ```
//! use kiln_trust::{KeyPair, LoadPolicy, sign};
//!
//! let key = KeyPair::from_seed(&[7; 32]);
//! let module = b"\0asm\x01\0\0\0";
//! let signed = sign(module, &key, Some(&key.public().key_id())).unwrap();
//! let policy = LoadPolicy::require_signature([key.public()], 1).unwrap();
//! assert!(policy.evaluate(&signed, None, Some("m.wasm")).allowed);
//! assert!(!policy.evaluate(module, None, Some("m.wasm")).allowed);
//! ```
//!
//! No `unsafe`; every length and count read from a file is bounded before anything is
//! allocated; malformed input is an [`Error`], never a panic.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod audit;
pub mod encoding;
mod error;
pub mod format;
mod keys;
mod pins;
mod policy;
mod reader;
mod sign;
#[cfg(test)]
mod testutil;
mod verify;
pub mod wasm;

pub use audit::{Audit, AuditEvent, AuditSink, CapabilityDenied, JsonLinesFile};
pub use error::Error;
pub use format::{Hash, SignatureData, SignatureRecord, SignedHashes};
pub use keys::{KeyId, KeyPair, PublicKey, hmac_sha256};
pub use pins::{Pin, PinSet};
pub use policy::{Decision, LoadPolicy, PolicySummary};
pub use sign::{sign, sign_detached};
pub use verify::{Coverage, MAX_VERIFICATIONS, Signer, Verification, verify};
pub use wasm::sha256;
