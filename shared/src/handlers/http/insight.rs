//! The organiser's insight routes, behind the organiser key like the rest of
//! the organiser API (`handlers::http` checks it): `GET
//! /groups/{code}/activity.csv` and `POST /groups/{code}/announce`.

use serde_json::{Value, json};

use super::{HttpRequest, HttpResponse, body_json, invalid};
use crate::app::App;
use crate::error::ActionError;
use crate::model::Circle;
use crate::organizer::insight::{self, AnnounceError};

/// `GET /groups/{code}/activity.csv`: `text/csv`, header `at,joins,chats,good,meh`,
/// one line per 5-minute bucket (one Query).
pub(super) async fn csv(app: &App, circle: Circle) -> Result<HttpResponse, ActionError> {
    let (_, rows) = insight::read(app, &circle).await?;
    Ok(HttpResponse::text(
        "text/csv; charset=utf-8",
        insight::csv(&rows),
    ))
}

/// `POST /groups/{code}/announce` `{"text"}`: `200` `{"sent": n}`; `400` on a
/// blank or long text, `429` within 10 s of the last one.
pub(super) async fn announce(
    app: &App,
    req: HttpRequest<'_>,
    circle: Circle,
) -> Result<HttpResponse, ActionError> {
    let body = match body_json(req.body) {
        Ok(v) => v,
        Err(r) => return Ok(r),
    };
    let Some(text) = body.get("text").and_then(Value::as_str) else {
        return Ok(invalid("text", "text must be a string"));
    };
    match insight::announce(app, &circle, text).await {
        Ok(sent) => Ok(HttpResponse::ok(200, json!({ "sent": sent }))),
        Err(AnnounceError::BadText) => Ok(invalid("text", AnnounceError::BadText.to_string())),
        Err(AnnounceError::TooSoon) => {
            let mut r =
                HttpResponse::error(429, "rate_limited", AnnounceError::TooSoon.to_string());
            r.retry_after = Some(insight::ANNOUNCE_EVERY);
            Ok(r)
        }
        Err(AnnounceError::Store(err)) => Err(err.into()),
    }
}
