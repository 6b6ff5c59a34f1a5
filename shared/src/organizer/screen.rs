//! "Show on a screen": the QR code of a circle's invite link, drawn here as
//! SVG by the `qrcode` crate (kennytm; SVG renderer only, no image crate), so
//! the page needs no QR library and nothing leaves the stack. The link is
//! built from the page's configured base URL, never taken from the caller,
//! so the route can't be used to make a QR code of anything else.

use crate::model::Circle;

/// The invite link of `circle` on the page at `page_url`:
/// `{page_url}?code=ABCDE-FGHJK` (what the page's `inviteLink` makes).
pub fn invite_link(page_url: &str, circle: &Circle) -> String {
    let base = page_url.split(['?', '#']).next().unwrap_or(page_url);
    format!("{base}?code={}", circle.code)
}

/// The QR code of `text` as an SVG document, one unit per module with the
/// quiet zone; `None` if it doesn't fit a QR code.
pub fn qr_svg(text: &str) -> Option<String> {
    let code = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::M).ok()?;
    Some(
        code.render::<qrcode::render::svg::Color<'_>>()
            .module_dimensions(1, 1)
            .quiet_zone(true)
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_makes_an_svg_qr_code() {
        let svg = qr_svg("https://circle.example/?code=ABCDE-FGHJK").expect("fits");
        assert!(svg.contains("<svg") && svg.contains("<path"), "{svg}");
        assert!(
            qr_svg(&"x".repeat(5000)).is_none(),
            "too long for a QR code"
        );
    }
}
