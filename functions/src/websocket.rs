//! The WebSocket route functions: one runtime loop per binary, the [`App`] built
//! once per container (with the hash key read from its secret, for the
//! functions that hash: [`run_hashing`], [`run_with_timers`]). Each invocation
//! runs in a span with its request id and ends with its metrics line
//! ([`crate::emf`]).
//!
//! The `@connections` endpoint is `CONNECTIONS_ENDPOINT` when set (the template
//! sets it), else derived from the first event's `domainName` and `stage`, then
//! kept for the container's life.

use std::sync::{Arc, OnceLock};

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use circle_shared::timers::TimerQueue;
use circle_shared::{ApiGatewayManagement, App};
use lambda_runtime::{Error, LambdaEvent, service_fn};

use crate::aws::{Base, env_var};

/// The environment variable that fixes the `@connections` endpoint.
pub const CONNECTIONS_ENDPOINT: &str = "CONNECTIONS_ENDPOINT";

/// A route function's state: clients built at start, the app once the endpoint is known.
pub struct WsFunction {
    base: Base,
    timers: Option<Arc<dyn TimerQueue>>,
    app: OnceLock<App>,
}

impl std::fmt::Debug for WsFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsFunction")
            .field("base", &self.base)
            .field("timers", &self.timers.is_some())
            .finish_non_exhaustive()
    }
}

impl WsFunction {
    /// Builds the app right away when `endpoint` is known, else on the first event.
    pub fn new(base: Base, endpoint: Option<String>, timers: Option<Arc<dyn TimerQueue>>) -> Self {
        let app = OnceLock::new();
        if let Some(endpoint) = endpoint {
            let _ = app.set(build_app(&base, &endpoint, timers.clone()));
        }
        Self { base, timers, app }
    }

    /// From the environment (see [`Base::from_env`] and [`CONNECTIONS_ENDPOINT`]).
    pub fn from_env() -> Self {
        Self::with_base(Base::from_env())
    }

    /// With `base` and the endpoint from the environment.
    pub fn with_base(base: Base) -> Self {
        Self::new(base, env_var(CONNECTIONS_ENDPOINT), None)
    }

    /// Like [`WsFunction::with_base`], with the SQS timer queue (`TIMER_QUEUE_URL`).
    /// Only the functions that schedule timers call this, so only they link SQS.
    pub fn with_base_and_timers(base: Base) -> Self {
        let timers =
            crate::timers::SqsTimers::from_env(&base).map(|t| Arc::new(t) as Arc<dyn TimerQueue>);
        if timers.is_none() {
            tracing::warn!("TIMER_QUEUE_URL is unset: held seats and rounds have no timer");
        }
        Self::new(base, env_var(CONNECTIONS_ENDPOINT), timers)
    }

    /// The app, when the endpoint was known at start.
    pub fn app(&self) -> Option<&App> {
        self.app.get()
    }

    /// The app, building it from the event's domain and stage on first use.
    pub fn app_for(&self, event: &ApiGatewayWebsocketProxyRequest) -> Result<&App, Error> {
        if let Some(app) = self.app.get() {
            return Ok(app);
        }
        let ctx = &event.request_context;
        let (Some(domain), Some(stage)) = (ctx.domain_name.as_deref(), ctx.stage.as_deref()) else {
            return Err(format!(
                "{CONNECTIONS_ENDPOINT} is unset and the event has no domainName/stage"
            )
            .into());
        };
        let endpoint = ApiGatewayManagement::endpoint_for(domain, stage);
        tracing::info!(
            endpoint,
            "@connections endpoint derived from the first event"
        );
        Ok(self
            .app
            .get_or_init(|| build_app(&self.base, &endpoint, self.timers.clone())))
    }
}

/// The app for a function whose `@connections` endpoint is `endpoint`.
pub fn build_app(base: &Base, endpoint: &str, timers: Option<Arc<dyn TimerQueue>>) -> App {
    let gateway = Arc::new(ApiGatewayManagement::new(&base.sdk_config, endpoint));
    let app = App::new(
        base.dynamodb.clone(),
        base.tables.clone(),
        gateway,
        Arc::new(circle_shared::clock::SystemClock),
        base.settings.clone(),
    );
    match timers {
        Some(t) => app.with_timers(t),
        None => app,
    }
}

/// Runs one function that hashes nothing (no hash key, no right to its
/// secret): `handler` is the shared handler for its `routes`.
pub async fn run<H>(routes: &'static [&'static str], handler: H) -> Result<(), Error>
where
    H: AsyncFn(&App, &ApiGatewayWebsocketProxyRequest) -> ApiGatewayProxyResponse,
{
    crate::logging::init();
    serve(WsFunction::from_env(), routes, handler).await
}

/// [`run`] for a function that hashes: the hash key is read at cold start.
pub async fn run_hashing<H>(routes: &'static [&'static str], handler: H) -> Result<(), Error>
where
    H: AsyncFn(&App, &ApiGatewayWebsocketProxyRequest) -> ApiGatewayProxyResponse,
{
    crate::logging::init();
    let base = Base::from_env().with_hash_key().await?;
    serve(WsFunction::with_base(base), routes, handler).await
}

/// [`run_hashing`] for a function that also schedules timers.
pub async fn run_with_timers<H>(routes: &'static [&'static str], handler: H) -> Result<(), Error>
where
    H: AsyncFn(&App, &ApiGatewayWebsocketProxyRequest) -> ApiGatewayProxyResponse,
{
    crate::logging::init();
    let base = Base::from_env().with_hash_key().await?;
    serve(WsFunction::with_base_and_timers(base), routes, handler).await
}

/// The binary that serves `routes` (the metrics' `Function`).
fn binary_of(routes: &[&str]) -> &'static str {
    crate::FUNCTIONS
        .iter()
        .find(|(route, _)| routes.contains(route))
        .map_or("ws-unknown", |(_, binary)| *binary)
}

/// One event through `handler`, as [`serve`] runs it: in a span with the
/// request id, answering the response and the invocation's EMF line (a
/// `join_group`'s with its latency).
pub async fn invoke<H>(
    app: &App,
    routes: &[&str],
    handler: &H,
    event: &ApiGatewayWebsocketProxyRequest,
    request_id: &str,
) -> (ApiGatewayProxyResponse, String)
where
    H: AsyncFn(&App, &ApiGatewayWebsocketProxyRequest) -> ApiGatewayProxyResponse,
{
    let join =
        event.request_context.route_key.as_deref() == Some(circle_shared::handlers::ws::JOIN_GROUP);
    let work = async {
        let got = event.request_context.route_key.as_deref();
        if !got.is_some_and(|g| routes.contains(&g)) {
            tracing::warn!(
                expected = ?routes,
                got,
                "event for another route; check the integration"
            );
        }
        handler(app, event).await
    };
    crate::emf::observe(app, binary_of(routes), request_id, join, work).await
}

async fn serve<H>(
    function: WsFunction,
    routes: &'static [&'static str],
    handler: H,
) -> Result<(), Error>
where
    H: AsyncFn(&App, &ApiGatewayWebsocketProxyRequest) -> ApiGatewayProxyResponse,
{
    let (function, handler) = (&function, &handler);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| async move {
            let payload = event.payload;
            let app = function.app_for(&payload)?;
            let (response, metrics) =
                invoke(app, routes, handler, &payload, &event.context.request_id).await;
            crate::emf::emit(&metrics);
            Ok::<_, Error>(response)
        },
    ))
    .await
}
