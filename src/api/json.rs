//! [`Json`]: axum's JSON extractor and response, with rejections that are problem+json and a
//! JSON Pointer to the failing field.
//!
//! Reading is two steps: bytes → `serde_json::Value` (a syntax error is a 400), then value →
//! `T` through `serde_path_to_error` (a 422 whose `pointer` names the field). Deserializing
//! from a `Value` keeps serde's message free of line and column, which mean nothing to a
//! client that sent a pretty-printed body. Domain types with `#[serde(try_from = …)]` (Rpps,
//! MaxKm…) thus reject bad values with their own message, at their own pointer.

use super::error::{ApiError, FieldError};
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A JSON body in, or a JSON body out.
#[derive(Clone, Copy, Debug, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(req.headers().get(header::CONTENT_TYPE)) {
            return Err(ApiError::UnsupportedMediaType("application/json"));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::Malformed(rejection.body_text())
            }
        })?;
        from_bytes(&bytes).map(Json)
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `application/json`, or any `application/*+json`, with or without parameters.
fn is_json(content_type: Option<&axum::http::HeaderValue>) -> bool {
    let Some(ct) = content_type.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Parses a JSON body into `T`, or the [`ApiError`] to answer.
///
/// # Errors
/// [`ApiError::Malformed`] when the bytes are not JSON; [`ApiError::Invalid`], with the field's
/// pointer, when they do not fit `T`.
pub fn from_bytes<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| ApiError::Malformed(e.to_string()))?;
    if let Some((pointer, message)) = strict::first_problem(bytes) {
        return Err(ApiError::Invalid(vec![FieldError::at_pointer(
            pointer, message,
        )]));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let message = e.inner().to_string();
        let pointer = pointer_of(e.path(), &message);
        ApiError::Invalid(vec![FieldError::at_pointer(pointer, message)])
    })
}

/// What `serde_json::Value` lets through and we do not: a key given twice in one object (the
/// last would silently win) and control characters or bidi overrides in a key or a string
/// (a NUL reached PostgreSQL as an error; an override makes a name read backwards on screen).
mod strict {
    use crate::domain::text::text_problem;
    use serde::de::{DeserializeSeed, Deserializer, Error, MapAccess, SeqAccess, Visitor};
    use std::collections::HashSet;
    use std::fmt;

    /// The pointer and message of the first duplicate key or bad string of a well-formed
    /// document.
    pub(super) fn first_problem(bytes: &[u8]) -> Option<(String, String)> {
        let mut path = Vec::new();
        let mut found = None;
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let _ = Walk {
            path: &mut path,
            found: &mut found,
        }
        .deserialize(&mut de);
        found
    }

    struct Walk<'a> {
        path: &'a mut Vec<String>,
        found: &'a mut Option<(String, String)>,
    }

    impl Walk<'_> {
        fn pointer(&self) -> String {
            let mut p = String::from("#");
            for s in self.path.iter() {
                p.push('/');
                p.push_str(&s.replace('~', "~0").replace('/', "~1"));
            }
            p
        }

        fn fail<E: Error>(self, message: String) -> Result<(), E> {
            *self.found = Some((self.pointer(), message));
            Err(E::custom("stop"))
        }
    }

    impl<'de> DeserializeSeed<'de> for Walk<'_> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for Walk<'_> {
        type Value = ();

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON value")
        }

        fn visit_bool<E: Error>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E: Error>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E: Error>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E: Error>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E: Error>(self) -> Result<(), E> {
            Ok(())
        }
        fn visit_str<E: Error>(self, v: &str) -> Result<(), E> {
            match text_problem(v) {
                Some(problem) => self.fail(problem.to_owned()),
                None => Ok(()),
            }
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            let mut i = 0_usize;
            loop {
                self.path.push(i.to_string());
                let next = seq.next_element_seed(Walk {
                    path: &mut *self.path,
                    found: &mut *self.found,
                })?;
                self.path.pop();
                if next.is_none() {
                    return Ok(());
                }
                i += 1;
            }
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            let mut seen = HashSet::new();
            while let Some(key) = map.next_key::<String>()? {
                self.path.push(key.clone());
                if let Some(problem) = text_problem(&key) {
                    let message = format!("this key {problem}");
                    return self.fail(message);
                }
                if !seen.insert(key) {
                    return self.fail("this key is given twice in one object".to_owned());
                }
                map.next_value_seed(Walk {
                    path: &mut *self.path,
                    found: &mut *self.found,
                })?;
                self.path.pop();
            }
            Ok(())
        }
    }
}

/// The JSON Pointer (RFC 6901, URI-fragment form) of a failing field. serde reports a missing
/// or unknown field at its parent object; the field's name is then taken from the message.
fn pointer_of(path: &serde_path_to_error::Path, message: &str) -> String {
    use serde_path_to_error::Segment;
    let mut segments: Vec<String> = path
        .iter()
        .filter_map(|s| match s {
            Segment::Seq { index } => Some(index.to_string()),
            Segment::Map { key } => Some(key.clone()),
            Segment::Enum { variant } => Some(variant.clone()),
            Segment::Unknown => None,
        })
        .collect();
    for prefix in ["missing field `", "unknown field `"] {
        if let Some(name) = message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('`').next())
            && segments.last().map(String::as_str) != Some(name)
        {
            segments.push(name.to_owned());
        }
    }
    let mut pointer = String::from("#");
    for s in segments {
        pointer.push('/');
        pointer.push_str(&s.replace('~', "~0").replace('/', "~1"));
    }
    pointer
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::MaxKm;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        capacity: u32,
        max_km: Option<MaxKm>,
        items: Option<Vec<Item>>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Item {
        #[serde(rename = "a/b")]
        ab: u8,
    }

    fn invalid(json: &str) -> FieldError {
        match from_bytes::<Body>(json.as_bytes()) {
            Err(ApiError::Invalid(mut e)) => {
                assert_eq!(e.len(), 1);
                e.remove(0)
            }
            other => panic!("expected a 422, got {other:?}"),
        }
    }

    #[test]
    fn a_bad_value_points_at_its_field() {
        let e = invalid(r#"{"capacity": 3, "max_km": 0}"#);
        assert_eq!(e.pointer.as_deref(), Some("#/max_km"));
        assert_eq!(
            e.detail,
            "must be a finite number of kilometres greater than 0"
        );
        let e = invalid(r#"{"capacity": -1}"#);
        assert_eq!(e.pointer.as_deref(), Some("#/capacity"));
    }

    #[test]
    fn missing_and_unknown_fields_point_at_the_field_itself() {
        assert_eq!(invalid(r#"{}"#).pointer.as_deref(), Some("#/capacity"));
        let e = invalid(r#"{"capacity": 1, "colour": 2}"#);
        assert_eq!(e.pointer.as_deref(), Some("#/colour"));
    }

    #[test]
    fn duplicate_keys_are_refused_at_their_pointer() {
        let e = invalid(r#"{"capacity": 1, "capacity": 2}"#);
        assert_eq!(e.pointer.as_deref(), Some("#/capacity"));
        assert_eq!(e.detail, "this key is given twice in one object");
        let e = invalid(r#"{"capacity": 1, "items": [{"a/b": 1, "a/b": 1}]}"#);
        assert_eq!(e.pointer.as_deref(), Some("#/items/0/a~1b"));
    }

    #[test]
    fn control_characters_and_bidi_overrides_are_refused_in_strings_and_keys() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Named {
            name: String,
        }
        for (body, pointer) in [
            (r#"{"name": "Cabinet\u0000"}"#, "#/name"),
            (r#"{"name": "a\nb"}"#, "#/name"),
            ("{\"name\": \"abc\u{202E}def\"}", "#/name"),
            (r#"{"name": "ok", "k\u0001": 1}"#, "#/k\u{1}"),
        ] {
            match from_bytes::<Named>(body.as_bytes()) {
                Err(ApiError::Invalid(e)) => {
                    assert_eq!(e[0].pointer.as_deref(), Some(pointer), "{body}");
                }
                other => panic!("{body}: expected a 422, got {other:?}"),
            }
        }
        assert!(
            from_bytes::<Named>(r#"{"name": "Maison de santé « Les Tilleuls »"}"#.as_bytes())
                .is_ok()
        );
    }

    #[test]
    fn nested_pointers_escape_slash_and_tilde() {
        let e = invalid(r#"{"capacity": 1, "items": [{"a/b": 1}, {"a/b": 300}]}"#);
        assert_eq!(e.pointer.as_deref(), Some("#/items/1/a~1b"));
    }

    #[test]
    fn broken_json_is_malformed_not_invalid() {
        assert!(matches!(
            from_bytes::<Body>(b"{\"capacity\": "),
            Err(ApiError::Malformed(_))
        ));
    }

    #[test]
    fn json_media_types_are_recognised() {
        let v = |s: &'static str| axum::http::HeaderValue::from_static(s);
        assert!(is_json(Some(&v("application/json"))));
        assert!(is_json(Some(&v("Application/JSON; charset=utf-8"))));
        assert!(is_json(Some(&v("application/merge-patch+json"))));
        assert!(!is_json(Some(&v("text/csv"))));
        assert!(!is_json(None));
    }
}
