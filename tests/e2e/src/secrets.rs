//! The client secret as `infra/template.yaml` deploys it: in Secrets Manager (here the local moto server), the
//! functions given only its ARN (`MICROSOFT_APP_PASSWORD_SECRET_ARN`), never the secret in an env variable.

use crate::E2eError;

/// Moves `MICROSOFT_APP_PASSWORD` out of `vars` into a new secret on the local Secrets Manager at `endpoint`, and
/// puts its ARN and that endpoint (`AWS_ENDPOINT_URL_SECRETS_MANAGER`) in its place. Answers the ARN.
///
/// # Errors
/// [`E2eError::Secrets`] when `vars` has no password or the secret cannot be created.
pub async fn password_to_secrets_manager(
    vars: &mut Vec<(String, String)>,
    endpoint: &str,
    name: &str,
) -> Result<String, E2eError> {
    let at = vars
        .iter()
        .position(|(k, _)| k == "MICROSOFT_APP_PASSWORD")
        .ok_or_else(|| E2eError::Secrets("no MICROSOFT_APP_PASSWORD to move".to_owned()))?;
    let (_, password) = vars.remove(at);
    let created = client(endpoint)
        .await
        .create_secret()
        .name(name)
        .secret_string(password)
        .send()
        .await
        .map_err(|e| E2eError::Secrets(format!("create {name}: {e:?}")))?;
    let arn = created
        .arn()
        .ok_or_else(|| E2eError::Secrets(format!("create {name}: no ARN in the answer")))?
        .to_owned();
    vars.push(("MICROSOFT_APP_PASSWORD_SECRET_ARN".to_owned(), arn.clone()));
    vars.push(("AWS_ENDPOINT_URL_SECRETS_MANAGER".to_owned(), endpoint.to_owned()));
    Ok(arn)
}

/// A Secrets Manager client for the local server at `endpoint` (region and credentials from the environment).
pub async fn client(endpoint: &str) -> aws_sdk_secretsmanager::Client {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .load()
        .await;
    aws_sdk_secretsmanager::Client::new(&sdk)
}
