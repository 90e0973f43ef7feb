//! TLS termination by `cpts serve` itself (rustls, the `ring` provider), with optional client
//! certificates for machine clients (issue 16, "Machine clients over mutual TLS").
//!
//! With `--tls-client-ca`, the server asks every client for a certificate and verifies it
//! against that bundle *during the handshake*: a certificate from another CA is refused there,
//! before any HTTP byte. A client may still come without a certificate, with a bearer token
//! (people and scripts): verification is `allow_unauthenticated`. A verified certificate's
//! subject (its CN and OU, the fields the SAS platform checks) becomes the connection's
//! [`ClientIdentity`], which `api::auth` maps to a principal through the database
//! (`cpts cert map`); an unmapped or revoked subject gets the 401 of an unknown token.

use crate::api::auth::ClientIdentity;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;

/// Where the server's certificate, key and accepted client CAs are (PEM files).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// The server's certificate chain, leaf first.
    pub cert: PathBuf,
    /// Its private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// The CAs whose client certificates are accepted; `None`: no client certificates.
    pub client_ca: Option<PathBuf>,
}

/// Why TLS cannot be set up; each names its file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the PEM file {path}: {reason}")]
    Pem { path: PathBuf, reason: String },
    #[error("{path} holds no certificate")]
    NoCertificate { path: PathBuf },
    #[error("the client CA bundle {path} is not usable: {reason}")]
    ClientCa { path: PathBuf, reason: String },
    #[error("the certificate and key do not make a TLS server: {0}")]
    Config(#[from] rustls::Error),
}

fn pem_error(path: &Path, e: impl std::fmt::Display) -> TlsError {
    TlsError::Pem {
        path: path.to_owned(),
        reason: e.to_string(),
    }
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem_error(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(path, e))?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

/// The acceptor of `files`.
///
/// # Errors
/// [`TlsError`] naming the file that is missing, unreadable or unusable.
pub fn acceptor(files: &TlsFiles) -> Result<TlsAcceptor, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = certificates(&files.cert)?;
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| pem_error(&files.key, e))?;
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()?;
    let mut config = match &files.client_ca {
        None => builder.with_no_client_auth().with_single_cert(chain, key)?,
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for cert in certificates(ca)? {
                roots.add(cert).map_err(|e| TlsError::ClientCa {
                    path: ca.clone(),
                    reason: e.to_string(),
                })?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()
                .map_err(|e| TlsError::ClientCa {
                    path: ca.clone(),
                    reason: e.to_string(),
                })?;
            builder
                .with_client_cert_verifier(verifier)
                .with_single_cert(chain, key)?
        }
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The subject of a verified client certificate (its first CN and first OU; empty when
/// absent), or `None` when it cannot be parsed (rustls verified it, so it can).
pub fn identity_of(cert: &CertificateDer<'_>) -> Option<ClientIdentity> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    let subject = parsed.subject();
    let cn = subject
        .iter_common_name()
        .next()
        .and_then(|a| a.as_str().ok())
        .unwrap_or("")
        .to_owned();
    let ou = subject
        .iter_organizational_unit()
        .next()
        .and_then(|a| a.as_str().ok())
        .unwrap_or("")
        .to_owned();
    (!cn.is_empty()).then_some(ClientIdentity { cn, ou })
}
