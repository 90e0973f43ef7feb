//! The files the pages load, embedded at build time by build.rs: the DSFR and Leaflet from
//! web/node_modules (npm, pinned by web/package-lock.json), and our own scripts and stylesheet
//! from src/web/static (under `app/`). Served at `/app/static/{VERSION}/{path}`: the version
//! changes with the files, so browsers keep them a year.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

mod generated {
    include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));
}

/// Part of every asset URL; changes with the embedded files.
pub const VERSION: &str = generated::VERSION;

/// The URL prefix of the assets, ending with `/`.
pub fn base() -> String {
    format!("/app/static/{VERSION}/")
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("css") => "text/css; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("woff") => "font/woff",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

/// The bytes of an embedded file, by its path.
pub fn get(path: &str) -> Option<&'static [u8]> {
    generated::FILES
        .binary_search_by(|(p, _)| (*p).cmp(path))
        .ok()
        .map(|i| generated::FILES[i].1)
}

/// `GET /app/static/{version}/{*path}`. Another version than ours is a 404, so a page of an
/// older release never gets newer files under an old URL.
pub(super) async fn serve(Path((version, path)): Path<(String, String)>) -> Response {
    let Some(bytes) = get(&path).filter(|_| version == VERSION) else {
        return (StatusCode::NOT_FOUND, "fichier introuvable").into_response();
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(content_type(&path)),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        bytes,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_packages_and_our_files_are_embedded() {
        for path in [
            "@gouvfr/dsfr/dist/dsfr.min.css",
            "@gouvfr/dsfr/dist/dsfr.module.min.js",
            "@gouvfr/dsfr/dist/fonts/Marianne-Regular.woff2",
            "leaflet/dist/leaflet.js",
            "app/app.js",
            "app/app.css",
        ] {
            assert!(get(path).is_some_and(|b| !b.is_empty()), "{path}");
        }
        assert!(get("../Cargo.toml").is_none());
    }

    #[test]
    fn every_file_the_dsfr_stylesheet_names_is_embedded() {
        let css = String::from_utf8_lossy(get("@gouvfr/dsfr/dist/dsfr.min.css").unwrap_or(b""))
            .into_owned();
        let mut checked = 0;
        for part in css.split("url(").skip(1) {
            let target = part
                .split(')')
                .next()
                .unwrap_or("")
                .trim_matches(['"', '\'']);
            if target.starts_with("data:") || target.ends_with(".woff") {
                continue;
            }
            let path = format!("@gouvfr/dsfr/dist/{target}");
            assert!(get(&path).is_some(), "{path}");
            checked += 1;
        }
        assert!(checked > 50, "{checked}");
    }
}
