//! Authentication as extractors: [`CurrentUser`] (a signed-in user is required) and
//! [`MaybeUser`] (either). Both read the [`Session`] loaded by the session middleware.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use crate::error::SiteError;
use crate::session::{AuthUser, Session};

pub const LOGIN_PAGE: &str = "/login.html";

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = SiteError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Session>().cloned().ok_or_else(|| {
            SiteError::internal(anyhow::anyhow!("the session middleware is not installed"))
        })
    }
}

/// The signed-in user. Without one, a page (GET) redirects to the login page with 303 and
/// any other method gets a 401 page.
pub struct CurrentUser {
    pub user: AuthUser,
    pub session: Session,
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        match session.user() {
            Some(user) => Ok(CurrentUser { user, session }),
            None if parts.method == Method::GET || parts.method == Method::HEAD => {
                Err(Redirect::to(LOGIN_PAGE).into_response())
            }
            None => Err(login_required().into_response()),
        }
    }
}

/// The error for a state change attempted without signing in.
pub fn login_required() -> SiteError {
    SiteError::new(
        StatusCode::UNAUTHORIZED,
        "Please sign in first: your session has ended or you are not signed in.",
    )
}

/// The signed-in user, if any.
pub struct MaybeUser {
    pub user: Option<AuthUser>,
    pub session: Session,
}

impl<S: Send + Sync> FromRequestParts<S> for MaybeUser {
    type Rejection = SiteError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let session = Session::from_request_parts(parts, state).await?;
        Ok(MaybeUser {
            user: session.user(),
            session,
        })
    }
}
