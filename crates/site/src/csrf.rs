//! CSRF protection, two layers deep:
//!
//! 1. Every state change is a POST carrying the session's synchronizer token in the hidden
//!    field `csrf_token`, compared in constant time ([`verify_token`]). Form handlers get
//!    their fields only through [`CsrfForm`], which checks the token first; the multipart
//!    upload checks it with [`verify_token`] before acting.
//! 2. [`origin_check`]: a POST whose `Origin` (or, without one, `Referer`) names another host
//!    than the `Host` it was sent to is refused before any handler runs.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, HeaderMap, Method, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Form;
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;

use crate::error::SiteError;
use crate::session::Session;

/// A form that carries a CSRF token.
pub trait CsrfField {
    fn csrf_token(&self) -> Option<&str>;
}

/// Checks a submitted token against the session's, in constant time. No session, or no
/// token, fails.
pub fn verify_token(session: &Session, submitted: Option<&str>) -> Result<(), SiteError> {
    let (Some(expected), Some(submitted)) = (session.existing_csrf_token(), submitted) else {
        return Err(SiteError::csrf());
    };
    if bool::from(expected.as_bytes().ct_eq(submitted.as_bytes())) {
        Ok(())
    } else {
        Err(SiteError::csrf())
    }
}

/// A URL-encoded form whose CSRF token has been checked.
pub struct CsrfForm<T>(pub T);

impl<S, T> FromRequest<S> for CsrfForm<T>
where
    S: Send + Sync,
    T: DeserializeOwned + CsrfField + Send,
{
    type Rejection = SiteError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let session = Session::from_request_parts(&mut parts, state).await?;
        let req = Request::from_parts(parts, body);
        let Form(form) = Form::<T>::from_request(req, state).await?;
        verify_token(&session, form.csrf_token())?;
        Ok(CsrfForm(form))
    }
}

/// The `host[:port]` part of an absolute URL such as an `Origin` or `Referer` value.
fn authority_of(value: &str) -> Option<String> {
    let uri: Uri = value.parse().ok()?;
    uri.scheme()?;
    uri.authority().map(|a| a.as_str().to_ascii_lowercase())
}

/// Whether the request's `Origin`, else `Referer`, matches its `Host`. With neither header
/// the decision is left to the token.
fn same_origin(headers: &HeaderMap) -> bool {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_ascii_lowercase);
    let claimed = |name: header::HeaderName| headers.get(name).map(|v| v.to_str().ok());
    let source = match claimed(header::ORIGIN) {
        Some(origin) => origin,
        None => match claimed(header::REFERER) {
            Some(referer) => referer,
            None => return true,
        },
    };
    match (source.and_then(authority_of), host) {
        (Some(source), Some(host)) => source == host,
        // "Origin: null", an unreadable header, or no Host: refuse.
        _ => false,
    }
}

/// Refuses a state-changing request sent from another site.
pub async fn origin_check(req: Request, next: Next) -> Response {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe && !same_origin(req.headers()) {
        tracing::info!("refused a cross-origin form post");
        return SiteError::csrf().into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn origin_rules() {
        assert!(same_origin(&headers(&[("host", "shop.test:8080")])));
        assert!(same_origin(&headers(&[
            ("host", "shop.test:8080"),
            ("origin", "http://shop.test:8080")
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "shop.test:8080"),
            ("origin", "http://evil.test")
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "shop.test"),
            ("origin", "null")
        ])));
        assert!(same_origin(&headers(&[
            ("host", "shop.test"),
            ("referer", "https://shop.test/buy/1?x=y")
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "shop.test"),
            ("referer", "https://evil.test/shop.test")
        ])));
        assert!(!same_origin(&headers(&[("origin", "http://shop.test")])));
    }
}
