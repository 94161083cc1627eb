//! Registering, signing in and signing out.
//!
//! Registration does not sign the new user in: it redirects to the login page, which then
//! says the account was created. Sign-in answers the same "Login Failed" for an unknown user
//! and a wrong password, spends the same time on both (`dummy_verify`), is rate limited per
//! account and per client address, upgrades legacy password records to Argon2id, and rotates
//! the session. Sign-out is a POST only; `GET /logout` shows a confirmation button.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use cardsgalore_cards::users::{validate_new_password, validate_username, Verification};
use cardsgalore_store::repo::users;
use cardsgalore_store::StoreError;
use serde::Deserialize;
use zeroize::Zeroizing;

use super::ClientAddr;
use crate::auth::MaybeUser;
use crate::csrf::{CsrfField, CsrfForm};
use crate::error::SiteError;
use crate::session::{self, AuthUser, Session};
use crate::state::AppState;
use crate::templates::{render, LoginPage, LogoutPage, Nav, RegisterPage};

const INDEX_PAGE: &str = "/index.html";
const REGISTERED_NOTICE: &str = "Your account has been created. Please sign in.";
const TOO_MANY_ATTEMPTS: &str =
    "Too many failed sign-in attempts. Please wait 15 minutes before trying again.";

#[derive(Deserialize)]
pub struct LoginQuery {
    registered: Option<String>,
}

async fn login_form(
    state: &AppState,
    visitor: &MaybeUser,
    status: StatusCode,
    page: impl FnOnce(Nav, String) -> LoginPage,
) -> Result<Response, SiteError> {
    let csrf = visitor.session.csrf_token(state).await?;
    let nav = Nav::new(visitor.user.as_ref(), Some(csrf.clone()));
    render(status, &page(nav, csrf))
}

/// `GET /login`.
pub async fn login_page(
    State(state): State<AppState>,
    visitor: MaybeUser,
    query: Result<Query<LoginQuery>, QueryRejection>,
) -> Result<Response, SiteError> {
    let registered = query?.0.registered.is_some();
    login_form(&state, &visitor, StatusCode::OK, |nav, csrf| LoginPage {
        nav,
        csrf,
        failed: false,
        notice: registered.then_some(REGISTERED_NOTICE),
        error: None,
        username: String::new(),
    })
    .await
}

#[derive(Deserialize)]
pub struct LoginForm {
    uname: Option<String>,
    pword: Option<Zeroizing<String>>,
    csrf_token: Option<String>,
}

impl CsrfField for LoginForm {
    fn csrf_token(&self) -> Option<&str> {
        self.csrf_token.as_deref()
    }
}

/// `POST /login`.
pub async fn login(
    State(state): State<AppState>,
    visitor: MaybeUser,
    ClientAddr(address): ClientAddr,
    CsrfForm(form): CsrfForm<LoginForm>,
) -> Result<Response, SiteError> {
    let username = form.uname.unwrap_or_default().trim().to_owned();
    let password = form.pword.unwrap_or_default();
    if username.is_empty() || password.is_empty() {
        return login_form(&state, &visitor, StatusCode::BAD_REQUEST, |nav, csrf| {
            LoginPage {
                nav,
                csrf,
                failed: false,
                notice: None,
                error: Some("Enter your username and your password.".to_owned()),
                username,
            }
        })
        .await;
    }
    let account_key = format!("account:{username}");
    let address_key = format!("address:{address}");
    if state.account_failures().is_blocked(&account_key)
        || state.address_failures().is_blocked(&address_key)
    {
        return Err(SiteError::new(
            StatusCode::TOO_MANY_REQUESTS,
            TOO_MANY_ATTEMPTS,
        ));
    }
    let session = visitor.session.clone();
    let lookup = username.clone();
    let rotated = state
        .db(move |conn, state| {
            let Some(user) = users::find_by_username(conn, &lookup)? else {
                state.hasher().dummy_verify(&password);
                return Ok(None);
            };
            let Verification::Valid { needs_upgrade } =
                state.hasher().verify(&user.password, &password)
            else {
                return Ok(None);
            };
            let upgraded = if needs_upgrade {
                Some(state.hasher().hash(&password).map_err(|e| {
                    SiteError::internal(
                        anyhow::Error::new(e).context("re-hashing a password failed"),
                    )
                })?)
            } else {
                None
            };
            let tx = crate::state::immediate(conn)?;
            if let Some(record) = upgraded {
                users::update_password(&tx, user.id, &record)?;
            }
            users::touch_last_login(&tx, user.id)?;
            session::purge_expired(&tx)?;
            let signed_in = AuthUser {
                id: user.id,
                username: user.username,
            };
            let rotated = session.rotate_blocking(&tx, state, Some(signed_in))?;
            tx.commit()?;
            Ok(Some(rotated))
        })
        .await?;
    match rotated {
        Some(rotated) => {
            visitor.session.install(rotated);
            state.account_failures().reset(&account_key);
            tracing::info!("a user signed in");
            Ok(Redirect::to(INDEX_PAGE).into_response())
        }
        None => {
            state.account_failures().record(&account_key);
            state.address_failures().record(&address_key);
            tracing::info!("a sign-in failed");
            login_form(&state, &visitor, StatusCode::UNAUTHORIZED, |nav, csrf| {
                LoginPage {
                    nav,
                    csrf,
                    failed: true,
                    notice: None,
                    error: None,
                    username,
                }
            })
            .await
        }
    }
}

async fn register_form(
    state: &AppState,
    visitor: &MaybeUser,
    status: StatusCode,
    error: Option<String>,
    username: String,
) -> Result<Response, SiteError> {
    let csrf = visitor.session.csrf_token(state).await?;
    let page = RegisterPage {
        nav: Nav::new(visitor.user.as_ref(), Some(csrf.clone())),
        csrf,
        error,
        username,
    };
    render(status, &page)
}

/// `GET /register`.
pub async fn register_page(
    State(state): State<AppState>,
    visitor: MaybeUser,
) -> Result<Response, SiteError> {
    register_form(&state, &visitor, StatusCode::OK, None, String::new()).await
}

#[derive(Deserialize)]
pub struct RegisterForm {
    uname: Option<String>,
    pword: Option<Zeroizing<String>>,
    pword2: Option<Zeroizing<String>>,
    csrf_token: Option<String>,
}

impl CsrfField for RegisterForm {
    fn csrf_token(&self) -> Option<&str> {
        self.csrf_token.as_deref()
    }
}

/// `POST /register`: creates the account, then sends the visitor to sign in.
pub async fn register(
    State(state): State<AppState>,
    visitor: MaybeUser,
    CsrfForm(form): CsrfForm<RegisterForm>,
) -> Result<Response, SiteError> {
    let username = form.uname.unwrap_or_default().trim().to_owned();
    let (Some(password), Some(password2)) = (form.pword, form.pword2) else {
        return register_form(
            &state,
            &visitor,
            StatusCode::BAD_REQUEST,
            Some("Fill in the username and both password fields.".to_owned()),
            username,
        )
        .await;
    };
    let problem = if let Err(e) = validate_username(&username) {
        Some(e.to_string())
    } else if *password != *password2 {
        Some("The two passwords do not match.".to_owned())
    } else if let Err(e) = validate_new_password(&password) {
        Some(e.to_string())
    } else {
        None
    };
    if let Some(problem) = problem {
        return register_form(
            &state,
            &visitor,
            StatusCode::BAD_REQUEST,
            Some(problem),
            username,
        )
        .await;
    }
    let name = username.clone();
    let created = state
        .db(move |conn, state| {
            if users::find_by_username(conn, &name)?.is_some() {
                return Ok(false);
            }
            let record = state.hasher().hash(&password).map_err(|e| {
                SiteError::internal(anyhow::Error::new(e).context("hashing a password failed"))
            })?;
            match users::create(conn, &name, &record) {
                Ok(_) => Ok(true),
                Err(StoreError::Conflict(_)) => Ok(false),
                Err(e) => Err(e.into()),
            }
        })
        .await?;
    if !created {
        return register_form(
            &state,
            &visitor,
            StatusCode::CONFLICT,
            Some("That username is taken".to_owned()),
            username,
        )
        .await;
    }
    tracing::info!("a user registered");
    Ok(Redirect::to("/login.html?registered=1").into_response())
}

/// `GET /logout`: a confirmation page with the sign-out button.
pub async fn logout_page(visitor: MaybeUser) -> Result<Response, SiteError> {
    let csrf = visitor
        .user
        .is_some()
        .then(|| visitor.session.existing_csrf_token())
        .flatten();
    let page = LogoutPage {
        nav: Nav::new(visitor.user.as_ref(), csrf.clone()),
        csrf,
    };
    render(StatusCode::OK, &page)
}

#[derive(Deserialize)]
pub struct TokenOnly {
    csrf_token: Option<String>,
}

impl CsrfField for TokenOnly {
    fn csrf_token(&self) -> Option<&str> {
        self.csrf_token.as_deref()
    }
}

/// `POST /logout`: deletes the session and rotates the cookie.
pub async fn logout(
    State(state): State<AppState>,
    session: Session,
    CsrfForm(_): CsrfForm<TokenOnly>,
) -> Result<Response, SiteError> {
    session.logout(&state).await?;
    Ok(Redirect::to(INDEX_PAGE).into_response())
}
