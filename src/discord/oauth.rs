//! Owns the OAuth2 grants (code + PKCE, refresh, revoke) against Discord.
//! It must not store tokens or quote them in errors and logs.
//!
//! Discord OAuth2 (authorization code + PKCE, refresh, revoke), built on the `oauth2` crate.
//!
//! Secrets (client secret, tokens, PKCE verifier) never appear in `Debug` output, error messages
//! or logs. Token requests are not retried: an authorization code is single-use, and a refresh
//! that reached Discord but whose answer was lost may already have rotated the refresh token.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use std::time::Duration;

use oauth2::basic::{
    BasicClient, BasicErrorResponse, BasicErrorResponseType, BasicTokenResponse, BasicTokenType,
};
use oauth2::{
    AsyncHttpClient, AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    EndpointNotSet, EndpointSet, HttpClientError, HttpRequest, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, RefreshToken, RequestTokenError, Scope, TokenResponse, TokenUrl,
};
use url::Url;

use super::client::{describe_json_error, describe_reqwest, is_secure_url, truncate};
use super::scope;

/// Used when the token response has no `expires_in`: Discord documents (and always sends) 604800 s,
/// i.e. 7 days. Callers refresh before expiry anyway, so an over-estimate only costs one 401.
const DEFAULT_EXPIRES_IN: Duration = Duration::from_secs(604_800);

const REDACTED: &str = "<redacted>";

/// Where and who: the application's credentials and Discord's endpoints.
#[derive(Clone)]
pub(crate) struct OAuthSettings {
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
    pub(crate) authorize_url: Url,
    pub(crate) token_url: Url,
    pub(crate) revoke_url: Url,
    pub(crate) redirect_uri: Url,
}

impl fmt::Debug for OAuthSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthSettings")
            .field("client_id", &self.client_id)
            .field("client_secret", &REDACTED)
            .field("authorize_url", &self.authorize_url.as_str())
            .field("token_url", &self.token_url.as_str())
            .field("revoke_url", &self.revoke_url.as_str())
            .field("redirect_uri", &self.redirect_uri.as_str())
            .finish()
    }
}

/// What the browser is sent to, plus what must be kept (server side, e.g. in a signed cookie or
/// the store) to finish the flow: `state` to compare, `pkce_verifier` for [`OAuthClient::exchange_code`].
pub(crate) struct AuthorizeRequest {
    pub(crate) url: Url,
    pub(crate) state: String,
    pub(crate) pkce_verifier: String,
}

impl fmt::Debug for AuthorizeRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizeRequest")
            .field(
                "url",
                &format_args!(
                    "{}{} (query omitted)",
                    self.url.origin().ascii_serialization(),
                    self.url.path()
                ),
            )
            .field("state", &REDACTED)
            .field("pkce_verifier", &REDACTED)
            .finish()
    }
}

/// A successful token response.
pub(crate) struct TokenSet {
    pub(crate) access_token: String,
    /// Store it before using the access token: Discord may rotate it on every refresh.
    pub(crate) refresh_token: Option<String>,
    pub(crate) expires_in: Duration,
    /// Granted scopes (may differ from the requested ones).
    pub(crate) scopes: Vec<scope::Scope>,
}

impl fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSet")
            .field("access_token", &REDACTED)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| REDACTED),
            )
            .field("expires_in", &self.expires_in)
            .field("scopes", &self.scopes)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
/// Why an OAuth request failed. Messages never quote tokens.
pub enum OAuthError {
    /// 400 `{"error":"invalid_grant"}`: the refresh token is dead (the user removed the app) or the
    /// code was reused/expired. The authorization is gone; do not retry.
    #[error("OAuth grant is invalid or expired: {description}")]
    InvalidGrant {
        /// Discord's `error_description`.
        description: String,
    },
    /// Any other error answer, e.g. `invalid_client` (bad secret) or a 5xx page.
    #[error("OAuth request rejected: HTTP {status} {error}: {description}")]
    Rejected {
        /// The HTTP status.
        status: u16,
        /// Discord's `error` code.
        error: String,
        /// Discord's `error_description`.
        description: String,
    },
    #[error("OAuth request failed: {0}")]
    /// The request did not reach Discord or got no answer.
    Transport(String),
    #[error("unexpected OAuth response: {0}")]
    /// The answer is not a token response.
    InvalidResponse(String),
    #[error("OAuth configuration: {0}")]
    /// The OAuth settings cannot be used (e.g. an insecure URL).
    Config(String),
}

type DiscordOAuth =
    BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// Cheap to clone.
#[derive(Clone)]
pub(crate) struct OAuthClient {
    inner: Arc<Inner>,
}

struct Inner {
    oauth: DiscordOAuth,
    http: reqwest::Client,
    client_id: String,
    client_secret: ClientSecret,
    revoke_url: Url,
}

impl fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthClient")
            .field("client_id", &self.inner.client_id)
            .finish_non_exhaustive()
    }
}

impl OAuthClient {
    /// `http` must be built with `redirect::Policy::none()` (SSRF, see oauth2's UPGRADE notes);
    /// [`DiscordClient::http`](super::client::DiscordClient::http) is.
    pub(crate) fn new(settings: OAuthSettings, http: reqwest::Client) -> Result<Self, OAuthError> {
        check_settings(&settings)?;
        let secret = ClientSecret::new(settings.client_secret);
        let oauth = BasicClient::new(ClientId::new(settings.client_id.clone()))
            .set_client_secret(secret.clone())
            .set_auth_type(AuthType::BasicAuth)
            .set_auth_uri(AuthUrl::from_url(settings.authorize_url))
            .set_token_uri(TokenUrl::from_url(settings.token_url))
            .set_redirect_uri(RedirectUrl::from_url(settings.redirect_uri));
        let inner = Inner {
            oauth,
            http,
            client_id: settings.client_id,
            client_secret: secret,
            revoke_url: settings.revoke_url,
        };
        Ok(OAuthClient {
            inner: Arc::new(inner),
        })
    }

    /// Discord's authorize URL with a fresh random `state` and PKCE (S256) challenge, and
    /// `prompt=consent` so the user always sees what they grant.
    pub(crate) fn authorize(&self, scopes: &[scope::Scope]) -> AuthorizeRequest {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = self
            .inner
            .oauth
            .authorize_url(CsrfToken::new_random)
            .add_scopes(
                scopes
                    .iter()
                    .map(|scope| Scope::new(scope.as_str().to_owned())),
            )
            .set_pkce_challenge(challenge)
            .add_extra_param("prompt", "consent")
            .url();
        AuthorizeRequest {
            url,
            state: state.into_secret(),
            pkce_verifier: verifier.into_secret(),
        }
    }

    /// Trades the `code` from the redirect for tokens (sends the PKCE verifier and redirect_uri).
    pub(crate) async fn exchange_code(
        &self,
        code: &str,
        pkce_verifier: &str,
    ) -> Result<TokenSet, OAuthError> {
        let http = self.recording_http();
        let result = self
            .inner
            .oauth
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(&http)
            .await;
        token_set(result, http.status())
    }

    /// New tokens from a refresh token. Store the returned refresh token: it may have rotated.
    pub(crate) async fn refresh(&self, refresh_token: &str) -> Result<TokenSet, OAuthError> {
        let http = self.recording_http();
        let refresh_token = RefreshToken::new(refresh_token.to_owned());
        let result = self
            .inner
            .oauth
            .exchange_refresh_token(&refresh_token)
            .request_async(&http)
            .await;
        token_set(result, http.status())
    }

    /// Revokes a token (either kind ends the whole authorization), without a type hint.
    pub(crate) async fn revoke(&self, token: &str) -> Result<(), OAuthError> {
        self.revoke_request(token).await
    }

    /// RFC 7009 revocation. Done with reqwest directly because oauth2 refuses non-https revocation
    /// URLs, which rules out loopback test servers; the request has the same shape as oauth2's
    /// (form body, client credentials as url-encoded HTTP Basic auth).
    async fn revoke_request(&self, token: &str) -> Result<(), OAuthError> {
        let form = [("token", token)];
        let response = self
            .inner
            .http
            .post(self.inner.revoke_url.clone())
            .basic_auth(
                form_encode(&self.inner.client_id),
                Some(form_encode(self.inner.client_secret.secret())),
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&form)
            .send()
            .await
            .map_err(|e| OAuthError::Transport(describe_reqwest(e)))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        if !is_error_status(status.as_u16()) {
            return Err(unexpected_status(status.as_u16(), "revocation"));
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| OAuthError::Transport(describe_reqwest(e)))?;
        Err(error_answer(status.as_u16(), &body))
    }

    fn recording_http(&self) -> RecordingHttp {
        RecordingHttp {
            http: self.inner.http.clone(),
            status: AtomicU16::new(0),
        }
    }
}

/// The shared reqwest client, noting the status of the answer: oauth2's errors do not carry it.
/// A named type rather than a closure: with a closure rustc cannot prove the futures `Send`.
struct RecordingHttp {
    http: reqwest::Client,
    status: AtomicU16,
}

impl RecordingHttp {
    fn status(&self) -> u16 {
        self.status.load(Ordering::Relaxed)
    }
}

type HttpResult = Result<oauth2::HttpResponse, HttpClientError<reqwest::Error>>;

impl<'c> AsyncHttpClient<'c> for RecordingHttp {
    type Error = HttpClientError<reqwest::Error>;
    type Future = Pin<Box<dyn Future<Output = HttpResult> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let response = self.http.call(request).await?;
            self.status
                .store(response.status().as_u16(), Ordering::Relaxed);
            Ok(response)
        })
    }
}

fn check_settings(settings: &OAuthSettings) -> Result<(), OAuthError> {
    if settings.client_id.trim().is_empty() || settings.client_secret.trim().is_empty() {
        return Err(OAuthError::Config(
            "client_id and client_secret must be set".into(),
        ));
    }
    // The redirect URI goes to browsers and may be plain http on a developer machine; the others
    // carry the client secret or tokens.
    for (name, url) in [
        ("authorize_url", &settings.authorize_url),
        ("token_url", &settings.token_url),
        ("revoke_url", &settings.revoke_url),
    ] {
        if !is_secure_url(url) {
            return Err(OAuthError::Config(format!("{name} {url} must be https")));
        }
    }
    Ok(())
}

/// RFC 6749 §2.3.1: client id and secret are form-encoded before going into Basic auth.
fn form_encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

type TokenResult = Result<
    BasicTokenResponse,
    RequestTokenError<HttpClientError<reqwest::Error>, BasicErrorResponse>,
>;

fn token_set(result: TokenResult, status: u16) -> Result<TokenSet, OAuthError> {
    let response = result.map_err(|err| token_error(err, status))?;
    if *response.token_type() != BasicTokenType::Bearer {
        return Err(OAuthError::InvalidResponse(format!(
            "token_type {:?}, expected Bearer",
            response.token_type()
        )));
    }
    let access_token = response.access_token().secret().clone();
    if access_token.is_empty() {
        return Err(OAuthError::InvalidResponse("empty access_token".into()));
    }
    Ok(TokenSet {
        access_token,
        refresh_token: response.refresh_token().map(|t| t.secret().clone()),
        expires_in: response.expires_in().unwrap_or(DEFAULT_EXPIRES_IN),
        // Discord always sends `scope`; without it we claim nothing rather than guess.
        scopes: response
            .scopes()
            .map(|granted| {
                granted
                    .iter()
                    .flat_map(|s| scope::Scope::granted(s))
                    .collect()
            })
            .unwrap_or_default(),
    })
}

/// Maps oauth2's error to ours. Response bodies of *successful* answers are never quoted: they
/// hold tokens.
fn token_error(
    err: RequestTokenError<HttpClientError<reqwest::Error>, BasicErrorResponse>,
    status: u16,
) -> OAuthError {
    if let RequestTokenError::Request(err) = err {
        return OAuthError::Transport(describe_http_error(err));
    }
    // oauth2 reads the body of every answer but a 200 as an error response; below 400 it is
    // none (a 201 or 203 may well carry tokens), so it is neither quoted nor believed.
    if !is_error_status(status) && status != 200 && status != 0 {
        return unexpected_status(status, "token");
    }
    match err {
        RequestTokenError::ServerResponse(response) => from_error_response(&response, status),
        RequestTokenError::Request(err) => OAuthError::Transport(describe_http_error(err)),
        // An error page that is not OAuth JSON (e.g. a proxy's 502): quoting it is safe.
        RequestTokenError::Parse(_, body) if is_error_status(status) => {
            let description = truncate(&String::from_utf8_lossy(&body));
            OAuthError::Rejected {
                status,
                error: String::new(),
                description,
            }
        }
        // serde_path_to_error's error: `path()` names the field, `inner()` is serde_json's.
        RequestTokenError::Parse(err, _) => OAuthError::InvalidResponse(format!(
            "token response: {}",
            describe_json_error(&err.path().to_string(), err.inner())
        )),
        RequestTokenError::Other(text) if is_error_status(status) => OAuthError::Rejected {
            status,
            error: String::new(),
            description: text,
        },
        RequestTokenError::Other(text) => OAuthError::InvalidResponse(text),
    }
}

fn from_error_response(response: &BasicErrorResponse, status: u16) -> OAuthError {
    let description = truncate(response.error_description().map_or("", String::as_str));
    match response.error() {
        BasicErrorResponseType::InvalidGrant => OAuthError::InvalidGrant { description },
        other => OAuthError::Rejected {
            status,
            error: other.as_ref().to_owned(),
            description,
        },
    }
}

/// A non-2xx answer of the revocation endpoint: OAuth error JSON if possible, else the raw body.
fn error_answer(status: u16, body: &[u8]) -> OAuthError {
    match serde_json::from_slice::<BasicErrorResponse>(body) {
        Ok(response) => from_error_response(&response, status),
        Err(_) => OAuthError::Rejected {
            status,
            error: String::new(),
            description: truncate(&String::from_utf8_lossy(body)),
        },
    }
}

/// An answer whose body is an error description, safe to quote (4xx, 5xx).
fn is_error_status(status: u16) -> bool {
    status >= 400
}

/// A non-error answer that is not the expected one (e.g. 201, 3xx), reported without its body.
fn unexpected_status(status: u16, endpoint: &str) -> OAuthError {
    OAuthError::InvalidResponse(format!(
        "unexpected status {status} from the {endpoint} endpoint"
    ))
}

fn describe_http_error(err: HttpClientError<reqwest::Error>) -> String {
    match err {
        HttpClientError::Reqwest(err) => describe_reqwest(*err),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use base64::prelude::*;
    use sha2::{Digest, Sha256};

    use super::*;
    use crate::discord::client::{ClientOptions, DiscordClient};
    use fake_discord::scripted::{FakeServer, Recorded, Reply};

    const TOKENS: &str = r#"{"access_token":"acc-SECRET","token_type":"Bearer","expires_in":604800,"refresh_token":"ref-SECRET","scope":"identify connections"}"#;

    fn settings(server: &FakeServer) -> OAuthSettings {
        OAuthSettings {
            client_id: "1234".into(),
            client_secret: "shh-secret".into(),
            authorize_url: Url::parse("https://discord.com/oauth2/authorize").unwrap(),
            token_url: server.url("/api/v10/oauth2/token"),
            revoke_url: server.url("/api/v10/oauth2/token/revoke"),
            redirect_uri: Url::parse("https://pages.example/callback").unwrap(),
        }
    }

    fn oauth(server: &FakeServer) -> OAuthClient {
        let http = DiscordClient::new(ClientOptions::new(server.url("/api/v10")))
            .unwrap()
            .http();
        OAuthClient::new(settings(server), http).unwrap()
    }

    fn assert_client_auth(request: &Recorded) {
        let expected = format!("Basic {}", BASE64_STANDARD.encode("1234:shh-secret"));
        assert_eq!(request.header("authorization"), Some(expected.as_str()));
        assert_eq!(
            request.header("content-type"),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(request.method, "POST");
        assert_eq!(
            request.form_value("client_secret"),
            None,
            "secret belongs in the header only"
        );
    }

    fn assert_no_secrets(text: &str) {
        for secret in [
            "acc-SECRET",
            "ref-SECRET",
            "shh-secret",
            "verifier-SECRET",
            "code-SECRET",
        ] {
            assert!(!text.contains(secret), "{secret} leaked in {text}");
        }
    }

    #[tokio::test]
    async fn authorize_url_has_every_parameter() {
        let server = FakeServer::start(|_, _| Reply::json(500, "")).await;
        let client = oauth(&server);
        let request = client.authorize(&[scope::Scope::Identify, scope::Scope::Connections]);
        let query: std::collections::HashMap<String, String> =
            request.url.query_pairs().into_owned().collect();
        assert_eq!(request.url.path(), "/oauth2/authorize");
        assert_eq!(query["client_id"], "1234");
        assert_eq!(query["redirect_uri"], "https://pages.example/callback");
        assert_eq!(query["response_type"], "code");
        assert_eq!(query["scope"], "identify connections");
        assert_eq!(query["state"], request.state);
        assert_eq!(query["prompt"], "consent");
        assert_eq!(query["code_challenge_method"], "S256");
        let challenge =
            BASE64_URL_SAFE_NO_PAD.encode(Sha256::digest(request.pkce_verifier.as_bytes()));
        assert_eq!(query["code_challenge"], challenge);
        assert!(!query.contains_key("code_verifier"));
        // Fresh randomness each time.
        let other = client.authorize(&[scope::Scope::Identify]);
        assert_ne!(other.state, request.state);
        assert_ne!(other.pkce_verifier, request.pkce_verifier);
    }

    #[tokio::test]
    async fn exchange_code_sends_pkce_verifier_with_basic_auth() {
        let server = FakeServer::start(|_, _| Reply::json(200, TOKENS)).await;
        let tokens = oauth(&server)
            .exchange_code("code-SECRET", "verifier-SECRET")
            .await
            .unwrap();
        assert_eq!(tokens.access_token, "acc-SECRET");
        assert_eq!(tokens.refresh_token.as_deref(), Some("ref-SECRET"));
        assert_eq!(tokens.expires_in, Duration::from_secs(604_800));
        assert_eq!(
            tokens.scopes,
            [scope::Scope::Identify, scope::Scope::Connections]
        );
        let requests = server.requests();
        assert_eq!(requests.len(), 1);
        let request = &requests[0];
        assert_eq!(request.path, "/api/v10/oauth2/token");
        assert_client_auth(request);
        assert_eq!(
            request.form_value("grant_type").as_deref(),
            Some("authorization_code")
        );
        assert_eq!(request.form_value("code").as_deref(), Some("code-SECRET"));
        assert_eq!(
            request.form_value("code_verifier").as_deref(),
            Some("verifier-SECRET")
        );
        assert_eq!(
            request.form_value("redirect_uri").as_deref(),
            Some("https://pages.example/callback")
        );
    }

    #[tokio::test]
    async fn refresh_sends_the_refresh_token_and_defaults_expiry() {
        let server = FakeServer::start(|_, _| {
            Reply::json(200, r#"{"access_token":"acc-SECRET","token_type":"bearer","refresh_token":"ref-SECRET-2"}"#)
        })
        .await;
        let tokens = oauth(&server).refresh("ref-SECRET").await.unwrap();
        assert_eq!(tokens.refresh_token.as_deref(), Some("ref-SECRET-2"));
        assert_eq!(tokens.expires_in, DEFAULT_EXPIRES_IN);
        assert!(tokens.scopes.is_empty());
        let request = &server.requests()[0];
        assert_client_auth(request);
        assert_eq!(
            request.form_value("grant_type").as_deref(),
            Some("refresh_token")
        );
        assert_eq!(
            request.form_value("refresh_token").as_deref(),
            Some("ref-SECRET")
        );
    }

    #[tokio::test]
    async fn invalid_grant_is_recognised() {
        let server = FakeServer::start(|_, _| {
            Reply::json(400, r#"{"error":"invalid_grant","error_description":"Invalid \"refresh_token\" in request"}"#)
        })
        .await;
        let err = oauth(&server).refresh("ref-SECRET").await.unwrap_err();
        match &err {
            OAuthError::InvalidGrant { description } => {
                assert!(description.contains("refresh_token"))
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_no_secrets(&format!("{err} {err:?}"));
    }

    #[tokio::test]
    async fn other_error_answers_are_rejected_with_status() {
        let server = FakeServer::start(|_, index| match index {
            0 => Reply::json(401, r#"{"error":"invalid_client"}"#),
            _ => Reply {
                status: 502,
                headers: vec![],
                body: "<html>Bad Gateway</html>".into(),
            },
        })
        .await;
        let client = oauth(&server);
        let err = client
            .exchange_code("code-SECRET", "verifier-SECRET")
            .await
            .unwrap_err();
        assert!(
            matches!(&err, OAuthError::Rejected { status: 401, error, .. } if error == "invalid_client"),
            "{err:?}"
        );
        let err = client.refresh("ref-SECRET").await.unwrap_err();
        assert!(
            matches!(&err, OAuthError::Rejected { status: 502, description, .. } if description.contains("Bad Gateway")),
            "{err:?}"
        );
        assert_no_secrets(&format!("{err} {err:?}"));
    }

    #[tokio::test]
    async fn token_answers_with_an_odd_success_status_are_never_quoted() {
        let server = FakeServer::start(|_, index| match index {
            0 => Reply::json(201, TOKENS),
            1 => Reply::json(203, TOKENS),
            // Even one that would parse as an OAuth error is not believed below 400.
            2 => Reply::json(
                202,
                r#"{"error":"invalid_grant","error_description":"acc-SECRET"}"#,
            ),
            _ => Reply::json(302, TOKENS),
        })
        .await;
        let client = oauth(&server);
        for status in [201, 203, 202] {
            let err = client.refresh("x").await.unwrap_err();
            let text = format!("{err} {err:?}");
            assert!(
                matches!(&err, OAuthError::InvalidResponse(message)
                    if *message == format!("unexpected status {status} from the token endpoint")),
                "{text}"
            );
            assert_no_secrets(&text);
        }
        let err = client
            .exchange_code("code-SECRET", "verifier-SECRET")
            .await
            .unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(text.contains("unexpected status 302"), "{text}");
        assert_no_secrets(&text);
    }

    #[tokio::test]
    async fn revocation_answers_below_400_are_not_quoted() {
        let server = FakeServer::start(|_, _| Reply::json(302, TOKENS)).await;
        let err = oauth(&server).revoke("x").await.unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(
            text.contains("unexpected status 302 from the revocation endpoint"),
            "{text}"
        );
        assert_no_secrets(&text);
    }

    #[tokio::test]
    async fn malformed_token_answers_do_not_leak_tokens() {
        let server = FakeServer::start(|_, index| match index {
            0 => Reply::json(
                200,
                r#"{"token_type":"Bearer","refresh_token":"ref-SECRET"}"#,
            ),
            _ => Reply::json(
                200,
                r#"{"access_token":"acc-SECRET","token_type":"Bearer","expires_in":"ref-SECRET"}"#,
            ),
        })
        .await;
        let client = oauth(&server);
        let err = client.refresh("x").await.unwrap_err();
        assert!(
            matches!(&err, OAuthError::InvalidResponse(text) if text.contains("access_token")),
            "{err:?}"
        );
        let err = client.refresh("x").await.unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(
            matches!(&err, OAuthError::InvalidResponse(_)) && text.contains("expires_in"),
            "{text}"
        );
        assert_no_secrets(&text);
    }

    #[tokio::test]
    async fn transport_errors_are_reported() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let mut settings = settings(&FakeServer::start(|_, _| Reply::json(500, "")).await);
        settings.token_url = Url::parse(&format!("http://{addr}/token")).unwrap();
        let client = OAuthClient::new(settings, reqwest::Client::new()).unwrap();
        let err = client.refresh("ref-SECRET").await.unwrap_err();
        assert!(matches!(err, OAuthError::Transport(_)), "{err:?}");
    }

    #[tokio::test]
    async fn revoke_posts_the_token_with_basic_auth() {
        let server = FakeServer::start(|_, index| match index {
            0 | 1 => Reply::json(200, "{}"),
            _ => Reply::json(401, r#"{"error":"invalid_client"}"#),
        })
        .await;
        let client = oauth(&server);
        client.revoke("ref-SECRET").await.unwrap();
        client.revoke("acc-SECRET").await.unwrap();
        let err = client.revoke("ref-SECRET").await.unwrap_err();
        assert!(
            matches!(&err, OAuthError::Rejected { status: 401, .. }),
            "{err:?}"
        );
        assert_no_secrets(&format!("{err} {err:?}"));
        let requests = server.requests();
        assert_eq!(requests[0].path, "/api/v10/oauth2/token/revoke");
        assert_client_auth(&requests[0]);
        assert_eq!(
            requests[0].form(),
            [("token".to_owned(), "ref-SECRET".to_owned())]
        );
        assert_eq!(
            requests[1].form_value("token").as_deref(),
            Some("acc-SECRET")
        );
    }

    #[tokio::test]
    async fn debug_output_is_redacted() {
        let server = FakeServer::start(|_, _| Reply::json(500, "")).await;
        let client = oauth(&server);
        let tokens = TokenSet {
            access_token: "acc-SECRET".into(),
            refresh_token: Some("ref-SECRET".into()),
            expires_in: Duration::from_secs(1),
            scopes: vec![scope::Scope::Identify],
        };
        let request = client.authorize(&[scope::Scope::Identify]);
        let debug = format!("{tokens:?} {request:?} {:?} {client:?}", settings(&server));
        assert_no_secrets(&debug);
        assert!(
            !debug.contains(&request.pkce_verifier) && !debug.contains(&request.state),
            "{debug}"
        );
        assert!(debug.contains("Identify") && debug.contains("<redacted>"));
    }

    #[tokio::test]
    async fn insecure_endpoints_are_refused() {
        let server = FakeServer::start(|_, _| Reply::json(500, "")).await;
        let mut insecure = settings(&server);
        insecure.token_url = Url::parse("http://discord.com/api/v10/oauth2/token").unwrap();
        assert!(matches!(
            OAuthClient::new(insecure, reqwest::Client::new()),
            Err(OAuthError::Config(_))
        ));
        let mut empty = settings(&server);
        empty.client_secret = String::new();
        assert!(matches!(
            OAuthClient::new(empty, reqwest::Client::new()),
            Err(OAuthError::Config(_))
        ));
    }

    #[test]
    fn futures_are_send() {
        fn assert_send<T: Send>(_: T) {}
        let client = OAuthClient::new(
            OAuthSettings {
                client_id: "1".into(),
                client_secret: "2".into(),
                authorize_url: Url::parse("https://discord.com/oauth2/authorize").unwrap(),
                token_url: Url::parse("https://discord.com/api/v10/oauth2/token").unwrap(),
                revoke_url: Url::parse("https://discord.com/api/v10/oauth2/token/revoke").unwrap(),
                redirect_uri: Url::parse("https://pages.example/callback").unwrap(),
            },
            reqwest::Client::new(),
        )
        .unwrap();
        assert_send(client.exchange_code("c", "v"));
        assert_send(client.refresh("r"));
        assert_send(client.revoke("t"));
        let discord = DiscordClient::new(ClientOptions::new(
            Url::parse("https://discord.com/api/v10").unwrap(),
        ))
        .unwrap();
        assert_send(discord.guilds("t"));
        fn assert_sync<T: Send + Sync + Clone>(_: &T) {}
        assert_sync(&discord);
        assert_sync(&client);
    }
}
