//! Machine clients over mutual TLS (issue 16): `cpts serve` terminates TLS itself, a client
//! certificate of the configured CA whose subject is mapped (`cpts cert map`) acts as its
//! principal without a token, a certificate of another CA is refused at the handshake, and a
//! revoked or unknown mapping gets the 401 of an unknown token. The CAs and certificates are
//! made here with rcgen; the client is tokio-rustls speaking HTTP/1.1 by hand.

use cpts::config::Config;
use cpts::domain::Role;
use cpts::startup::Application;
use cpts::store::Store;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A certificate authority: its PEM and what signs with it.
pub struct Ca {
    pub pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// A self-signed certificate authority named `name`.
pub fn ca(name: &str) -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    Ca {
        pem: cert.pem(),
        issuer: Issuer::new(params, key),
    }
}

/// A leaf signed by `ca`: a server's for the host `names`, or a client's when there are none
/// (certificate PEM, key PEM).
pub fn leaf(ca: &Ca, cn: &str, ou: Option<&str>, names: &[&str]) -> (String, String) {
    let server = !names.is_empty();
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let mut params = CertificateParams::new(names).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    if let Some(ou) = ou {
        params
            .distinguished_name
            .push(DnType::OrganizationalUnitName, ou);
    }
    params.use_authority_key_identifier_extension = true;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![if server {
        ExtendedKeyUsagePurpose::ServerAuth
    } else {
        ExtendedKeyUsagePurpose::ClientAuth
    }];
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca.issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// `GET path` over TLS to `port`, presenting `client` (certificate and key PEM) and `token`
/// when given: the HTTP status, or `None` when the connection failed (handshake refused).
async fn get(
    port: u16,
    roots_pem: &str,
    client: Option<&(String, String)>,
    token: Option<&str>,
    path: &str,
) -> Option<u16> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(roots_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match client {
        Some((cert, key)) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from_pem_slice(cert.as_bytes()).unwrap()],
                PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let mut tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .ok()?;
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Connection: close\r\n\r\n");
    // TLS 1.3: a refused client certificate shows as an alert on the first read, not at the
    // client's end of the handshake.
    tls.write_all(request.as_bytes()).await.ok()?;
    let mut answer = Vec::new();
    tls.read_to_end(&mut answer).await.ok()?;
    let text = String::from_utf8_lossy(&answer);
    text.split_whitespace().nth(1)?.parse().ok()
}

#[tokio::test]
async fn a_mapped_client_certificate_is_its_principal_and_others_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let known = ca("CA de test des plateformes");
    let unknown = ca("Autre CA");
    let (server_cert, server_key) = leaf(&known, "localhost", None, &["localhost"]);
    let sas = leaf(&known, "SAS-AGREGATEUR", Some("ANS"), &[]);
    let stranger = leaf(&unknown, "SAS-AGREGATEUR", Some("ANS"), &[]);
    let unmapped = leaf(&known, "EDITEUR-X", Some("ANS"), &[]);
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("cpts.db").display());
    let mut config = Config::for_database(&url);
    config.tls_cert = Some(write("server.pem", &server_cert));
    config.tls_key = Some(write("server.key", &server_key));
    config.tls_client_ca = Some(write("clients-ca.pem", &known.pem));
    let app = Application::build(&config).await.unwrap();
    assert_eq!(app.scheme(), "https");
    let port = app.port();
    let store = Store::connect(&url).await.unwrap();
    let key = cpts::tokens::TokenKey::new(config.token_key_bytes());
    let mapping = cpts::tokens::map_certificate(
        &store,
        &key,
        Role::Regulateur,
        None,
        "dep:54".parse().unwrap(),
        "SAS national",
        "SAS-AGREGATEUR",
        "ANS",
    )
    .await
    .unwrap();
    // One active principal per subject: a second mapping is refused.
    assert!(matches!(
        cpts::tokens::map_certificate(
            &store,
            &key,
            Role::Regulateur,
            None,
            "dep:57".parse().unwrap(),
            "",
            "SAS-AGREGATEUR",
            "ANS",
        )
        .await,
        Err(cpts::tokens::CreateError::CertificateTaken)
    ));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));

    let roots = &known.pem;
    // The mapped certificate is a régulateur of SAS 54, without any token.
    assert_eq!(
        get(port, roots, Some(&sas), None, "/bookings").await,
        Some(200)
    );
    // …and only that: a CPAM route is forbidden to it.
    assert_eq!(
        get(port, roots, Some(&sas), None, "/batches").await,
        Some(403)
    );
    // A certificate of another CA never reaches HTTP: refused at the handshake.
    assert_eq!(
        get(port, roots, Some(&stranger), None, "/healthz").await,
        None
    );
    // A certificate of the CA whose subject is not mapped: the 401 of an unknown token.
    assert_eq!(
        get(port, roots, Some(&unmapped), None, "/bookings").await,
        Some(401)
    );
    // No certificate: the public routes, and tokens, still work over TLS.
    assert_eq!(get(port, roots, None, None, "/healthz").await, Some(200));
    let token = cpts::tokens::create(
        &store,
        &key,
        Role::Regulateur,
        None,
        "dep:54".parse().unwrap(),
        "t",
    )
    .await
    .unwrap()
    .token;
    assert_eq!(
        get(port, roots, None, Some(&token), "/bookings").await,
        Some(200)
    );
    assert_eq!(get(port, roots, None, None, "/bookings").await, Some(401));
    // Plain HTTP on the TLS port gets no HTTP answer.
    let plain = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());
    // A revoked mapping is refused at once (no cache between the certificate and its row).
    assert!(store.revoke_token(&mapping).await.unwrap());
    assert_eq!(
        get(port, roots, Some(&sas), None, "/bookings").await,
        Some(401)
    );
    let _ = stop.send(());
    server.await.unwrap().unwrap();
    eprintln!(
        "mTLS: mapped → 200 (403 off its role), other CA → handshake refused, unmapped → 401, \
         revoked → 401"
    );
}
