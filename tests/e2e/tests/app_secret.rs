//! The deployed functions read their client secret from Secrets Manager at cold start (`teams_bot::lambda`:
//! `Config::from_env`, then `App::build_with`; `MICROSOFT_APP_PASSWORD_SECRET_ARN`), against moto's Secrets
//! Manager: a secret that cannot be read stops the start with a reason that names the ARN (and never shows a
//! secret); a secret put after the start (the stack creates a placeholder, the operator puts the real one) is read
//! again when the token endpoint refuses the placeholder. Replies carrying a token got with the secret from its ARN
//! are also checked under cargo-lambda in `lambda_messages.rs` and `lambda_behind.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code")]

use aws_sdk_secretsmanager::primitives::Blob;
use e2e::{env, secrets};
use fake_teams::{FakeTeams, SeedTeam};
use service::{App, Config, Runtime, StartupError, TenantPacing};
use std::collections::HashMap;

const TEST: &str = "app_secret";

/// The Lambda configuration the template gives a function, with `arn` as the secret's ARN.
fn deployed_config(arn: &str) -> Config {
    let vars: HashMap<&str, &str> = [
        ("MICROSOFT_APP_ID", "00000000-0000-0000-0000-00000000b0b0"),
        ("MICROSOFT_APP_TENANT_ID", "11111111-1111-1111-1111-111111111111"),
        ("TABLE_NAME", "unused-by-this-test"),
        // Keys from a closed loopback port: the start only warns that it could not prefetch them.
        (
            "BOT_OPENID_METADATA_URL",
            "http://127.0.0.1:9/v1/.well-known/openidconfiguration",
        ),
        ("MICROSOFT_APP_PASSWORD_SECRET_ARN", arn),
    ]
    .into();
    Config::from_lookup(Runtime::Lambda, |k| vars.get(k).map(|v| (*v).to_owned())).unwrap()
}

#[tokio::test]
async fn an_unreadable_app_secret_stops_the_start_with_its_arn() {
    // The function reads the secret through the SDK's standard environment, as in Lambda.
    let Some(endpoint) = env::secrets_endpoint(TEST) else {
        return;
    };
    let client = secrets::client(&endpoint).await;

    // A readable secret: the app starts (the token itself is fetched on the first send).
    let name = env::unique("app-secret-ok");
    let created = client
        .create_secret()
        .name(&name)
        .secret_string("s3cret-value")
        .send()
        .await
        .unwrap();
    let config = deployed_config(created.arn().unwrap());
    assert!(
        App::build_with(&config, TenantPacing::Process, std::sync::Arc::new(service::api::NoBot))
            .await
            .is_ok()
    );

    // No such secret.
    let missing = format!(
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:{}",
        env::unique("gone")
    );
    let err = App::build_with(
        &deployed_config(&missing),
        TenantPacing::Process,
        std::sync::Arc::new(service::api::NoBot),
    )
    .await
    .map(|_| ())
    .unwrap_err();
    assert!(matches!(err, StartupError::Secret { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(&missing), "{text}");
    assert!(text.contains("ResourceNotFound"), "{text}");

    // A binary secret has no SecretString to use as the password.
    let name = env::unique("app-secret-binary");
    let created = client
        .create_secret()
        .name(&name)
        .secret_binary(Blob::new(b"binary-s3cret".to_vec()))
        .send()
        .await
        .unwrap();
    let arn = created.arn().unwrap().to_owned();
    let err = App::build_with(
        &deployed_config(&arn),
        TenantPacing::Process,
        std::sync::Arc::new(service::api::NoBot),
    )
    .await
    .map(|_| ())
    .unwrap_err();
    let text = err.to_string();
    assert!(text.contains(&arn) && text.contains("no SecretString"), "{text}");
    assert!(
        !text.contains("s3cret") && !format!("{err:?}").contains("s3cret"),
        "{text}"
    );
}

#[tokio::test]
async fn a_secret_put_after_the_start_is_used_once_the_placeholder_is_refused() {
    let Some(endpoint) = env::secrets_endpoint(TEST) else {
        return;
    };
    const TEAM: &str = "19:secret-team@thread.tacv2";
    let fake = FakeTeams::builder()
        .team(SeedTeam::new(TEAM, "Contoso"))
        .start()
        .await
        .unwrap();
    // The stack's secret starts as a generated placeholder.
    let client = secrets::client(&endpoint).await;
    let name = env::unique("app-secret-later");
    let created = client
        .create_secret()
        .name(&name)
        .secret_string("generated-placeholder")
        .send()
        .await
        .unwrap();
    let arn = created.arn().unwrap().to_owned();
    let mut vars: HashMap<String, String> = fake.env().into_iter().collect();
    vars.remove("MICROSOFT_APP_PASSWORD");
    vars.insert("MICROSOFT_APP_PASSWORD_SECRET_ARN".into(), arn.clone());
    vars.insert("TABLE_NAME".into(), "unused-by-this-test".into());
    vars.insert(
        "BOT_OPENID_METADATA_URL".into(),
        "http://127.0.0.1:9/v1/.well-known/openidconfiguration".into(),
    );
    let config = Config::from_lookup(Runtime::Lambda, |k| vars.get(k).cloned()).unwrap();
    let (app, _) = App::build_with(&config, TenantPacing::Process, std::sync::Arc::new(service::api::NoBot))
        .await
        .unwrap();

    // The operator puts the real secret while the instance is warm.
    client
        .put_secret_value()
        .secret_id(&arn)
        .secret_string(fake.app_password())
        .send()
        .await
        .unwrap();
    let details = app.connector.team_details(&fake.service_url(), TEAM).await.unwrap();
    assert_eq!(details.name.as_deref(), Some("Contoso"));
    assert_eq!(fake.token_fetches(), 1, "one token, got with the secret read again");
}
