//! The HTTP side: routing on the raw path, the record, auth, faults and pacing, then the state's answer.

use crate::faults::FaultAction;
use crate::state::{Answer, Route, State};
use crate::{RecordedCall, lock};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

type Shared = Arc<Mutex<State>>;

pub(crate) fn router(shared: Shared) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

/// The route and its decoded ids, from the method and the raw path.
fn route(method: &Method, path: &str) -> (Route, Vec<String>) {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
    if let [tenant, "oauth2", "v2.0", "token"] = segments.as_slice() {
        return if *method == Method::POST {
            (Route::Token, vec![decode(tenant)])
        } else {
            (Route::Unknown, vec![])
        };
    }
    // The meeting APIs live under the serviceUrl's `v1/` root.
    if let Some(v1) = segments.iter().position(|s| *s == "v1") {
        match (&segments[v1 + 1..], method) {
            (["meetings", m, "participants", p], &Method::GET) => {
                return (Route::MeetingParticipant, vec![decode(m), decode(p)]);
            }
            (["meetings", m], &Method::GET) => return (Route::MeetingInfo, vec![decode(m)]),
            _ => {}
        }
    }
    let Some(v3) = segments.iter().position(|s| *s == "v3") else {
        return (Route::Unknown, Vec::new());
    };
    let rest = &segments[v3 + 1..];
    let m = method.clone();
    let (route, ids): (Route, Vec<&str>) = match (rest, m) {
        (["conversations"], Method::POST) => (Route::CreateConversation, vec![]),
        (["conversations", c, "activities"], Method::POST) => (Route::SendToConversation, vec![c]),
        (["conversations", c, "activities", a], Method::POST) => (Route::ReplyToActivity, vec![c, a]),
        (["conversations", c, "activities", a], Method::PUT) => (Route::UpdateActivity, vec![c, a]),
        (["conversations", c, "activities", a], Method::DELETE) => (Route::DeleteActivity, vec![c, a]),
        (["conversations", c, "members"], Method::GET) => (Route::GetMembers, vec![c]),
        (["conversations", c, "pagedmembers"], Method::GET) => (Route::GetPagedMembers, vec![c]),
        (["conversations", c, "members", u], Method::GET) => (Route::GetMember, vec![c, u]),
        (["teams", t], Method::GET) => (Route::TeamDetails, vec![t]),
        (["teams", t, "conversations"], Method::GET) => (Route::TeamChannels, vec![t]),
        (["batch", "conversation", "users"], Method::POST) => (Route::BatchUsers, vec![]),
        (["batch", "conversation", "tenant"], Method::POST) => (Route::BatchTenant, vec![]),
        (["batch", "conversation", "team"], Method::POST) => (Route::BatchTeam, vec![]),
        (["batch", "conversation", "channels"], Method::POST) => (Route::BatchChannels, vec![]),
        (["batch", "conversation", "failedentries", o], Method::GET) => (Route::BatchFailedEntries, vec![o]),
        (["batch", "conversation", o], Method::GET) => (Route::BatchState, vec![o]),
        (["batch", "conversation", o], Method::DELETE) => (Route::BatchCancel, vec![o]),
        _ => (Route::Unknown, vec![]),
    };
    (route, ids.into_iter().map(decode).collect())
}

fn form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn respond(answer: Answer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = match answer.body {
        Some(b) => (status, axum::Json(b)).into_response(),
        None => status.into_response(),
    };
    if let Some(ra) = answer.retry_after.and_then(|v| HeaderValue::from_str(&v).ok()) {
        resp.headers_mut().insert(header::RETRY_AFTER, ra);
    }
    resp
}

async fn handle(
    AxState(shared): AxState<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let (route, ids) = route(&method, &path);
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = String::from_utf8_lossy(&body);
    let parsed_body = if route == Route::Token {
        let mut f = form(&body);
        if f.contains_key("client_secret") {
            f.insert("client_secret".to_owned(), "<redacted>".to_owned());
        }
        Some(json!(f))
    } else {
        serde_json::from_slice::<Value>(&body).ok()
    };
    let query: HashMap<String, String> = uri.query().map(|q| form(q.as_bytes())).unwrap_or_default();

    // Record first, so a call whose answer never arrives is still on the record.
    let (index, fault_delay) = {
        let mut s = lock(&shared);
        let call = RecordedCall {
            method: method.to_string(),
            path: path.clone(),
            query: uri.query().map(str::to_owned),
            route,
            ids,
            body: parsed_body,
            body_utf16: text.encode_utf16().count(),
            auth_present: authorization.is_some(),
            auth_valid: s.token_valid(authorization.as_deref()),
            status: 0,
            at: std::time::Instant::now(),
        };
        s.calls.push(call.clone());
        let index = s.calls.len() - 1;
        let early = match route {
            Route::Token => Some(s.token(call.ids.first().map(String::as_str).unwrap_or_default(), &form(&body))),
            Route::Unknown => Some(Answer::error(404, "NotFound", "No such endpoint.")),
            _ if !s.options.anonymous && !call.auth_valid => Some(Answer {
                status: 401,
                body: Some(json!({"message": "Authorization has been denied for this request."})),
                retry_after: None,
            }),
            _ => None,
        };
        if let Some(a) = early {
            s.calls[index].status = a.status;
            return respond(a);
        }
        let mut delay = None;
        let mut answer = None;
        if let Some(f) = s.faults.iter_mut().find(|f| f.matches(&call)) {
            if let Some(n) = f.remaining.as_mut() {
                *n -= 1;
            }
            match &f.action {
                FaultAction::Status {
                    status,
                    retry_after,
                    code,
                    message,
                } => {
                    let mut a = Answer::error(*status, code, message);
                    a.retry_after.clone_from(retry_after);
                    answer = Some(a);
                }
                FaultAction::Delay(d) => delay = Some(*d),
            }
        }
        s.faults.retain(|f| f.remaining != Some(0));
        let answer = answer
            .or_else(|| s.pace(&call))
            .unwrap_or_else(|| s.connector(&call, &query));
        s.calls[index].status = answer.status;
        ((index, answer), delay)
    };
    let (index, answer) = index;
    if let Some(d) = fault_delay {
        tracing::debug!(index, ?d, "fake Teams: delaying the answer");
        tokio::time::sleep(d).await;
    }
    respond(answer)
}
