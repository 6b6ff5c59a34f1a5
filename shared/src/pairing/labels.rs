//! Labels in a join: which label a joiner has (`join_group`'s `label`, or its
//! record's on "Next" and in rounds), and what a pairing adds to the circle's
//! share of chats across and within labels (counted after the commit with the
//! other counters, `room::add_counts`, never inside the pairing transaction).

use crate::error::ActionError;
use crate::model::{Circle, Connection, LabelMode};
use crate::protocol::ProtocolError;

/// The joiner's label in `circle`. A circle with labels requires one on a
/// join into it: a member without a label can't be matched the way the
/// organiser asked, and the page always offers the choice. A join from a
/// connection already in the circle (a keep-alive, "Find someone new") that
/// names none keeps the label its record holds (none if the organiser added
/// labels after it joined: it is then ranked without a preference).
pub(crate) fn of_join(
    circle: &Circle,
    conn: &Connection,
    in_this_circle: bool,
    label: Option<&str>,
) -> Result<Option<(LabelMode, String)>, ActionError> {
    let Some(mode) = circle.labels.active() else {
        return Ok(None);
    };
    match label {
        Some(l) => circle
            .labels
            .pick(Some(l))
            .map(|l| Some((mode, l.to_owned())))
            .ok_or(ActionError::Protocol(ProtocolError::Invalid {
                field: "label",
                message: "must be one of the circle's labels",
            })),
        None if in_this_circle => Ok(of_record(circle, conn)),
        None => Err(ActionError::Protocol(ProtocolError::Invalid {
            field: "label",
            message: "is required: choose one of the circle's labels",
        })),
    }
}

/// The label a connection's record holds, if it is one of the circle's.
pub(crate) fn of_record(circle: &Circle, conn: &Connection) -> Option<(LabelMode, String)> {
    let mode = circle.labels.active()?;
    let label = circle.labels.pick(conn.label.as_deref())?;
    Some((mode, label.to_owned()))
}

/// Chats across and within labels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Share {
    /// Chats between two different labels.
    pub across: i64,
    /// Chats between two people of the same label.
    pub within: i64,
}

impl Share {
    /// What a chat between labels `a` and `b` adds (nothing unless both have one).
    pub(crate) fn of(a: Option<&str>, b: Option<&str>) -> Self {
        match (a, b) {
            (Some(a), Some(b)) if a == b => Self {
                across: 0,
                within: 1,
            },
            (Some(_), Some(_)) => Self {
                across: 1,
                within: 0,
            },
            _ => Self::default(),
        }
    }

    /// Adds another count.
    pub(crate) fn add(&mut self, other: Self) {
        self.across += other.across;
        self.within += other.within;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::code::AccessCode;
    use crate::model::{Labels, RoundState};

    fn circle(names: &[&str]) -> Circle {
        Circle {
            code: AccessCode::generate(),
            cid: "c".into(),
            name: "n".into(),
            description: "d".into(),
            rules: vec![],
            prompts: vec![],
            created_at: 0,
            expires_at: 10,
            organizer_hash: "h".into(),
            shards: 1,
            ver: 1,
            round: RoundState::default(),
            listing: None,
            labels: Labels {
                names: names.iter().map(|s| (*s).to_owned()).collect(),
                mode: LabelMode::Across,
            },
        }
    }

    #[test]
    fn a_join_into_a_labelled_circle_needs_one_of_its_labels() {
        let mut conn = Connection::new("c1", 0, 10);
        let c = circle(&["a", "b"]);
        assert_eq!(
            of_join(&c, &conn, false, Some("a")),
            Ok(Some((LabelMode::Across, "a".into())))
        );
        assert!(of_join(&c, &conn, false, Some("z")).is_err());
        assert!(of_join(&c, &conn, false, None).is_err());
        assert_eq!(of_join(&c, &conn, true, None), Ok(None));
        conn.label = Some("b".into());
        assert_eq!(
            of_join(&c, &conn, true, None),
            Ok(Some((LabelMode::Across, "b".into())))
        );
        assert_eq!(of_join(&circle(&[]), &conn, false, Some("a")), Ok(None));
        assert_eq!(Share::of(Some("a"), Some("b")).across, 1);
        assert_eq!(Share::of(Some("a"), Some("a")).within, 1);
        assert_eq!(Share::of(None, Some("a")), Share::default());
    }
}
