//! The URL people reach the stack at (`--public-url`, by default the listen
//! address): what organiser links and `config.json` say, and what the page's
//! Content-Security-Policy lets it connect to. Never taken from a request's
//! `Host` header, which anyone can set.

/// Why a `--public-url` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an http:// or https:// URL with a host and no path, query or fragment")]
pub struct PublicUrlError(pub String);

/// The page's and the APIs' public URLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl {
    /// `http(s)://host[:port]`, without a trailing slash: the page and the HTTP API.
    pub http: String,
    /// `ws(s)://host[:port]/ws`: the WebSocket API.
    pub ws: String,
}

impl PublicUrl {
    /// `http://{authority}`, the listen address as clients reach it.
    pub fn listening(authority: &str) -> Self {
        Self {
            http: format!("http://{authority}"),
            ws: format!("ws://{authority}/ws"),
        }
    }

    /// A configured URL such as `https://circle.example` (a trailing `/` is allowed).
    pub fn parse(url: &str) -> Result<Self, PublicUrlError> {
        let refuse = || PublicUrlError(url.to_owned());
        let uri: http::Uri = url.trim().parse().map_err(|_| refuse())?;
        let ws_scheme = match uri.scheme_str() {
            Some("http") => "ws",
            Some("https") => "wss",
            _ => return Err(refuse()),
        };
        let authority = uri.authority().ok_or_else(refuse)?;
        let bare = !authority.as_str().contains('@')
            && !authority.host().is_empty()
            && matches!(uri.path(), "" | "/")
            && uri.query().is_none()
            && !url.contains('#');
        if !bare {
            return Err(refuse());
        }
        let scheme = uri.scheme_str().unwrap_or("http");
        Ok(Self {
            http: format!("{scheme}://{authority}"),
            ws: format!("{ws_scheme}://{authority}/ws"),
        })
    }

    /// The page's address: the HTTP URL with its trailing `/`.
    pub fn page(&self) -> String {
        format!("{}/", self.http)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_urls_parse() {
        let url = PublicUrl::parse("https://circle.example/").expect("valid");
        assert_eq!(url.http, "https://circle.example");
        assert_eq!(url.ws, "wss://circle.example/ws");
        assert_eq!(url.page(), "https://circle.example/");
        let local = PublicUrl::parse("http://192.168.1.5:3000").expect("valid");
        assert_eq!(local, PublicUrl::listening("192.168.1.5:3000"));
        for bad in [
            "circle.example",
            "ftp://circle.example",
            "https://circle.example/app",
            "https://circle.example/?a=b",
            "https://circle.example/#x",
            "https://user@circle.example",
            "https://",
            "",
        ] {
            assert!(PublicUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
