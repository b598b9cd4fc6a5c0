//! The fan-out benchmark: a roster welcome to every member of a 1,000-member team against the fake Teams service
//! enforcing Teams' per-conversation limits plus a per-tenant limit of 50 requests/s, through exactly the code
//! the devserver runs: `App::build` (embedded store, `WELCOME_ROSTER=true`, the real `HttpConnector` paced by
//! `InProcessRateLimiter` at `tenant_requests_per_second = 50`), the team-install claim written to the store, and
//! `service::background::run_change_feed` turning the store's change events into `welcome::team` (team welcome,
//! paged roster, 1,000 first-contact claims) and `welcome::first_contact` (create-or-get the 1:1, then send).
//!
//! Measured: every Connector request the fake received (token requests excluded) and its status, from the first
//! request to the last welcome; the achieved rate as a share of the limit; 429s; members with no welcome in
//! their 1:1 (lost) or more than one (duplicates). Bounded: BENCH_FANOUT_MEMBERS (1000), BENCH_FANOUT_LIMIT
//! (50/s), at most BENCH_FANOUT_SECONDS (180) of waiting. Prints numbers; asserts nothing on time.

use anyhow::Context as _;
use fake_teams::openid::OpenIdServer;
use fake_teams::{DEFAULT_TENANT, FakeTeams, Route, SeedTeam};
use models::{ChannelAccount, ConversationId, TenantId};
use service::{App, Config, Runtime};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use store::{TeamInstall, Timestamp};

const TEAM_ID: &str = "19:bench-fanout-team@thread.skype";

fn num(name: &str, default: u64) -> anyhow::Result<u64> {
    match std::env::var(name).ok().filter(|v| !v.trim().is_empty()) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .with_context(|| format!("{name}: `{v}` is not a number")),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let members = usize::try_from(num("BENCH_FANOUT_MEMBERS", 1000)?)?;
    let limit = num("BENCH_FANOUT_LIMIT", 50)?;
    // Our pacer's rate (default: the limit, as a deployment would configure it).
    let pace = num("BENCH_FANOUT_PACE", limit)?;
    let max_wait = Duration::from_secs(num("BENCH_FANOUT_SECONDS", 180)?);

    let openid = OpenIdServer::new();
    let mut team = SeedTeam::new(TEAM_ID, "Fan-out Team");
    let mut ids = Vec::with_capacity(members);
    for i in 0..members {
        let id = format!("29:1fanout-{i:04}");
        team = team.member(FakeTeams::member(
            &id,
            &format!("Member {i}"),
            &format!("aad-fanout-{i:04}"),
        ));
        ids.push(id);
    }
    let fake = FakeTeams::builder()
        .with_router(openid.router())
        .tenant_limit(usize::try_from(limit)?)
        .team(team)
        .start()
        .await?;

    let state = std::env::temp_dir().join(format!("bench-fanout-{}", std::process::id()));
    std::fs::create_dir_all(&state)?;
    let mut env: HashMap<String, String> = fake.env().into_iter().collect();
    env.insert(
        "BOT_OPENID_METADATA_URL".into(),
        OpenIdServer::metadata_url(fake.addr()),
    );
    env.insert("STATE_PATH".into(), state.join("state.redb").display().to_string());
    env.insert("WELCOME_ROSTER".into(), "true".into());
    let mut config = Config::from_lookup(Runtime::Devserver, |k| env.get(k).cloned())?;
    config.connector.tenant_requests_per_second = Some(u32::try_from(pace)?);
    let (app, changes) = App::build(&config, std::sync::Arc::new(reference_bot::ReferenceBot)).await?;
    let changes = changes.context("the embedded store answers change events")?;
    tokio::spawn(service::background::run_change_feed(app.clone(), changes));
    fake.clear_calls();

    println!(
        "fan-out benchmark: roster welcome of {members} members, tenant limit {limit} requests/s at the fake \
         (and Teams' per-conversation limits); our pacer at {pace}/s"
    );
    let install = TeamInstall {
        team_id: TEAM_ID.into(),
        team_name: Some("Fan-out Team".into()),
        tenant_id: TenantId::from(DEFAULT_TENANT),
        service_url: fake.service_url(),
        conversation_id: ConversationId::from(TEAM_ID),
        bot: ChannelAccount {
            id: app.identity.id.clone(),
            name: Some(app.identity.name.clone()),
            ..ChannelAccount::default()
        },
        installed_by: None,
        claimed_at: Timestamp::now(),
    };
    let t0 = Instant::now();
    app.store.claim_team_install(&install, Timestamp::now()).await?;

    // Wait until every member's welcome was sent, or nothing has moved for 20 s, or the bound passed.
    let (mut last_count, mut last_change) = (0usize, Instant::now());
    let mut done_at = None;
    while t0.elapsed() < max_wait {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let sends = fake
            .calls_to(Route::SendToConversation)
            .iter()
            .filter(|c| c.status == 200 || c.status == 201)
            .count();
        if sends != last_count {
            (last_count, last_change) = (sends, Instant::now());
        }
        // The team welcome (General channel) plus one per member.
        if sends > members {
            done_at = Some(t0.elapsed());
            break;
        }
        if last_change.elapsed() > Duration::from_secs(20) {
            break;
        }
    }
    // Let stragglers (duplicates, retries) land before counting.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let elapsed = done_at.unwrap_or_else(|| t0.elapsed());

    let calls: Vec<_> = fake
        .calls()
        .into_iter()
        .filter(|c| !matches!(c.route, Route::Token | Route::Unknown))
        .collect();
    let throttled = calls.iter().filter(|c| c.status == 429).count();
    let mut by_route: HashMap<String, usize> = HashMap::new();
    for c in &calls {
        *by_route.entry(format!("{:?}", c.route)).or_default() += 1;
    }
    let (mut lost, mut duplicated) = (0usize, 0usize);
    for id in &ids {
        let conv = fake.personal_conversation(DEFAULT_TENANT, id).unwrap_or_default();
        let welcomes = fake
            .activities(&conv)
            .iter()
            .filter(|a| a.activity["text"].as_str().is_some_and(|t| t.starts_with("Welcome")))
            .count();
        match welcomes {
            0 => lost += 1,
            1 => {}
            _ => duplicated += 1,
        }
    }
    let team_welcomes = fake
        .activities(TEAM_ID)
        .iter()
        .filter(|a| a.activity["text"].as_str().is_some_and(|t| t.starts_with("Welcome")))
        .count();
    let rate = calls.len() as f64 / elapsed.as_secs_f64().max(1e-9);
    let accepted_rate = (calls.len() - throttled) as f64 / elapsed.as_secs_f64().max(1e-9);
    // The sending window, as Teams sees it: first arrival to last, and the busiest 1-second window.
    let mut arrivals: Vec<Instant> = calls.iter().map(|c| c.at).collect();
    arrivals.sort();
    let sending = match (arrivals.first(), arrivals.last()) {
        (Some(a), Some(b)) => b.duration_since(*a),
        _ => Duration::ZERO,
    };
    let sending_rate = arrivals.len().saturating_sub(1) as f64 / sending.as_secs_f64().max(1e-9);
    let busiest = fake_teams::busiest_second(&arrivals);
    // Which pace key each request had in our client: the tenant id when the request names one, else the
    // serviceUrl's host.
    let named = |c: &&&fake_teams::RecordedCall| {
        c.body.as_ref().is_some_and(|b| {
            b.pointer("/conversation/tenantId").is_some()
                || b.pointer("/tenantId").is_some()
                || b.pointer("/channelData/tenant/id").is_some()
        })
    };
    for route in [Route::CreateConversation, Route::SendToConversation] {
        let of_route: Vec<_> = calls.iter().filter(|c| c.route == route).collect();
        println!(
            "{route:?}: {} of {} requests name the tenant in their body",
            of_route.iter().filter(named).count(),
            of_route.len()
        );
    }
    let mut routes: Vec<_> = by_route.into_iter().collect();
    routes.sort();
    println!("Connector requests: {} ({routes:?})", calls.len());
    println!(
        "elapsed (claim to last welcome): {:.1} s{}",
        elapsed.as_secs_f64(),
        if done_at.is_none() { " (NOT COMPLETE)" } else { "" }
    );
    println!();
    println!("| fan-out ({members} members, limit {limit}/s) | value |");
    println!("| --- | --- |");
    println!(
        "| achieved rate | {rate:.1} requests/s = {:.1}% of the limit |",
        100.0 * rate / limit as f64
    );
    println!(
        "| accepted rate (429s excluded) | {accepted_rate:.1} requests/s = {:.1}% of the limit |",
        100.0 * accepted_rate / limit as f64
    );
    println!(
        "| rate while sending (first arrival to last, {:.1} s) | {sending_rate:.1} requests/s = {:.1}% of the limit |",
        sending.as_secs_f64(),
        100.0 * sending_rate / limit as f64
    );
    println!("| busiest 1-second window at the fake | {busiest} requests |");
    println!("| 429s received | {throttled} |");
    println!("| members never welcomed (lost) | {lost} |");
    println!("| members welcomed more than once (duplicates) | {duplicated} |");
    println!("| team welcomes in General | {team_welcomes} |");
    let _ = std::fs::remove_dir_all(&state);
    Ok(())
}
