//! A request as the console reads it (bounded) and the answer it gives (with its security
//! headers).

use std::io::Read;

use crate::i18n::Lang;

/// Largest request body read (logins, user forms, API calls are small).
pub const MAX_BODY: usize = 64 * 1024;
/// Longest request target taken.
pub const MAX_URL: usize = 8 * 1024;

/// A request.
#[derive(Debug, Clone, Default)]
pub struct In {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, percent-decoded.
    pub path: String,
    /// Query parameters, decoded, in order.
    pub query: Vec<(String, String)>,
    /// Headers, names lowercased.
    pub headers: Vec<(String, String)>,
    /// The client's address (for the login limit).
    pub client: String,
    /// The body.
    pub body: Vec<u8>,
}

impl In {
    /// The request line, headers and client of a request, without its body; the answer to give
    /// instead when its target is too long.
    pub fn head(req: &tiny_http::Request) -> Result<In, Out> {
        if req.url().len() > MAX_URL {
            return Err(Out::status(414));
        }
        let mut input = In::new(req.method().as_str(), req.url());
        input.headers = req
            .headers()
            .iter()
            .map(|h| {
                (
                    h.field.as_str().as_str().to_ascii_lowercase(),
                    h.value.as_str().to_string(),
                )
            })
            .collect();
        input.client = req
            .remote_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_default();
        Ok(input)
    }

    /// Reads the body (up to [`MAX_BODY`]) of the request whose [`In::head`] this is; the
    /// answer to give instead when it is too large.
    pub fn read_body(mut self, req: &mut tiny_http::Request) -> Result<In, Out> {
        if req.body_length().is_some_and(|n| n > MAX_BODY) {
            return Err(Out::status(413));
        }
        let mut body = Vec::new();
        let n = req
            .as_reader()
            .take(MAX_BODY as u64 + 1)
            .read_to_end(&mut body)
            .map_err(|_| Out::status(400))?;
        if n > MAX_BODY {
            return Err(Out::status(413));
        }
        self.body = body;
        Ok(self)
    }

    /// A request for `url` (path and query), without headers or body.
    pub fn new(method: &str, url: &str) -> In {
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        let path = form_urlencoded::parse(format!("p={}", path.replace('+', "%2B")).as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        In {
            method: method.to_string(),
            path,
            query: form_urlencoded::parse(query.as_bytes())
                .take(64)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
            ..In::default()
        }
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A query parameter (empty counts as absent).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// A cookie's value.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.header("cookie")?.split(';').find_map(|c| {
            let (k, v) = c.trim().split_once('=')?;
            (k == name).then_some(v)
        })
    }

    /// The body as a form (`application/x-www-form-urlencoded`).
    pub fn form(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(&self.body)
            .take(64)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    /// The language: `?lang=`, the `lang` cookie, then `Accept-Language`.
    pub fn lang(&self) -> Lang {
        self.param("lang")
            .and_then(Lang::parse)
            .or_else(|| self.cookie("lang").and_then(Lang::parse))
            .unwrap_or_else(|| Lang::from_accept(self.header("accept-language").unwrap_or("")))
    }
}

/// An answer.
#[derive(Debug, Clone)]
pub struct Out {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl Out {
    /// An answer with a body.
    pub fn new(status: u16, content_type: &str, body: Vec<u8>) -> Out {
        Out {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body,
        }
    }

    /// Only a status (and its reason as text).
    pub fn status(status: u16) -> Out {
        let reason = match status {
            400 => "bad request",
            401 => "authentication required",
            403 => "forbidden",
            404 => "not found",
            405 => "method not allowed",
            413 => "request body too large",
            414 => "request target too long",
            _ => "error",
        };
        Out::new(
            status,
            "text/plain; charset=utf-8",
            reason.as_bytes().to_vec(),
        )
    }

    /// JSON.
    pub fn json(status: u16, v: &serde_json::Value) -> Out {
        Out::new(
            status,
            "application/json",
            serde_json::to_vec(v).unwrap_or_default(),
        )
    }

    /// An error: JSON for the API, text otherwise.
    pub fn error(r: &In, status: u16, msg: &str) -> Out {
        if r.path.starts_with("/api/") {
            Out::json(status, &serde_json::json!({ "error": msg }))
        } else {
            Out::new(status, "text/plain; charset=utf-8", msg.as_bytes().to_vec())
        }
    }

    /// HTML.
    pub fn html(m: maud::Markup) -> Out {
        Out::new(
            200,
            "text/html; charset=utf-8",
            m.into_string().into_bytes(),
        )
    }

    /// See other (after a form, or to the login page).
    pub fn redirect(to: &str) -> Out {
        Out::new(303, "text/plain; charset=utf-8", Vec::new()).header("Location", to)
    }

    /// Adds a header.
    pub fn header(mut self, k: &str, v: &str) -> Out {
        self.headers.push((k.into(), v.into()));
        self
    }

    /// Another status.
    pub fn with_status(mut self, status: u16) -> Out {
        self.status = status;
        self
    }

    /// A header's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The headers every answer carries: no script, no framing, no sniffing, no caching of
    /// data, no referrer.
    pub fn secure_headers(&mut self, https: bool) {
        let fixed = [
            (
                "Content-Security-Policy",
                "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
                 frame-ancestors 'none'; base-uri 'none'",
            ),
            ("X-Content-Type-Options", "nosniff"),
            ("X-Frame-Options", "DENY"),
            ("Referrer-Policy", "same-origin"),
            ("Cross-Origin-Opener-Policy", "same-origin"),
        ];
        for (k, v) in fixed {
            self.headers.push((k.into(), v.into()));
        }
        if self.get("Cache-Control").is_none() {
            self.headers
                .push(("Cache-Control".into(), "no-store".into()));
        }
        if https {
            self.headers.push((
                "Strict-Transport-Security".into(),
                "max-age=31536000".into(),
            ));
        }
    }

    /// Sends it.
    pub fn send(self, req: tiny_http::Request) {
        let mut resp = tiny_http::Response::from_data(self.body).with_status_code(self.status);
        for (k, v) in &self.headers {
            if let Ok(h) = tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()) {
                resp.add_header(h);
            }
        }
        if let Err(e) = req.respond(resp) {
            tracing::debug!(error = %e, "console: client went away before the answer");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_path_query_and_cookies() {
        let mut r = In::new("GET", "/alerts/a%2Fb?rule=Put+Bucket&lang=ja&x=");
        r.headers
            .push(("cookie".into(), "a=1; lang=en; harrier_session=abc".into()));
        assert_eq!(r.path, "/alerts/a/b");
        assert_eq!(r.param("rule"), Some("Put Bucket"));
        assert_eq!(r.param("x"), None);
        assert_eq!(r.cookie("harrier_session"), Some("abc"));
        assert_eq!(r.lang(), Lang::Ja);
        let r = In::new("GET", "/a+b");
        assert_eq!(r.path, "/a+b");
    }
}
