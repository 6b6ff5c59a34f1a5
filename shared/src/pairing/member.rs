//! Who is joining: the joiner's identity in a circle and its member record,
//! loaded (and refused if removed) in one place.

use rand::Rng;

use super::ops::Identity;
use crate::app::App;
use crate::db::{Table, keys};
use crate::error::ActionError;
use crate::model::{Circle, LabelMode, Member};
use crate::rules::matching::Seeker;

/// The joiner: who it is in this circle and what it knows of itself.
#[derive(Debug, Clone)]
pub(crate) struct Joiner {
    pub conn: String,
    pub name: String,
    pub mid: String,
    pub member: Option<Member>,
    pub avoid: Option<String>,
    pub avoid_until: i64,
    pub code: String,
    /// Its record's expiry (no later than the circle's).
    pub expires_at: i64,
    /// In a circle with labels, its mode and the joiner's label.
    pub label: Option<(LabelMode, String)>,
}

impl Joiner {
    pub(crate) fn seeker(&self) -> Seeker<'_> {
        Seeker {
            conn: &self.conn,
            mid: &self.mid,
            member: self.member.as_ref(),
            avoid: self.avoid.as_deref(),
            avoid_until: self.avoid_until,
            prefer: self.label.as_ref().map(|(m, l)| (*m, l.as_str())),
        }
    }

    /// The joiner's label, if the circle has labels.
    pub(crate) fn label(&self) -> Option<&str> {
        self.label.as_ref().map(|(_, l)| l.as_str())
    }

    pub(crate) fn identity<'a>(&'a self, circle: &'a Circle) -> Identity<'a> {
        Identity {
            cid: &circle.cid,
            code: &self.code,
            mid: &self.mid,
            name: &self.name,
            expires_at: self.expires_at,
            circle_expires_at: circle.expires_at,
            label: self.label(),
        }
    }
}

/// A fresh id for a joiner without a member secret: it has no history.
pub(crate) fn anonymous_member() -> String {
    let mut bytes = [0u8; crate::secrets::MEMBER_ID_BYTES];
    rand::rng().fill(&mut bytes);
    crate::secrets::hex(&bytes)
}

/// A member record as stored, refused with `Removed` if the organiser removed it.
pub(crate) fn check_removed(member: Option<Member>) -> Result<Option<Member>, ActionError> {
    if member.as_ref().is_some_and(|m| m.removed) {
        return Err(ActionError::Removed);
    }
    Ok(member)
}

/// Reads a member record (strongly consistent); `Removed` if it was removed.
pub(crate) async fn load_member(
    app: &App,
    cid: &str,
    mid: &str,
) -> Result<Option<Member>, ActionError> {
    let member = app
        .store
        .get(Table::Groups, keys::member(cid, mid), true)
        .await?
        .as_ref()
        .map(Member::from_item)
        .transpose()?;
    check_removed(member)
}
