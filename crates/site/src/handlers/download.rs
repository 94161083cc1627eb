//! Downloading one of your cards again, as the JSON card file or the binary `.gft`.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use cardsgalore_cards::Card;
use cardsgalore_store::repo::cards;
use serde::Deserialize;

use super::parse_id;
use crate::auth::CurrentUser;
use crate::error::SiteError;
use crate::state::AppState;

#[derive(Deserialize)]
pub struct DownloadQuery {
    format: Option<String>,
}

enum Format {
    Json,
    Gft,
}

fn no_such_card() -> SiteError {
    SiteError::not_found("You have no card with that number.")
}

/// `GET /cards/{id}/download?format=json|gft`: only the owner gets it; anyone else gets the
/// same 404 as for a card that does not exist.
pub async fn card(
    State(state): State<AppState>,
    current: CurrentUser,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<DownloadQuery>, QueryRejection>,
) -> Result<Response, SiteError> {
    let Path(id) = id.map_err(|_| no_such_card())?;
    let id = parse_id(&id).ok_or_else(no_such_card)?;
    let format = match query?.0.format.as_deref() {
        None | Some("json") | Some("gftcrd") => Format::Json,
        Some("gft") => Format::Gft,
        Some(_) => return Err(SiteError::bad_request("The format must be json or gft.")),
    };
    let user_id = current.user.id;
    let row = state
        .db(move |conn, _| Ok(cards::get(conn, id)?))
        .await?
        .filter(|row| row.user_id == user_id)
        .ok_or_else(no_such_card)?;
    let (body, filename) = match format {
        Format::Json => (
            row.data,
            format!("attachment; filename=card-{}.gftcrd", row.id),
        ),
        Format::Gft => {
            if row.legacy {
                return Err(SiteError::not_found(
                    "Cards from the old site are only available as a .gftcrd file.",
                ));
            }
            let bytes = Card::from_json(&row.data)
                .and_then(|card| card.to_gft_bytes())
                .map_err(|e| {
                    SiteError::internal(
                        anyhow::Error::new(e).context("a stored card did not convert"),
                    )
                })?;
            (bytes, format!("attachment; filename=card-{}.gft", row.id))
        }
    };
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (header::CONTENT_DISPOSITION, filename),
        ],
        body,
    )
        .into_response())
}
