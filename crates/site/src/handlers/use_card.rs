//! Using a card: by choosing one of your own from the list, or by uploading a card file.
//!
//! An upload is parsed in-process by `cardsgalore-cards` (JSON or binary `.gft`; no temp
//! file, no external program), its signature is checked with the shop's key, and the card is
//! found by that signature; it is used only if it belongs to the user and is unused. Cards
//! adopted from the legacy site carry no real signature and are matched by their exact bytes.

use std::collections::HashMap;

use axum::extract::multipart::Field;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{header, StatusCode};
use axum::response::Response;
use cardsgalore_cards::{Card, CardError};
use cardsgalore_store::repo::cards::{self, CardRow};
use cardsgalore_store::repo::products;
use rusqlite::Connection;
use serde::Deserialize;

use super::parse_id;
use crate::assets;
use crate::auth::CurrentUser;
use crate::csrf::{verify_token, CsrfField, CsrfForm};
use crate::error::{too_large, SiteError};
use crate::session::{AuthUser, Session};
use crate::state::AppState;
use crate::templates::{render, CardView, Nav, UsePage};

/// The largest card file accepted.
pub const MAX_UPLOAD_BYTES: usize = 64 * 1024;
/// The body limit of the use routes: the card file plus the other fields and boundaries.
pub const MAX_UPLOAD_BODY: usize = MAX_UPLOAD_BYTES + 16 * 1024;
/// The longest card label (`card_fname`), in characters.
const MAX_LABEL_CHARS: usize = 64;
/// The most bytes read from any other multipart field.
const MAX_TEXT_FIELD: usize = 1024;
/// The most parts a use form may have.
const MAX_PARTS: usize = 8;

const NOT_YOURS_OR_USED: &str = "That card is not yours or was already used.";

/// `GET /use`: the user's cards and the upload form.
pub async fn page(
    State(state): State<AppState>,
    current: CurrentUser,
) -> Result<Response, SiteError> {
    render_page(&state, &current.user, &current.session, None).await
}

/// `POST /use`: a multipart upload, or the choice of one of the listed cards.
pub async fn submit(
    State(state): State<AppState>,
    current: CurrentUser,
    req: Request,
) -> Result<Response, SiteError> {
    let is_multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        });
    let label = if is_multipart {
        use_upload(&state, &current, req).await?
    } else {
        use_selected(&state, &current, req).await?;
        None
    };
    render_page(&state, &current.user, &current.session, Some(label)).await
}

#[derive(Deserialize)]
pub struct UseForm {
    card_id: Option<String>,
    csrf_token: Option<String>,
}

impl CsrfField for UseForm {
    fn csrf_token(&self) -> Option<&str> {
        self.csrf_token.as_deref()
    }
}

async fn use_selected(
    state: &AppState,
    current: &CurrentUser,
    req: Request,
) -> Result<(), SiteError> {
    let CsrfForm(form) = CsrfForm::<UseForm>::from_request(req, state).await?;
    let id = form
        .card_id
        .as_deref()
        .map(str::trim)
        .and_then(parse_id)
        .ok_or_else(|| {
            SiteError::bad_request("card_id must be the number of one of your cards.")
        })?;
    let user_id = current.user.id;
    state
        .write(move |tx, _| {
            if !cards::mark_used(tx, id, user_id)? {
                return Err(refusal(cards::get(tx, id)?, user_id));
            }
            Ok(())
        })
        .await
}

/// Why a card could not be used, without telling whether someone else's card exists.
fn refusal(card: Option<CardRow>, user_id: i64) -> SiteError {
    match card {
        Some(card) if card.user_id == user_id && card.used => {
            SiteError::conflict(NOT_YOURS_OR_USED)
        }
        _ => SiteError::not_found(NOT_YOURS_OR_USED),
    }
}

/// The fields of an upload.
#[derive(Default)]
struct Upload {
    card_data: Option<Vec<u8>>,
    label: Option<String>,
    csrf_token: Option<String>,
}

/// Reads a field, refusing more than `limit` bytes with `too_large`.
async fn read_field(field: &mut Field<'_>, limit: usize) -> Result<Vec<u8>, SiteError> {
    let mut data = Vec::new();
    while let Some(chunk) = field.chunk().await? {
        if data.len() + chunk.len() > limit {
            return Err(too_large());
        }
        data.extend_from_slice(&chunk);
    }
    Ok(data)
}

fn text(bytes: Vec<u8>, what: &str) -> Result<String, SiteError> {
    String::from_utf8(bytes)
        .map_err(|_| SiteError::bad_request(format!("The {what} must be text.")))
}

async fn read_upload(state: &AppState, req: Request) -> Result<Upload, SiteError> {
    let mut multipart = Multipart::from_request(req, state).await.map_err(|_| {
        SiteError::bad_request("The upload form could not be read; please try again.")
    })?;
    let mut upload = Upload::default();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut parts = 0;
    while let Some(mut field) = multipart.next_field().await? {
        parts += 1;
        if parts > MAX_PARTS {
            return Err(SiteError::bad_request(
                "The upload form has too many fields.",
            ));
        }
        let name = field.name().unwrap_or_default().to_owned();
        *seen.entry(name.clone()).or_default() += 1;
        match name.as_str() {
            "card_data" => upload.card_data = Some(read_field(&mut field, MAX_UPLOAD_BYTES).await?),
            "card_fname" => {
                let label = text(read_field(&mut field, MAX_TEXT_FIELD).await?, "card name")?;
                upload.label = Some(label);
            }
            "csrf_token" => {
                upload.csrf_token = Some(text(
                    read_field(&mut field, MAX_TEXT_FIELD).await?,
                    "form token",
                )?);
            }
            // `card_supplied` (legacy marker) and anything else: read and ignored.
            _ => {
                read_field(&mut field, MAX_TEXT_FIELD).await?;
            }
        }
    }
    if seen.values().any(|&n| n > 1) {
        return Err(SiteError::bad_request(
            "The upload form has a field more than once.",
        ));
    }
    Ok(upload)
}

/// The card name is only a label shown back to the user, never a path.
fn check_label(label: Option<String>) -> Result<Option<String>, SiteError> {
    let Some(label) = label.map(|l| l.trim().to_owned()).filter(|l| !l.is_empty()) else {
        return Ok(None);
    };
    if label.chars().count() > MAX_LABEL_CHARS {
        return Err(SiteError::bad_request(format!(
            "The card name (card_fname) must be at most {MAX_LABEL_CHARS} characters."
        )));
    }
    if label.chars().any(char::is_control) {
        return Err(SiteError::bad_request(
            "The card name (card_fname) must not contain control characters.",
        ));
    }
    Ok(Some(label))
}

/// Uses an uploaded card; returns its label.
async fn use_upload(
    state: &AppState,
    current: &CurrentUser,
    req: Request,
) -> Result<Option<String>, SiteError> {
    let upload = read_upload(state, req).await?;
    verify_token(&current.session, upload.csrf_token.as_deref())?;
    let label = check_label(upload.label)?;
    let data = upload
        .card_data
        .ok_or_else(|| SiteError::bad_request("Choose a card file to upload (card_data)."))?;
    if data.is_empty() {
        return Err(SiteError::bad_request("The card file is empty."));
    }
    let user_id = current.user.id;
    state
        .write(move |tx, state| {
            let card = match cards::find_legacy_by_data(tx, &data)? {
                Some(row) => row,
                None => {
                    let card = Card::from_upload(&data).map_err(card_refused)?;
                    card.verify(state.card_key()?).map_err(card_refused)?;
                    cards::find_by_signature(tx, &card.signature.to_hex())?.ok_or_else(|| {
                        SiteError::not_found("This card is not known to this shop.")
                    })?
                }
            };
            use_found(tx, &card, user_id)?;
            Ok(())
        })
        .await?;
    Ok(label)
}

fn card_refused(e: CardError) -> SiteError {
    // Card errors are one user-facing sentence that never quotes the card.
    SiteError::bad_request(e.to_string())
}

fn use_found(conn: &Connection, card: &CardRow, user_id: i64) -> Result<(), SiteError> {
    if card.user_id != user_id {
        return Err(SiteError::forbidden(
            "This card belongs to another account.",
        ));
    }
    if card.used || !cards::mark_used(conn, card.id, user_id)? {
        return Err(SiteError::conflict("This card was already used."));
    }
    Ok(())
}

/// Renders the use page. `used` is `Some(label)` right after a card was used.
async fn render_page(
    state: &AppState,
    user: &AuthUser,
    session: &Session,
    used: Option<Option<String>>,
) -> Result<Response, SiteError> {
    let user_id = user.id;
    let (rows, products) = state
        .db(move |conn, _| Ok((cards::list_for_user(conn, user_id)?, products::list(conn)?)))
        .await?;
    let cards: Vec<CardView> = rows
        .iter()
        .map(|row| {
            let product = products.iter().find(|p| p.product_id == row.product_id);
            CardView {
                id: row.id,
                product_name: product
                    .map_or_else(|| "Gift card".to_owned(), |p| p.product_name.clone()),
                image_url: assets::product_image_url(
                    product.map_or("", |p| p.product_image_path.as_str()),
                )
                .to_owned(),
                description: product.map(|p| p.description.clone()).unwrap_or_default(),
                amount: row.amount,
                used: row.used,
                legacy: row.legacy,
                created_at: row.created_at.clone(),
            }
        })
        .collect();
    let has_unused = cards.iter().any(|c| !c.used);
    let heading = if has_unused {
        "Choose a card to use!"
    } else if used.is_some() {
        "Card used!"
    } else {
        "Consider buying a card today!"
    };
    let notice = match used {
        Some(Some(label)) => Some(format!("Card used! ({label})")),
        Some(None) if has_unused => Some("Card used!".to_owned()),
        _ => None,
    };
    let csrf = session.csrf_token(state).await?;
    let page = UsePage {
        nav: Nav::new(Some(user), Some(csrf.clone())),
        csrf,
        heading,
        notice,
        cards,
        has_unused,
    };
    render(StatusCode::OK, &page)
}
