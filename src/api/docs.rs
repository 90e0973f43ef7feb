//! `GET /docs`: the OpenAPI document as one HTML page, rendered here from the same document as
//! `/openapi.json`. No script, no font, nothing from another host (issue 15): it opens on a
//! régulateur's workstation without internet access, under a strict Content-Security-Policy.

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::{OpenApi, RefOr};

/// The policy of the docs page: its own inline style, nothing else.
pub(super) const DOCS_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;\
padding:0 1rem;color:#161616}h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;\
border-bottom:1px solid #ddd}section{margin:1rem 0;padding:.5rem 1rem;border-left:4px solid #000091}\
code{background:#f6f6f6;padding:0 .2rem}.m{font-weight:bold;text-transform:uppercase;\
margin-right:.5rem}table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.2rem .5rem;\
text-align:left;vertical-align:top}";

/// Escapes text for HTML element content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn location(p: &ParameterIn) -> &'static str {
    match p {
        ParameterIn::Query => "query",
        ParameterIn::Path => "path",
        ParameterIn::Header => "header",
        ParameterIn::Cookie => "cookie",
    }
}

fn operation(out: &mut String, method: &str, path: &str, op: &Operation) {
    out.push_str("<section>");
    out.push_str(&format!(
        "<p><span class=\"m\">{method}</span><code>{}</code></p>",
        esc(path)
    ));
    if let Some(summary) = &op.summary {
        out.push_str(&format!("<p><strong>{}</strong></p>", esc(summary)));
    }
    if let Some(description) = &op.description {
        out.push_str(&format!("<p>{}</p>", esc(description)));
    }
    if let Some(parameters) = op.parameters.as_ref().filter(|p| !p.is_empty()) {
        out.push_str("<table><tr><th>parameter</th><th>in</th><th>description</th></tr>");
        for p in parameters {
            out.push_str(&format!(
                "<tr><td><code>{}</code>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&p.name),
                if matches!(p.required, utoipa::openapi::Required::True) {
                    " (required)"
                } else {
                    ""
                },
                location(&p.parameter_in),
                esc(p.description.as_deref().unwrap_or(""))
            ));
        }
        out.push_str("</table>");
    }
    if let Some(body) = &op.request_body {
        let types: Vec<String> = body.content.keys().map(|k| esc(k)).collect();
        out.push_str(&format!(
            "<p>Body: {}{}</p>",
            types.join(", "),
            body.description
                .as_deref()
                .map(|d| format!(" — {}", esc(d)))
                .unwrap_or_default()
        ));
    }
    out.push_str("<table><tr><th>status</th><th>answer</th></tr>");
    for (status, response) in &op.responses.responses {
        let description = match response {
            RefOr::T(r) => esc(&r.description),
            RefOr::Ref(r) => esc(&r.ref_location),
        };
        out.push_str(&format!(
            "<tr><td>{}</td><td>{description}</td></tr>",
            esc(status)
        ));
    }
    out.push_str("</table></section>");
}

/// The page for `doc`.
pub(super) fn render(doc: &OpenApi) -> String {
    let mut out = String::from("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    out.push_str(&format!(
        "<title>{} API</title><style>{STYLE}</style></head><body>",
        esc(&doc.info.title)
    ));
    out.push_str(&format!(
        "<h1>{} {}</h1>",
        esc(&doc.info.title),
        esc(&doc.info.version)
    ));
    if let Some(description) = &doc.info.description {
        out.push_str(&format!("<p>{}</p>", esc(description)));
    }
    out.push_str(
        "<p>Machine-readable: <a href=\"/openapi.json\">/openapi.json</a> (OpenAPI 3.1). \
         Authenticate with <code>Authorization: Bearer &lt;token&gt;</code>.</p>",
    );
    for (path, item) in &doc.paths.paths {
        out.push_str(&format!("<h2>{}</h2>", esc(path)));
        let methods = [
            ("get", &item.get),
            ("put", &item.put),
            ("post", &item.post),
            ("patch", &item.patch),
            ("delete", &item.delete),
            ("head", &item.head),
            ("options", &item.options),
        ];
        for (method, op) in methods {
            if let Some(op) = op {
                operation(&mut out, method, path, op);
            }
        }
    }
    out.push_str("</body></html>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_lists_every_path_and_loads_nothing_from_elsewhere() {
        let doc = super::super::openapi();
        let page = render(&doc);
        for path in doc.paths.paths.keys() {
            assert!(page.contains(&format!("<h2>{}</h2>", esc(path))), "{path}");
        }
        assert!(!page.contains("<script"), "no script");
        assert!(
            !page.contains("http://") && !page.contains("https://"),
            "no other host"
        );
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
