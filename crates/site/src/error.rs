//! The one error type of the site. Every failure becomes an HTML error page with the right
//! status: a helpful message for 4xx, a generic one for 5xx (the cause is logged once, here,
//! and never shown). Extractor rejections are converted into it so that axum's plain-text
//! rejections never reach a visitor.

use std::borrow::Cow;
use std::fmt;

use askama::Template;
use axum::extract::multipart::MultipartError;
use axum::extract::rejection::{FormRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use cardsgalore_cards::AmountError;
use cardsgalore_store::StoreError;

use crate::templates::{ErrorPage, Nav};

/// The message of a refused form token or a cross-site form post.
pub const CSRF_MESSAGE: &str =
    "Your form expired or did not come from this site; reload the page and try again.";

/// A failure rendered as an error page.
pub struct SiteError {
    status: StatusCode,
    message: Cow<'static, str>,
    cause: Option<anyhow::Error>,
}

impl fmt::Debug for SiteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SiteError")
            .field("status", &self.status)
            .field("message", &self.message)
            .field("cause", &self.cause.as_ref().map(|c| format!("{c:#}")))
            .finish()
    }
}

impl SiteError {
    /// A client error with a message shown to the visitor (escaped by the template).
    pub fn new(status: StatusCode, message: impl Into<Cow<'static, str>>) -> SiteError {
        SiteError {
            status,
            message: message.into(),
            cause: None,
        }
    }

    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> SiteError {
        SiteError::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<Cow<'static, str>>) -> SiteError {
        SiteError::new(StatusCode::NOT_FOUND, message)
    }

    pub fn forbidden(message: impl Into<Cow<'static, str>>) -> SiteError {
        SiteError::new(StatusCode::FORBIDDEN, message)
    }

    pub fn conflict(message: impl Into<Cow<'static, str>>) -> SiteError {
        SiteError::new(StatusCode::CONFLICT, message)
    }

    /// The refused-CSRF page.
    pub fn csrf() -> SiteError {
        SiteError::forbidden(CSRF_MESSAGE)
    }

    /// The page for a route that exists but not with this method.
    pub fn method_not_allowed() -> SiteError {
        SiteError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "This page cannot be used that way. Follow a link or a button on the site instead.",
        )
    }

    /// The maintenance page: the shop is sealed until an admin unseals it.
    pub fn sealed() -> SiteError {
        SiteError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "The shop is closed for maintenance and will be back shortly. Your cards are safe.",
        )
    }

    /// The legacy "unknown product" page, with a real 404 status.
    pub fn no_such_product() -> SiteError {
        SiteError::not_found("ERROR: 404 Not Found.")
    }

    /// A server-side failure: the visitor sees a generic message, the cause is logged.
    pub fn internal(cause: anyhow::Error) -> SiteError {
        SiteError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: Cow::Borrowed(
                "Something went wrong on our side. Please try again in a moment.",
            ),
            cause: Some(cause),
        }
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl IntoResponse for SiteError {
    fn into_response(self) -> Response {
        // The maintenance page (503 while sealed, no cause) is expected, not a fault.
        match &self.cause {
            Some(cause) => tracing::error!(status = self.status.as_u16(), "{cause:#}"),
            None if self.status == StatusCode::INTERNAL_SERVER_ERROR => {
                tracing::error!(status = self.status.as_u16(), "server error")
            }
            None => {}
        }
        let page = ErrorPage {
            nav: Nav::default(),
            status: self.status.as_u16(),
            reason: self.status.canonical_reason().unwrap_or("Error"),
            message: &self.message,
        };
        match page.render() {
            Ok(html) if self.status == StatusCode::SERVICE_UNAVAILABLE => (
                self.status,
                [(axum::http::header::RETRY_AFTER, "30")],
                Html(html),
            )
                .into_response(),
            Ok(html) => (self.status, Html(html)).into_response(),
            Err(e) => {
                tracing::error!("the error page failed to render: {e}");
                (
                    self.status,
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "text/plain; charset=utf-8",
                    )],
                    "An error occurred.",
                )
                    .into_response()
            }
        }
    }
}

impl From<StoreError> for SiteError {
    fn from(e: StoreError) -> SiteError {
        match e {
            // Store conflicts are handled where they can happen; one that reaches here is
            // still the visitor's (e.g. a double submit), not a server fault.
            StoreError::Conflict(_) => SiteError::conflict(
                "That change conflicts with the current data; reload the page and try again.",
            ),
            // A full or read-only disk is an operational state, not a bug: say so, and the
            // visitor can retry once the operator has made room.
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _))
                if matches!(
                    e.code,
                    rusqlite::ErrorCode::DiskFull | rusqlite::ErrorCode::ReadOnly
                ) =>
            {
                SiteError {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    message: Cow::Borrowed(
                        "The shop cannot store anything right now. Nothing was charged or \
                         changed; please try again in a few minutes.",
                    ),
                    cause: Some(anyhow::Error::new(StoreError::Sqlite(
                        rusqlite::Error::SqliteFailure(e, None),
                    ))),
                }
            }
            other => SiteError::internal(anyhow::Error::new(other)),
        }
    }
}

impl From<rusqlite::Error> for SiteError {
    fn from(e: rusqlite::Error) -> SiteError {
        SiteError::from(StoreError::from(e))
    }
}

impl From<askama::Error> for SiteError {
    fn from(e: askama::Error) -> SiteError {
        SiteError::internal(anyhow::Error::new(e).context("a template failed to render"))
    }
}

impl From<AmountError> for SiteError {
    fn from(e: AmountError) -> SiteError {
        SiteError::bad_request(e.to_string())
    }
}

impl From<FormRejection> for SiteError {
    fn from(rejection: FormRejection) -> SiteError {
        match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => too_large(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => SiteError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "This form must be sent as a web form (application/x-www-form-urlencoded).",
            ),
            s if s.is_server_error() => SiteError::internal(anyhow::Error::new(rejection)),
            _ => SiteError::bad_request(
                "The form could not be read: a field is missing or has the wrong type.",
            ),
        }
    }
}

impl From<PathRejection> for SiteError {
    fn from(_: PathRejection) -> SiteError {
        SiteError::not_found("There is no page at this address.")
    }
}

impl From<QueryRejection> for SiteError {
    fn from(_: QueryRejection) -> SiteError {
        SiteError::bad_request("The address has query parameters this page does not understand.")
    }
}

impl From<MultipartError> for SiteError {
    fn from(e: MultipartError) -> SiteError {
        match e.status() {
            StatusCode::PAYLOAD_TOO_LARGE => too_large(),
            s if s.is_server_error() => SiteError::internal(anyhow::Error::new(e)),
            _ => SiteError::bad_request("The uploaded form could not be read; please try again."),
        }
    }
}

/// The upload (or form) was larger than the site accepts.
pub fn too_large() -> SiteError {
    SiteError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "That upload is too large: a card file is at most 64 KiB.",
    )
}
